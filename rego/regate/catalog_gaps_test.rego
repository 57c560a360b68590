package regate_test

import data.regate

# A parent named without ONLY carries its descendants (inheritance children and partitions, from pg_inherits).
parent(schema, name, access, below) := object.union(table(schema, name, access), {"descendants": [{"schema": b[0], "name": b[1]} | some b in below]})

test_parent_with_internal_child_read_denied if {
	t := parent("public", "customers", "read", [["public", "customers_archive"], ["internal", "customers_secret"]])
	d := regate.decision with input as pg([stmt({"tables": [t]})])
	not d.allow
	"reading public.customers without ONLY reads internal.customers_secret too (its inheritance child or partition), which is not allowed: name it FROM ONLY public.customers to leave its children out, or ask for access to internal.customers_secret" in d.deny
}

test_parent_with_internal_child_written_denied if {
	t := parent("public", "orders", "write", [["internal", "orders_secret"]])
	d := regate.decision with input as pg([stmt({"kind": "update", "has_where": true, "tables": [t]})])
	not d.allow
	some r in d.deny
	startswith(r, "changing public.orders without ONLY changes internal.orders_secret too")
	contains(r, "name it ONLY public.orders to leave its children out")
}

test_partitions_in_public_allowed if {
	t := parent("public", "visits", "read", [["public", "visits_2024"], ["public", "visits_2025"]])
	d := regate.decision with input as pg([stmt({"tables": [t]})])
	d.allow
}

test_only_parent_allowed if {
	d := regate.decision with input as pg([stmt({"tables": [object.union(table("public", "customers", "read"), {"only": true})]})])
	d.allow
}

test_harmless_backend_function_allowed if {
	d := regate.decision with input as pg([stmt({"functions": [fn("pg_stat_get_backend_pid", "stable", [])]})])
	d.allow
}

test_exposing_backend_function_denied if {
	f := object.union(fn("pg_stat_get_backend_activity", "stable", []), {"exposes": true})
	d := regate.decision with input as pg([stmt({"functions": [f]})])
	"function pg_stat_get_backend_activity would expose data regate cannot see" in d.deny
}
