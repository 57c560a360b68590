package regate_test

import data.regate

# Facts as regate's SQL analysis produces them; only the keys a rule reads need values.
stmt(overrides) := object.union(
	{
		"kind": "select", "node": "SelectStmt", "sql": "", "tables": [], "columns": [], "outputs": [],
		"functions": [], "operators": [], "has_where": null, "writes": false, "write_inputs": [],
		"write_inputs_unknown": false, "row_count_inputs": [], "row_count_unknown": false, "ddl": null, "settings": [], "settings_read": [],
		"role_change": false, "copy": null, "explain_analyze": false, "opaque": false, "unknown": [],
	},
	overrides,
)

table(schema, name, access) := {"schema": schema, "name": name, "access": access, "candidates": [schema], "only": false}

pg(statements) := {
	"version": 1, "kind": "postgres",
	"time": {"now_ns": 0, "rfc3339": "2026-01-01T00:00:00Z", "weekday": 4, "hour": 0},
	"session": {"id": "s", "principal": {"subject": "a", "groups": [], "claims": {}, "auth_method": "token"}, "client": {"address": "127.0.0.1", "port": 1}, "target": "db", "started_at": "2026-01-01T00:00:00Z"},
	"postgres": {"message": "query", "statements": statements, "search_path": ["$user", "public"], "transaction_status": "idle"},
}

http(method, path, extra) := {
	"version": 1, "kind": "http",
	"time": {"now_ns": 0, "rfc3339": "2026-01-01T00:00:00Z", "weekday": 4, "hour": 0},
	"session": {"id": "s", "principal": {"subject": "a", "groups": [], "claims": {}, "auth_method": "token"}, "client": {"address": "127.0.0.1", "port": 1}, "target": "api", "started_at": "2026-01-01T00:00:00Z"},
	"http": object.union({"method": method, "path": path, "parsed_path": split(trim_prefix(path, "/"), "/")}, extra),
}

read(schema, name) := stmt({"tables": [table(schema, name, "read")]})

test_public_read_allowed if {
	d := regate.decision with input as pg([read("public", "orders")])
	d.allow
	d.deny == []
	not d.approve
}

test_catalog_read_allowed if {
	d := regate.decision with input as pg([read("pg_catalog", "pg_class")])
	d.allow
}

test_internal_denied if {
	d := regate.decision with input as pg([read("internal", "api_keys")])
	not d.allow
	"internal.* is never accessible" in d.deny
}

test_internal_candidate_denied if {
	t := {"schema": "public", "name": "api_keys", "access": "read", "candidates": ["public", "internal"], "only": false}
	d := regate.decision with input as pg([stmt({"tables": [t]})])
	not d.allow
}

test_other_schema_denied if {
	d := regate.decision with input as pg([read("audit", "events")])
	"reading audit.events is not allowed" in d.deny
}

test_unresolved_schema_denied if {
	t := {"schema": null, "name": "x", "access": "read", "candidates": [], "only": false}
	d := regate.decision with input as pg([stmt({"tables": [t]})])
	"cannot tell which schema x resolves to" in d.deny
}

test_delete_without_where_denied if {
	d := regate.decision with input as pg([stmt({"kind": "delete", "has_where": false, "writes": true, "tables": [table("public", "orders", "write")]})])
	"DELETE without WHERE is not allowed" in d.deny
}

test_merge_without_where_denied_with_its_own_next_step if {
	d := regate.decision with input as pg([stmt({"kind": "merge", "has_where": false, "writes": true, "tables": [table("public", "orders", "write")]})])
	"MERGE without WHERE is not allowed" in d.deny
	d.next_step == "make the MERGE's ON condition, or its WHEN ... AND condition, name the target's rows to change"
}

test_update_orders_with_where_allowed if {
	d := regate.decision with input as pg([stmt({"kind": "update", "has_where": true, "writes": true, "tables": [table("public", "orders", "write")]})])
	d.allow
}

test_write_customers_denied if {
	d := regate.decision with input as pg([stmt({"kind": "insert", "writes": true, "tables": [table("public", "customers", "write")]})])
	"writing public.customers is not allowed" in d.deny
}

test_write_payments_needs_approval if {
	d := regate.decision with input as pg([stmt({"kind": "insert", "writes": true, "tables": [table("public", "payments", "write")]})])
	d.allow
	d.approve.reason == "writes to public.payments need approval"
	d.approve.timeout_seconds == 300
	d.approve.mode == "hold"
	d.approve.hold_max_seconds == 45
	d.approve.approvers == ["dba-oncall"]
	d.approve.min == 1
}

