# A command tag counts the rows a statement changed, stored or skipped (`INSERT 0 5353`, `UPDATE 5353`,
# `MOVE 5353`) without sending any. Rows chosen by relating a masked column to another value (`WHERE g <=
# split_part(ssn, '-', 3)::int`) make that number of the masked value, as a count(*) of them is, which a
# result masks. Sent as rows, they come back masked and row budgets count them; a tag is neither. A
# column compared with a constant only (`WHERE ssn = '...'`) is not in row_count_inputs: which rows match
# says what a SELECT of them says.
package regate

deny contains "a statement that sends no rows may not report a count of rows chosen by a masked column's value" if {
	some s in statements
	count(s.outputs) == 0
	some c in s.row_count_inputs
	reads_masked_column(c)
}

deny contains "a statement that sends no rows reports a count of rows chosen in a way regate cannot follow, reading a table with masked columns" if {
	some s in statements
	count(s.outputs) == 0
	s.row_count_unknown
	some t in s.tables
	touches_masked_table(t)
}

next_steps contains "send the rows instead (RETURNING, or FETCH rather than MOVE): they come back masked and row budgets count them; or choose the rows without relating them to a masked column" if {
	some r in deny
	startswith(r, "a statement that sends no rows ")
}
