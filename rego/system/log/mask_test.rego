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
