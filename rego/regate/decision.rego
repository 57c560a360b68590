# METADATA
# title: regate example policy
# description: |
#   The one decision entrypoint. Adapter-specific rules live in postgres.rego and http.rego;
#   they contribute to the deny, approve and mask sets below. Precedence (docs/policy.md):
#   any deny reason wins, then approve, then allow; masks ride along with allow and approve.
package regate

# The decision document; its shape is testdata/schemas/decision.schema.json.
decision := object.union(
	object.union(
		{
			"allow": count(deny) == 0,
			"deny": sort([r | some r in deny]),
			"mask": mask_list,
		},
		approval,
	),
	object.union(reuse, next),
)

# What the agent can do next, for the reasons it is shown (docs/policy.md, "Refusals an agent can act on").
next := {"next_step": concat("; ", sort([n | some n in next_steps]))} if {
	count(deny) > 0
	count(next_steps) > 0
} else := {}

# The Postgres rules read only the statement's facts: never parameter values, the clock or budgets.
# So a Postgres decision may be reused for the same facts (docs/policy.md, "Decision reuse"). A rule
# that starts reading input.time, parameters or input.budget must take that part out of "across".
# Nor do they read the constants in a statement's text, with one exception: a write without WHERE
# hidden inside another statement is named from the text (where_less_kind), so that decision is not
# reused across constants.
# The HTTP rules read only input.http (method, canonical path, body facts, MCP calls): never the clock
# or the request's own identity (session id, start time, client port), so an HTTP decision may be
# reused for an identical request. A rule that reads input.time or input.session.id must drop that part.
reuse := {"cache": {"ttl_seconds": 60, "across": ["time", "parameters", "budget", "constants"]}} if {
	input.kind == "postgres"
	not worded_from_text
} else := {"cache": {"ttl_seconds": 60, "across": ["time", "parameters", "budget"]}} if {
	input.kind == "postgres"
} else := {"cache": {"ttl_seconds": 60, "across": ["time", "request"]}} if {
	input.kind == "http"
} else := {}

worded_from_text if {
	some s in input.postgres.statements
	s.has_where == false
	not s.kind in {"update", "delete"}
}

# The approval's terms (docs/approvals.md). A held Postgres write keeps the agent's session and transaction
# in place while a DBA looks (at most 45 s, then "still pending": re-run once approved); an HTTP refund is
# deferred: the agent is answered at once and re-sends the identical request once finance approved it.
approval := {"approve": object.union(
	{
		"reason": concat("; ", sort([r | some r in approve])),
		"timeout_seconds": 300,
		"grant_seconds": 600,
		"min": 1,
		"reason_required": false,
	},
	approval_terms,
)} if {
	count(approve) > 0
} else := {}

approval_terms := {"mode": "hold", "hold_max_seconds": 45, "approvers": ["dba-oncall"]} if {
	input.kind == "postgres"
} else := {"mode": "defer", "approvers": ["finance"]}

# A set, so the same mask rule from two rules appears once; sets iterate in sorted order.
mask_list := [m | some m in mask]

deny contains "unknown input kind" if not input.kind in {"postgres", "http"}
