package regate_test

import data.regate

# Facts of a statement that names an inheritance child or a partition, as regate's catalog gives them: the child
# with `inherits`, and each ancestor listed beside it with the same access and `descendant`.
child(schema, name, access, ancestors) := object.union(table(schema, name, access), {"inherits": [{"schema": a[0], "name": a[1]} | some a in ancestors]})

ancestor(schema, name, access, of) := object.union(table(schema, name, access), {"descendant": {"schema": of[0], "name": of[1]}})

archive_read := [
	child("public", "customers_archive", "read", [["public", "customers"]]),
	ancestor("public", "customers", "read", ["public", "customers_archive"]),
]

test_child_of_customers_masked_as_customers if {
	d := regate.decision with input as pg([stmt({"tables": archive_read})])
	d.allow
	{"column": "public.customers.ssn", "strategy": "redact"} in d.mask
	{"column": "public.customers.card_number", "strategy": "partial"} in d.mask
}

test_copy_of_child_of_customers_denied if {
	s := stmt({"kind": "copy", "tables": archive_read, "copy": {"direction": "to", "target": "stdio", "query": false}})
	d := regate.decision with input as pg([s])
	"COPY of tables with masked columns is not allowed" in d.deny
}

test_partition_of_internal_table_denied if {
	tables := [
		child("public", "audit_log_2024_01", "read", [["public", "audit_log_2024"], ["internal", "audit_log"]]),
		ancestor("public", "audit_log_2024", "read", ["public", "audit_log_2024_01"]),
		ancestor("internal", "audit_log", "read", ["public", "audit_log_2024_01"]),
	]
	d := regate.decision with input as pg([stmt({"tables": tables})])
	"internal.* is never accessible" in d.deny
}

test_write_to_child_of_customers_denied if {
	tables := [
		child("public", "customers_archive", "write", [["public", "customers"]]),
		ancestor("public", "customers", "write", ["public", "customers_archive"]),
	]
	d := regate.decision with input as pg([stmt({"kind": "update", "tables": tables, "has_where": true, "writes": true})])
	"writing public.customers is not allowed" in d.deny
}

test_write_to_child_of_payments_needs_approval if {
	tables := [
		child("public", "payments_archive", "write", [["public", "payments"]]),
		ancestor("public", "payments", "write", ["public", "payments_archive"]),
	]
	d := regate.decision with input as pg([stmt({"kind": "update", "tables": tables, "has_where": true, "writes": true})])
	d.deny == []
	d.approve.reason == "writes to public.payments need approval"
}

test_write_to_partition_of_orders_allowed_as_orders if {
	tables := [
		child("public", "orders_2024", "write", [["public", "orders"]]),
		ancestor("public", "orders", "write", ["public", "orders_2024"]),
	]
	d := regate.decision with input as pg([stmt({"kind": "insert", "tables": tables, "writes": true})])
	d.allow
}

# A child of orders that also inherits from customers holds customers rows too.
test_write_to_child_of_orders_and_customers_denied if {
	tables := [
		child("public", "mixed", "write", [["public", "orders"], ["public", "customers"]]),
		ancestor("public", "orders", "write", ["public", "mixed"]),
		ancestor("public", "customers", "write", ["public", "mixed"]),
	]
	d := regate.decision with input as pg([stmt({"kind": "insert", "tables": tables, "writes": true})])
	"writing public.customers is not allowed" in d.deny
}

test_child_of_a_table_the_agent_may_not_write_is_not_writable if {
	tables := [
		child("public", "events_2024_01", "write", [["public", "events"]]),
		ancestor("public", "events", "write", ["public", "events_2024_01"]),
	]
	d := regate.decision with input as pg([stmt({"kind": "insert", "tables": tables, "writes": true})])
	"writing public.events_2024_01 is not allowed" in d.deny
	"writing public.events is not allowed" in d.deny
}

# A sub-partition of orders (orders_2025_h1 of orders_2025 of orders): the middle level is listed as an ancestor with
# its own ancestors in inherits, so it is written as orders is.
test_write_to_sub_partition_of_orders_allowed_as_orders if {
	tables := [
		child("public", "orders_2025_h1", "write", [["public", "orders_2025"], ["public", "orders"]]),
		object.union(ancestor("public", "orders_2025", "write", ["public", "orders_2025_h1"]), {"inherits": [{"schema": "public", "name": "orders"}]}),
		ancestor("public", "orders", "write", ["public", "orders_2025_h1"]),
	]
	d := regate.decision with input as pg([stmt({"kind": "update", "tables": tables, "has_where": true, "writes": true})])
	d.allow
}

# The middle level of a sub-partition of internal.audit_log, in public, is still refused through the top.
test_write_to_sub_partition_of_internal_table_denied if {
	tables := [
		child("public", "audit_log_2024_01", "write", [["public", "audit_log_2024"], ["internal", "audit_log"]]),
		object.union(ancestor("public", "audit_log_2024", "write", ["public", "audit_log_2024_01"]), {"inherits": [{"schema": "internal", "name": "audit_log"}]}),
		ancestor("internal", "audit_log", "write", ["public", "audit_log_2024_01"]),
	]
	d := regate.decision with input as pg([stmt({"kind": "insert", "tables": tables, "writes": true})])
	"internal.* is never accessible" in d.deny
	"writing internal.audit_log is not allowed" in d.deny
}