test_denied_kinds if {
	every kind in ["ddl", "truncate", "grant", "do", "call", "vacuum", "lock", "parse_error", "unknown"] {
		d := regate.decision with input as pg([stmt({"kind": kind})])
		not d.allow
	}
}

test_parse_error_denied if {
	i := json.patch(pg([]), [{"op": "add", "path": "/postgres/parse_error", "value": "syntax error"}])
	d := regate.decision with input as i
	"statement could not be parsed" in d.deny
}

test_statement_too_long_says_so if {
	i := json.patch(pg([]), [{"op": "add", "path": "/postgres/parse_error", "value": "statement is longer than 65536 bytes"}])
	d := regate.decision with input as i
	"statement is longer than 65536 bytes, more than regate analyses (postgres.limits.max_statement_bytes)" in d.deny
	not "statement could not be parsed" in d.deny
	contains(d.next_step, "smaller statements")
}

test_empty_statement_list_denied if {
	d := regate.decision with input as pg([])
	"empty statement list" in d.deny
}

test_empty_query_allowed if {
	i := json.patch(pg([]), [{"op": "add", "path": "/postgres/empty_query", "value": true}])
	d := regate.decision with input as i
	d.allow
}

test_function_call_message_denied if {
	i := json.patch(pg([]), [{"op": "replace", "path": "/postgres/message", "value": "function_call"}])
	d := regate.decision with input as i
	"FunctionCall messages are not allowed" in d.deny
}

test_unknown_constructs_denied if {
	d := regate.decision with input as pg([stmt({"unknown": ["RangeFunction"]})])
	"statement uses constructs regate cannot analyse: RangeFunction" in d.deny
}

test_opaque_denied if {
	d := regate.decision with input as pg([stmt({"opaque": true})])
	"statement runs code regate cannot inspect" in d.deny
}

test_role_change_denied if {
	d := regate.decision with input as pg([stmt({"kind": "set", "role_change": true})])
	"changing the session role is not allowed" in d.deny
}

test_protected_setting_denied if {
	s := {"name": "standard_conforming_strings", "value": "off", "action": "set", "local": false}
	d := regate.decision with input as pg([stmt({"kind": "set", "settings": [s]})])
	"changing standard_conforming_strings is not allowed" in d.deny
}

setting(name, value, action) := {"name": name, "value": value, "action": action, "local": false}

test_settings_that_change_how_a_statement_reads_denied if {
	every s in [
		setting("transform_null_equals", "on", "set"), setting("transform_null_equals", "true", "set_config"),
		setting("array_nulls", "off", "set"), setting("array_nulls", null, "set_config"),
	] {
		d := regate.decision with input as pg([stmt({"kind": "set", "settings": [s]})])
		concat("", ["changing ", s.name, " is not allowed"]) in d.deny
	}
}

test_settings_drivers_make_allowed if {
	every s in [setting("timezone", "UTC", "set"), setting("datestyle", "ISO, MDY", "set"), setting("intervalstyle", "iso_8601", "set"), setting("application_name", "x", "set")] {
		d := regate.decision with input as pg([stmt({"kind": "set", "settings": [s]})])
		d.allow
	}
}

test_setting_to_the_value_regate_requires_allowed if {
	every s in [
		setting("client_encoding", "UTF8", "set"), setting("client_encoding", "unicode", "set"),
		setting("client_encoding", "utf-8", "set_config"), setting("standard_conforming_strings", "on", "set"),
		setting("standard_conforming_strings", "TRUE", "set_config"), setting("all", null, "reset"),
	] {
		d := regate.decision with input as pg([stmt({"kind": "set", "settings": [s]})])
		d.allow
	}
}

test_setting_to_another_value_denied if {
	every s in [
		setting("client_encoding", "SJIS", "set"), setting("client_encoding", "utf8x", "set"),
		setting("client_encoding", null, "set_config"), setting("client_encoding", null, "reset"),
		setting("standard_conforming_strings", "off", "set"), setting("standard_conforming_strings", null, "set_config"),
		setting("all", null, "set_config"), setting("*", null, "set_config"),
	] {
		d := regate.decision with input as pg([stmt({"kind": "set", "settings": [s]})])
		concat("", ["changing ", s.name, " is not allowed"]) in d.deny
	}
}

