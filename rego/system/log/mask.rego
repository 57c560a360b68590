# Erases or rewrites fields of the logged input before a decision log line is written,
# with the semantics of OPA's system.log.mask: a string is a JSON pointer to erase, an object
# {"op": "upsert", "path": ..., "value": ...} sets a value. `input` here is the decision event.
# METADATA
# description: The input here is a decision-log event ({input, result, decision_id}), not a request.
# schemas:
#   - input: {"type": "object"}
package system.log

import data.regate

# Bind parameters of statements on tables with PII may carry that PII: keep them out of logs.
mask contains "/input/postgres/parameters" if {
	some s in input.input.postgres.statements
	some t in s.tables
	regate.touches_masked_table(t)
}

# The SQL text of such a statement may carry the PII as a literal (WHERE ssn = '...'): when it has a quote or a
# dollar quote, log the statement's facts without its text.
mask contains {"op": "upsert", "path": concat("", ["/input/postgres/statements/", format_int(i, 10), "/sql"]), "value": "[erased by system.log.mask]"} if {
	some i, s in input.input.postgres.statements
	some t in s.tables
	regate.touches_masked_table(t)
	has_literal(s.sql)
}

has_literal(sql) if contains(sql, "'")

has_literal(sql) if regex.match(`\$[A-Za-z_]*\$`, sql)

# Request bodies sent to customer endpoints: log that there was one, not what it said.
mask contains {"op": "upsert", "path": "/input/http/parsed_body", "value": "[erased by system.log.mask]"} if {
	input.input.http.parsed_body
	"customers" in input.input.http.parsed_path
}
