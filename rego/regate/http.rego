# HTTP rules of the example policy
# GET is allowed, DELETE denied (but the end of an MCP session: http.mcp_session_end says the upstream
# issued that session to this agent at this path), a request to or under /refunds that could run it (any
# method but a bodiless GET, HEAD or OPTIONS) needs a human, PII fields are masked.
# req.method is the method the upstream executes (overrides included) and req.parsed_path the canonical
# path (dot segments resolved, slashes merged, no trailing slash): match on these, never on raw_path, and
# compare segments as the upstream routes them (route_name).
package regate

req := input.http if input.kind == "http"

deny contains "DELETE requests are not allowed" if {
	req.method == "DELETE"
	not req.mcp_session_end
}

deny contains msg if {
	not req.method in {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"}
	msg := concat("", ["method ", req.method, " is not allowed"])
}

deny contains "request body could not be parsed" if req.body_parse_error

# On every method: Express's express.json() and Go handlers read a GET's body too (a JSON-RPC call in it).
deny contains "request body is larger than regate inspects, or nested deeper" if req.truncated_body

# Anywhere under /refunds: `POST /refunds/{id}` (Go's ServeMux, Express's /refunds/:id) runs a refund too.
approve contains "refunds need approval" if {
	can_run_handler
	some segment in req.parsed_path
	route_name(segment) == "refunds"
}

# Not only POST: a Django function view (or a Flask route listing several methods) runs for whatever method
# the request line names, and reads the body on a GET, HEAD or OPTIONS too. Only a bodiless read is left out.
can_run_handler if not req.method in {"GET", "HEAD", "OPTIONS"}

can_run_handler if req.body_size > 0

# A path segment as common frameworks route it: case folded (Express and ASP.NET match routes regardless of
# case by default) and without a format suffix (Rails routes /refunds.json to /refunds). Match on this, not
# on the segment as sent, wherever the upstream may route that way.
route_name(segment) := split(lower(segment), ".")[0]

mcp_calls contains req.mcp if req.mcp

mcp_calls contains call if {
	some call in req.mcp_batch
}

mask contains {"field": field, "strategy": strategy} if {
	req
	some field, strategy in {"email": "partial", "phone": "redact", "ssn": "redact", "card_number": "partial"}
}

# MCP tools answer in prose as often as in JSON ("Customer record: {...}", "email=... ssn=..."), and field
# rules find keys only in JSON documents: in MCP answers these values are also found by their shape.
mask contains {"detector": detector, "strategy": strategy} if {
	mcp_traffic
	some detector, strategy in {"email": "partial", "ssn": "redact", "card": "partial"}
}

# A route the operator declares an MCP server (http.routes[].mcp) answers in MCP everywhere: a GET event
# stream of notifications with no session regate booked, or a message regate did not read as MCP.
mcp_traffic if count(mcp_calls) > 0

mcp_traffic if req.route.mcp
