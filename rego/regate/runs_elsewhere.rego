# Code and rows the statement's text does not show: the function or operator the search_path picks
# (a body regate never sees), and the rows EXPLAIN ANALYZE counts while it runs the statement.
package regate

# Unqualified, a call runs whichever function of that name the search_path and argument types pick:
# get_ssn(2) is public.get_ssn(2), refused in postgres.rego when spelt so. The catalog lists every schema holding
# one (candidates); any but pg_catalog may be the one that runs, with a body regate never sees.
deny contains msg if {
	some s in statements
	some f in s.functions
	f.schema == null
	some schema in f.candidates
	schema != "pg_catalog"
	msg := concat("", ["function ", f.name, " may resolve to ", schema, ".", f.name, ", which is not allowed"])
}

# An operator is a function call too: `1 === 1` ran a public function returning an internal.* secret, spelt
# `OPERATOR(public.===)` as well. Operator names of pg_catalog (PostgreSQL 18's pg_operator) are allowed,
# unqualified or qualified with pg_catalog; any other name, or schema, is refused. Known gap: a function
# another schema defines for a built-in name (`public.+ (text, int)`) is picked by argument types unseen.
builtin_operators := {
	"!!", "!~", "!~*", "!~~", "!~~*", "#", "##", "#-", "#>", "#>>", "%", "&", "&&", "&<", "&<|",
	"&>", "*", "*<", "*<=", "*<>", "*=", "*>", "*>=", "+", "-", "->", "->>", "-|-", "/", "<", "<->",
	"<<", "<<=", "<<|", "<=", "<>", "<@", "<^", "=", ">", ">=", ">>", ">>=", ">^", "?", "?#", "?&",
	"?-", "?-|", "?|", "?||", "@", "@-@", "@>", "@?", "@@", "@@@", "^", "^@", "|", "|&>", "|/", "|>>",
	"||", "||/", "~", "~*", "~<=~", "~<~", "~=", "~>=~", "~>~", "~~", "~~*",
}

deny contains msg if {
	some s in statements
	some op in s.operators
	not trim_prefix(op, "pg_catalog.") in builtin_operators
	msg := concat("", ["operator ", op, " is not allowed: it is not one of PostgreSQL's built-in operators"])
}

# EXPLAIN ANALYZE runs the statement and prints how many rows each step chose (`actual rows=607`): numbers
# made of whatever chose the rows, as count(*) is, which masking cannot reach inside the plan's text. The
# plan's lineage (outputs) names what it is made of.
deny contains "EXPLAIN ANALYZE of a statement that reads masked columns is not allowed: its plan counts the rows they choose" if {
	some s in statements
	s.explain_analyze
	some o in s.outputs
	some c in o.lineage
	reads_masked_column(c)
}

next_steps contains "use EXPLAIN without ANALYZE for the plan, or run the statement itself: its masked values come back masked" if {
	"EXPLAIN ANALYZE of a statement that reads masked columns is not allowed: its plan counts the rows they choose" in deny
}

next_steps contains "call built-in functions (pg_catalog) only: functions of other schemas run code regate cannot inspect" if {
	some r in deny
	startswith(r, "function ")
	contains(r, " may resolve to ")
}
