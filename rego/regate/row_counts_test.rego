# Command tags that count rows chosen by a masked column's value.
package regate_test

import data.regate

counted(kind, inputs, extra) := stmt(object.union(
	{
		"kind": kind, "writes": kind != "fetch",
		"tables": [table("public", "orders", "write"), table("public", "customers", "read")],
		"row_count_inputs": inputs, "row_count_unknown": false,
	},
	extra,
))

ssn_rows := [column("public", "orders", "id"), column("public", "customers", "ssn")]

count_refusal := "a statement that sends no rows may not report a count of rows chosen by a masked column's value"

test_insert_counting_rows_chosen_by_a_masked_value_denied if {
	d := regate.decision with input as pg([counted("insert", ssn_rows, {"has_where": null})])
	not d.allow
	count_refusal in d.deny
	contains(d.next_step, "RETURNING")
}

test_move_counting_rows_chosen_by_a_masked_value_denied if {
	d := regate.decision with input as pg([counted("fetch", ssn_rows, {"tables": [table("public", "customers", "read")]})])
	not d.allow
	count_refusal in d.deny
}

test_rows_sent_are_masked_and_budgeted_instead if {
	out := {"name": "id", "lineage": ssn_rows, "derived": true, "unknown": false}
	d := regate.decision with input as pg([counted("update", ssn_rows, {"has_where": true, "outputs": [out]})])
	not count_refusal in d.deny
}

test_rows_chosen_by_ids_allowed if {
	d := regate.decision with input as pg([counted("update", [column("public", "orders", "customer_id"), column("public", "customers", "id")], {"has_where": true})])
	d.allow
}

test_unknown_row_count_over_masked_table_denied if {
	d := regate.decision with input as pg([counted("delete", [], {"has_where": true, "row_count_unknown": true})])
	not d.allow
	contains(concat(" ", d.deny), "rows chosen in a way regate cannot follow")
}

test_unknown_row_count_without_masked_tables_allowed if {
	s := counted("delete", [], {"has_where": true, "row_count_unknown": true, "tables": [table("public", "orders", "write")]})
	d := regate.decision with input as pg([s])
	d.allow
}

# A decision log from a regate without row counts (regate whatif) is judged as before.
test_facts_without_row_counts_judged_as_before if {
	s := object.remove(counted("update", ssn_rows, {"has_where": true}), ["row_count_inputs", "row_count_unknown"])
	d := regate.decision with input as pg([s])
	not count_refusal in d.deny
}
