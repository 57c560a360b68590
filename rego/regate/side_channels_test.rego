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