discard_all := stmt({"kind": "utility", "settings": [setting("session_authorization", null, "reset"), setting("all", null, "reset")], "role_change": true})

as_login(statements) := object.union(pg(statements), {"session": {"started_as_login_role": true}})

test_discard_all_denied_unless_the_session_began_as_its_login_role if {
	d := regate.decision with input as pg([discard_all])
	"changing the session role is not allowed" in d.deny
	"changing session_authorization is not allowed" in d.deny
	began_as_other := object.union(pg([discard_all]), {"session": {"started_as_login_role": false}})
	"changing the session role is not allowed" in regate.decision.deny with input as began_as_other
}

test_pool_resets_allowed_for_a_session_that_began_as_its_login_role if {
	every statements in [
		[discard_all],
		# Npgsql's reset: SET SESSION AUTHORIZATION DEFAULT; RESET ALL; ...
		[
			stmt({"kind": "set", "settings": [setting("session_authorization", null, "reset")], "role_change": true}),
			stmt({"kind": "set", "settings": [setting("all", null, "reset")]}),
		],
		[stmt({"kind": "set", "settings": [setting("role", null, "reset")], "role_change": true})],
		[stmt({"kind": "set", "settings": [setting("role", "none", "set")], "role_change": true})],
	] {
		d := regate.decision with input as as_login(statements)
		d.allow
		count(d.deny) == 0
	}
}

test_role_changes_denied_for_a_session_that_began_as_its_login_role if {
	every settings in [
		[setting("role", "admin", "set")],
		[setting("role", "NONE", "set")],
		[setting("session_authorization", "postgres", "set")],
		[setting("role", null, "set_config")],
		[setting("*", null, "set_config")],
		[setting("role", null, "reset"), setting("role", "admin", "set")],
	] {
		d := regate.decision with input as as_login([stmt({"kind": "set", "settings": settings, "role_change": true})])
		"changing the session role is not allowed" in d.deny
	}

	# A role change whose settings the analysis could not list stays refused.
	d := regate.decision with input as as_login([stmt({"kind": "select", "role_change": true})])
	"changing the session role is not allowed" in d.deny
}

test_search_path_setting_allowed if {
	s := {"name": "search_path", "value": "public", "action": "set", "local": false}
	d := regate.decision with input as pg([stmt({"kind": "set", "settings": [s]})])
	d.allow
}

test_copy_program_denied if {
	d := regate.decision with input as pg([stmt({"kind": "copy", "copy": {"direction": "from", "target": "program", "query": false}, "tables": [table("public", "orders", "write")]})])
	"COPY from a server program is not allowed" in d.deny
}

test_copy_masked_table_denied if {
	d := regate.decision with input as pg([stmt({"kind": "copy", "copy": {"direction": "to", "target": "stdio", "query": false}, "tables": [table("public", "customers", "read")]})])
	"COPY of tables with masked columns is not allowed" in d.deny
}

test_copy_orders_to_stdout_allowed if {
	d := regate.decision with input as pg([stmt({"kind": "copy", "copy": {"direction": "to", "target": "stdio", "query": false}, "tables": [table("public", "orders", "read")]})])
	d.allow
}

test_denied_functions if {
	every name in ["pg_read_file", "lo_import", "dblink_exec", "pg_terminate_backend", "query_to_xml"] {
		d := regate.decision with input as pg([stmt({"functions": [{"schema": null, "name": name}]})])
		not d.allow
	}
}

test_advisory_locks_denied_unlock_allowed if {
	every name in ["pg_advisory_lock", "pg_try_advisory_xact_lock_shared", "pg_advisory_xact_lock"] {
		d := regate.decision with input as pg([stmt({"functions": [{"schema": "pg_catalog", "name": name}]})])
		concat("", ["function ", name, " takes an advisory lock, which the application's own jobs may wait on; it is not allowed"]) in d.deny
	}
	d := regate.decision with input as pg([stmt({"functions": [{"schema": null, "name": "pg_advisory_unlock_all"}]})])
	d.allow
}

test_non_catalog_function_denied if {
	d := regate.decision with input as pg([stmt({"functions": [{"schema": "public", "name": "wipe"}]})])
	"function public.wipe is not allowed" in d.deny
}

