package regate_test

import data.regate

col(schema, table, column) := {"schema": schema, "table": table, "column": column}

fn(name, volatility, inputs) := {"schema": null, "name": name, "inputs": inputs, "inputs_unknown": false, "volatility": volatility}

customers := table("public", "customers", "read")

orders := table("public", "orders", "read")

test_masked_column_into_volatile_function_denied if {
	s := stmt({"tables": [customers], "functions": [fn("pg_notify", "volatile", [col("public", "customers", "email")])]})
	d := regate.decision with input as pg([s])
	not d.allow
	"protected column public.customers.email reaches pg_notify, a function with side effects" in d.deny
}

test_masked_column_into_immutable_function_allowed if {
	s := stmt({"tables": [customers], "functions": [fn("lower", "immutable", [col("public", "customers", "email")])]})
	d := regate.decision with input as pg([s])
	d.allow
}

test_masked_column_into_stable_function_allowed if {
	s := stmt({"tables": [customers], "functions": [fn("to_char", "stable", [col("public", "customers", "phone")])]})
	d := regate.decision with input as pg([s])
	d.allow
}

test_function_unknown_to_the_catalog_is_volatile if {
	d := regate.decision with input as pg([stmt({"tables": [customers], "functions": [fn("mystery", "volatile", [col("public", "customers", "ssn")])]})])
	"protected column public.customers.ssn reaches mystery, a function with side effects" in d.deny
}

test_facts_without_a_catalog_are_not_judged_on_volatility if {
	f := {"schema": null, "name": "lower", "inputs": [col("public", "customers", "ssn")], "inputs_unknown": false}
	d := regate.decision with input as pg([stmt({"tables": [customers], "functions": [f]})])
	d.allow
}

test_whole_row_of_masked_table_into_volatile_function_denied if {
	s := stmt({"tables": [customers], "functions": [fn("pg_notify", "volatile", [col("public", "customers", "*")])]})
	d := regate.decision with input as pg([s])
	"protected column public.customers.* reaches pg_notify, a function with side effects" in d.deny
}

test_unprotected_column_into_volatile_function_allowed if {
	s := stmt({"tables": [orders], "functions": [fn("pg_notify", "volatile", [col("public", "orders", "status")])]})
	d := regate.decision with input as pg([s])
	d.allow
}

test_unknown_inputs_with_protected_table_denied if {
	f := object.union(fn("set_config", "volatile", []), {"inputs_unknown": true})
	d := regate.decision with input as pg([stmt({"tables": [customers], "functions": [f]})])
	not d.allow
}

test_exposing_relation_denied if {
	t := object.union(table("pg_catalog", "pg_stats", "read"), {"exposes": true})
	d := regate.decision with input as pg([stmt({"tables": [t]})])
	"reading pg_catalog.pg_stats would expose other tables' values or other sessions' statements" in d.deny
}

test_exposing_function_denied if {
	f := object.union(fn("pg_stat_get_activity", "stable", []), {"exposes": true})
	d := regate.decision with input as pg([stmt({"functions": [f]})])
	"function pg_stat_get_activity would expose data regate cannot see" in d.deny
}

test_planner_statistics_writes_denied if {
	every name in ["pg_restore_relation_stats", "pg_restore_attribute_stats", "pg_clear_relation_stats", "pg_clear_attribute_stats"] {
		d := regate.decision with input as pg([stmt({"functions": [fn(name, "volatile", [])]})])
		concat("", ["function ", name, " is not allowed"]) in d.deny
	}
}

# SELECT ... FOR UPDATE / SHARE lists the locked relations with access "write", as LOCK does: a row lock on a
# table the agent may not write blocks that table's writers, and is refused like a write.
test_row_locks_on_a_table_the_agent_may_not_write_denied if {
	d := regate.decision with input as pg([stmt({"tables": [customers, table("public", "customers", "write")]})])
	"writing public.customers is not allowed" in d.deny
}

test_row_locks_on_orders_allowed if {
	d := regate.decision with input as pg([stmt({"tables": [orders, table("public", "orders", "write")], "writes": false})])
	d.allow
}
