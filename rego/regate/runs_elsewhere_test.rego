# Code and rows that run somewhere the statement's own text does not show: a function the search_path
# picks, the rows EXPLAIN ANALYZE counts.
package regate_test

import data.regate

explain_analyze(lineage) := stmt({
	"kind": "explain", "node": "ExplainStmt", "explain_analyze": true,
	"tables": [table("public", "customers", "read")],
	"outputs": [{"name": "QUERY PLAN", "lineage": lineage, "derived": true, "unknown": false}],
})

call(f) := stmt({"functions": [object.union({"schema": null, "name": "get_ssn", "inputs": [], "inputs_unknown": false, "volatility": "volatile"}, f)]})

test_explain_analyze_counting_masked_rows_denied if {
	d := regate.decision with input as pg([explain_analyze([column("public", "customers", "id"), column("public", "customers", "ssn")])])
	not d.allow
	"EXPLAIN ANALYZE of a statement that reads masked columns is not allowed: its plan counts the rows they choose" in d.deny
	contains(d.next_step, "use EXPLAIN without ANALYZE")
}

test_explain_analyze_whole_row_denied if {
	d := regate.decision with input as pg([explain_analyze([column("public", "customers", "*")])])
	not d.allow
}

test_explain_analyze_of_unmasked_columns_allowed if {
	d := regate.decision with input as pg([explain_analyze([column("public", "customers", "id"), column("public", "customers", "full_name")])])
	d.allow
}

test_plain_explain_allowed if {
	s := object.union(explain_analyze([]), {"explain_analyze": false})
	d := regate.decision with input as pg([s])
	d.allow
}

test_unqualified_function_of_another_schema_denied if {
	d := regate.decision with input as pg([call({"candidates": ["public"]})])
	not d.allow
	"function get_ssn may resolve to public.get_ssn, which is not allowed" in d.deny
	contains(d.next_step, "call built-in functions (pg_catalog) only")
}

test_unqualified_function_shadowing_a_builtin_denied if {
	d := regate.decision with input as pg([call({"name": "lower", "candidates": ["pg_catalog", "public"], "volatility": "immutable"})])
	"function lower may resolve to public.lower, which is not allowed" in d.deny
}

test_unqualified_builtin_allowed if {
	d := regate.decision with input as pg([call({"name": "lower", "candidates": ["pg_catalog"], "volatility": "immutable"})])
	d.allow
}

test_function_without_catalog_facts_allowed if {
	d := regate.decision with input as pg([call({"name": "lower", "volatility": "immutable"})])
	d.allow
}

test_operator_of_another_schema_denied if {
	d := regate.decision with input as pg([stmt({"operators": ["public.==="]})])
	"operator public.=== is not allowed: it is not one of PostgreSQL's built-in operators" in d.deny
}

test_operator_not_built_in_denied if {
	d := regate.decision with input as pg([stmt({"operators": ["=", "==="]})])
	"operator === is not allowed: it is not one of PostgreSQL's built-in operators" in d.deny
}

test_built_in_operators_allowed if {
	d := regate.decision with input as pg([stmt({"operators": ["=", "~~", "->>", "pg_catalog.~", "@>", "||"]})])
	d.allow
}

test_pg_catalog_qualified_unknown_operator_denied if {
	d := regate.decision with input as pg([stmt({"operators": ["pg_catalog.==="]})])
	not d.allow
}