test_builtin_function_allowed if {
	d := regate.decision with input as pg([stmt({"functions": [{"schema": null, "name": "lower"}, {"schema": "pg_catalog", "name": "now"}]})])
	d.allow
}

test_customers_masked if {
	d := regate.decision with input as pg([read("public", "customers")])
	d.allow
	{"column": "public.customers.email", "strategy": "partial"} in d.mask
	{"column": "public.customers.ssn", "strategy": "redact"} in d.mask
	{"column": "public.customers.phone", "strategy": "redact"} in d.mask
	{"column": "public.customers.card_number", "strategy": "partial"} in d.mask
	count(d.mask) == 4
}

test_unknown_lineage_on_masked_table_denied if {
	out := {"name": "x", "lineage": [], "derived": true, "unknown": true}
	d := regate.decision with input as pg([stmt({"tables": [table("public", "customers", "read")], "outputs": [out]})])
	"result columns with unknown lineage read a table with masked columns" in d.deny
}

test_unknown_lineage_elsewhere_allowed if {
	out := {"name": "x", "lineage": [], "derived": true, "unknown": true}
	d := regate.decision with input as pg([stmt({"tables": [table("public", "orders", "read")], "outputs": [out]})])
	d.allow
}

test_table_name_without_schema if {
	regate.table_name({"schema": null, "name": "t"}) == "t"
}

test_unknown_kind_denied if {
	d := regate.decision with input as {"kind": "smtp"}
	"unknown input kind" in d.deny
}

test_http_get_allowed_with_masks if {
	d := regate.decision with input as http("GET", "/api/customers/1", {})
	d.allow
	{"field": "email", "strategy": "partial"} in d.mask
	{"field": "ssn", "strategy": "redact"} in d.mask
}

test_http_delete_denied if {
	d := regate.decision with input as http("DELETE", "/api/orders/1", {})
	"DELETE requests are not allowed" in d.deny
}

test_mcp_session_end_allowed if {
	d := regate.decision with input as http("DELETE", "/mcp", {"mcp_session_end": true, "request_method": "DELETE"})
	d.allow
	not "DELETE requests are not allowed" in d.deny

	# Without the fact, the same DELETE is an ordinary one.
	"DELETE requests are not allowed" in regate.decision.deny with input as http("DELETE", "/mcp", {"request_method": "DELETE"})
}

test_http_odd_method_denied if {
	d := regate.decision with input as http("TRACE", "/api", {})
	"method TRACE is not allowed" in d.deny
}

test_http_refund_needs_approval if {
	d := regate.decision with input as http("POST", "/api/refunds", {})
	d.allow
	d.approve.reason == "refunds need approval"
	d.approve.mode == "defer"
	d.approve.approvers == ["finance"]
	d.approve.grant_seconds == 600
	not d.approve.hold_max_seconds
}

test_http_refund_needs_approval_as_frameworks_route_it if {
	every path in ["/api/REFUNDS", "/api/Refunds", "/api/refunds.json", "/api/Refunds.JSON"] {
		d := regate.decision with input as http("POST", path, {})
		d.approve.reason == "refunds need approval"
	}
}

test_http_other_segments_not_held if {
	d := regate.decision with input as http("POST", "/api/refunds-report", {})
	not d.approve
}

test_http_bad_body_denied if {
	d := regate.decision with input as http("POST", "/api/orders", {"body_parse_error": true})
	"request body could not be parsed" in d.deny
}

test_http_truncated_body_denied if {
	d := regate.decision with input as http("POST", "/api/orders", {"truncated_body": true})
	"request body is larger than regate inspects, or nested deeper" in d.deny
}

# A GET's body is read by Express's express.json() and by Go handlers: one the policy could not see is refused too.
test_http_truncated_body_denied_on_get if {
	d := regate.decision with input as http("GET", "/api/rpc", {"truncated_body": true})
	"request body is larger than regate inspects, or nested deeper" in d.deny
}

test_mcp_destructive_tool_denied if {
	d := regate.decision with input as http("POST", "/mcp", {"mcp": {"method": "tools/call", "tool": "delete_customer", "arguments": {}}})
	"MCP tool delete_customer is not allowed" in d.deny
}

test_mcp_batch_destructive_tool_denied if {
	batch := [{"method": "tools/call", "tool": "lookup", "arguments": {}}, {"method": "tools/call", "tool": "purge_all", "arguments": {}}]
	d := regate.decision with input as http("POST", "/mcp", {"mcp_batch": batch})
	"MCP tool purge_all is not allowed" in d.deny
}

