# METADATA
# description: The input here is a decision-log event, not a request.
# schemas:
#   - input: {"type": "object"}
package system.log

mask contains "/input/http/parsed_body" if input.input.kind == "http"
