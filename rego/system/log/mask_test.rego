package system.log_test

import data.system.log

test_parameters_erased_for_pii_tables if {
	event := {"input": {"postgres": {"statements": [{"tables": [{"schema": "public", "name": "customers", "access": "read", "candidates": ["public"]}]}], "parameters": [{"value": "a@b.c"}]}}}
	"/input/postgres/parameters" in log.mask with input as event
}

test_parameters_kept_elsewhere if {
	event := {"input": {"postgres": {"statements": [{"tables": [{"schema": "public", "name": "orders", "access": "read", "candidates": ["public"]}]}]}}}
	count(log.mask) == 0 with input as event
}

test_customer_bodies_erased if {
	event := {"input": {"http": {"parsed_body": {"email": "a@b.c"}, "parsed_path": ["api", "customers"]}}}
	{"op": "upsert", "path": "/input/http/parsed_body", "value": "[erased by system.log.mask]"} in log.mask with input as event
}

test_sql_with_literals_erased_for_pii_tables if {
	event := {"input": {"postgres": {"statements": [
		{"sql": "SELECT 1", "tables": []},
		{"sql": "SELECT id FROM customers WHERE ssn = '607-59-5353'", "tables": [{"schema": "public", "name": "customers", "access": "read", "candidates": ["public"]}]},
	]}}}
	{"op": "upsert", "path": "/input/postgres/statements/1/sql", "value": "[erased by system.log.mask]"} in log.mask with input as event
	not {"op": "upsert", "path": "/input/postgres/statements/0/sql", "value": "[erased by system.log.mask]"} in log.mask with input as event
}

test_sql_with_dollar_quotes_erased_for_pii_tables if {
	event := {"input": {"postgres": {"statements": [{"sql": "SELECT id FROM customers WHERE ssn = $q$607-59-5353$q$", "tables": [{"schema": "public", "name": "customers", "access": "read", "candidates": ["public"]}]}]}}}
	{"op": "upsert", "path": "/input/postgres/statements/0/sql", "value": "[erased by system.log.mask]"} in log.mask with input as event
}

test_sql_without_literals_kept if {
	event := {"input": {"postgres": {"statements": [{"sql": "SELECT email FROM customers WHERE id = $1 OR id = $2", "tables": [{"schema": "public", "name": "customers", "access": "read", "candidates": ["public"]}]}]}}}
	count([m | some m in log.mask; is_object(m)]) == 0 with input as event
}