test_mcp_lookup_allowed if {
	d := regate.decision with input as http("POST", "/mcp", {"mcp": {"method": "tools/call", "tool": "lookup_customer", "arguments": {}}})
	d.allow
}

test_mcp_answers_masked_by_shape_too if {
	d := regate.decision with input as http("POST", "/mcp", {"mcp": {"method": "tools/call", "tool": "lookup_customer", "arguments": {}}})
	{"detector": "email", "strategy": "partial"} in d.mask
	{"detector": "ssn", "strategy": "redact"} in d.mask
	{"detector": "card", "strategy": "partial"} in d.mask
	{"field": "email", "strategy": "partial"} in d.mask
	count(d.mask) == 7
}

test_mcp_batch_answers_masked_by_shape_too if {
	batch := [{"method": "tools/call", "tool": "lookup", "arguments": {}}]
	d := regate.decision with input as http("POST", "/mcp", {"mcp_batch": batch})
	{"detector": "email", "strategy": "partial"} in d.mask
}

test_mcp_route_answers_masked_by_shape_without_a_call if {
	d := regate.decision with input as http("GET", "/mcp", {"route": {"name": "crm-mcp", "prefix": "/", "mcp": true}})
	{"detector": "email", "strategy": "partial"} in d.mask
	{"detector": "ssn", "strategy": "redact"} in d.mask
	{"detector": "card", "strategy": "partial"} in d.mask
}

test_http_without_mcp_has_field_masks_only if {
	d := regate.decision with input as http("GET", "/api/customers/1", {})
	every m in d.mask {
		m.field
	}
}

test_postgres_decisions_declare_reuse if {
	d := regate.decision with input as {"version": 1, "kind": "postgres", "postgres": {"message": "query", "statements": []}}
	d.cache.across == ["time", "parameters", "budget", "constants"]
}

test_a_refusal_worded_from_the_text_is_not_reused_across_constants if {
	cte := {"kind": "select", "has_where": false, "sql": "WITH d AS (DELETE FROM orders RETURNING id) SELECT 1", "tables": [], "writes": true}
	d := regate.decision with input as {"version": 1, "kind": "postgres", "postgres": {"message": "query", "statements": [cte]}}
	d.cache.across == ["time", "parameters", "budget"]
}

test_http_decisions_declare_reuse_across_time_and_request if {
	d := regate.decision with input as {"version": 1, "kind": "http", "http": {"method": "GET", "path": "/"}}
	d.cache.across == ["time", "request"]
}

test_unknown_kinds_are_not_reused if {
	d := regate.decision with input as {"version": 1, "kind": "smtp"}
	not d.cache
}

test_a_where_less_delete_says_what_to_do if {
	d := regate.decision with input as {"version": 1, "kind": "postgres", "postgres": {"message": "query", "statements": [{"kind": "delete", "has_where": false, "tables": [{"schema": "public", "name": "orders", "access": "delete", "candidates": ["public"]}], "writes": true}]}}
	contains(d.next_step, "WHERE")
}

test_allowed_decisions_carry_no_next_step if {
	d := regate.decision with input as {"version": 1, "kind": "postgres", "postgres": {"message": "query", "statements": [{"kind": "select", "tables": [], "functions": [], "outputs": []}]}}
	not d.next_step
}

sequence(schema, name, owner) := object.union(table(schema, name, "write"), {"owned_by": owner})

test_owned_sequence_written_as_its_table if {
	seq := sequence("public", "orders_id_seq", {"schema": "public", "table": "orders", "column": "id"})
	d := regate.decision with input as pg([stmt({"writes": true, "tables": [seq]})])
	d.allow
	not d.approve
}

test_payments_sequence_needs_no_approval if {
	seq := sequence("public", "payments_id_seq", {"schema": "public", "table": "payments", "column": "id"})
	d := regate.decision with input as pg([stmt({"writes": true, "tables": [seq]})])
	d.allow
	not d.approve
}

test_setval_of_payments_sequence_needs_approval if {
	seq := sequence("public", "payments_id_seq", {"schema": "public", "table": "payments", "column": "id"})
	d := regate.decision with input as pg([stmt({"writes": true, "tables": [seq], "functions": [{"schema": null, "name": "setval", "inputs": []}]})])
	d.allow
	d.approve.reason == "setting the sequence of public.payments needs approval"
}

test_setval_of_orders_sequence_needs_no_approval if {
	seq := sequence("public", "orders_id_seq", {"schema": "public", "table": "orders", "column": "id"})
	d := regate.decision with input as pg([stmt({"writes": true, "tables": [seq], "functions": [{"schema": null, "name": "setval", "inputs": []}]})])
	d.allow
	not d.approve
}

test_sequence_of_unwritable_table_denied if {
	seq := sequence("public", "customers_id_seq", {"schema": "public", "table": "customers", "column": "id"})
	d := regate.decision with input as pg([stmt({"writes": true, "tables": [seq]})])
	"writing public.customers_id_seq is not allowed" in d.deny
}

test_sequence_of_no_table_denied if {
	d := regate.decision with input as pg([stmt({"writes": true, "tables": [table("public", "invoice_numbers", "write")]})])
	"writing public.invoice_numbers is not allowed" in d.deny
}

column(schema, tbl, name) := {"schema": schema, "table": tbl, "column": name}

masked_write(extra) := stmt(object.union(
	{
		"kind": "update", "writes": true, "has_where": true,
		"tables": [table("public", "orders", "write"), table("public", "customers", "read")],
		"columns": [column("public", "orders", "status"), column("public", "customers", "ssn")],
	},
	extra,
))

test_write_filtering_on_masked_column_allowed if {
	d := regate.decision with input as pg([masked_write({})])
	d.allow
}

test_write_storing_masked_column_denied if {
	every c in [column("public", "customers", "ssn"), column(null, "customers", "ssn"), column("public", "customers", "*")] {
		d := regate.decision with input as pg([masked_write({"write_inputs": [c]})])
		"a write may not store masked columns of other tables: their values would be kept where they are not masked" in d.deny
	}
}

# A masked column written back into itself is not a write input (the analysis leaves it out); one that
# is listed goes to another column or table, whichever table the statement also writes.
test_write_storing_own_masked_column_elsewhere_denied if {
	s := stmt({
		"kind": "update", "writes": true, "has_where": true,
		"tables": [table("public", "payments", "write"), table("public", "payments", "read"), table("public", "orders", "write")],
		"write_inputs": [column("public", "payments", "card_number")],
	})
	d := regate.decision with input as pg([s])
	"a write may not store masked columns of other tables: their values would be kept where they are not masked" in d.deny
}

test_write_of_masked_table_keeping_its_column_needs_approval if {
	s := stmt({
		"kind": "update", "writes": true, "has_where": true,
		"tables": [table("public", "payments", "write"), table("public", "payments", "read")],
		"write_inputs": [column("public", "payments", "amount")],
	})
	d := regate.decision with input as pg([s])
	d.allow
	d.approve
}

test_write_storing_unknown_lineage_beside_its_own_masked_table_denied if {
	s := stmt({
		"kind": "update", "writes": true, "has_where": true,
		"tables": [table("public", "payments", "write"), table("public", "payments", "read")],
		"write_inputs_unknown": true,
	})
	d := regate.decision with input as pg([s])
	"a write stores values of unknown lineage in a statement that reads a table with masked columns" in d.deny
}

test_write_storing_unknown_lineage_beside_masked_table_denied if {
	d := regate.decision with input as pg([masked_write({"write_inputs_unknown": true})])
	"a write stores values of unknown lineage in a statement that reads a table with masked columns" in d.deny
}

test_write_storing_unknown_lineage_elsewhere_allowed if {
	s := stmt({"kind": "insert", "writes": true, "tables": [table("public", "orders", "write")], "write_inputs_unknown": true})
	d := regate.decision with input as pg([s])
	d.allow
}

test_write_facts_without_write_inputs_judged_by_every_column_read if {
	d := regate.decision with input as pg([object.remove(masked_write({}), ["write_inputs", "write_inputs_unknown"])])
	"a write may not store masked columns of other tables: their values would be kept where they are not masked" in d.deny
}

test_plain_explain_of_write_not_judged_as_storing if {
	d := regate.decision with input as pg([masked_write({"kind": "explain", "writes": false, "write_inputs": [column("public", "customers", "ssn")]})])
	not "a write may not store masked columns of other tables: their values would be kept where they are not masked" in d.deny
}
