# Postgres rules of the example policy
#
#   Reads of public.* are allowed, internal.* is never touched, writes are narrow,
#   anything regate cannot analyse is denied, and PII columns are masked.
package regate

pg := input.postgres if input.kind == "postgres"

statements := pg.statements

# Schemas an agent may read. pg_catalog and information_schema keep psql's \d working.
readable_schemas := {"public", "pg_catalog", "information_schema"}

masked_columns := {
	"public.customers.email": "partial",
	"public.customers.phone": "redact",
	"public.customers.ssn": "redact",
	"public.customers.card_number": "partial",
	"public.payments.card_number": "partial",
}

# Server-side files, large objects, dblink, backend signals, and functions that run SQL from a string.
denied_functions := {
	"pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir", "pg_ls_waldir",
	"pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_file_write", "pg_file_rename", "pg_file_unlink",
	"lo_import", "lo_export", "lo_unlink", "lo_get", "lo_put", "lo_from_bytea", "lo_open", "lo_create",
	"lo_creat", "lowrite", "loread", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
	"pg_rotate_logfile", "pg_promote", "pg_signal_backend", "query_to_xml", "query_to_xml_and_xmlschema",
	"query_to_xmlschema", "cursor_to_xml", "cursor_to_xmlschema", "table_to_xml", "table_to_xmlschema",
	"table_to_xml_and_xmlschema", "schema_to_xml", "database_to_xml", "pg_switch_wal",
	"pg_create_restore_point", "pg_backup_start", "pg_backup_stop", "pg_logical_emit_message",
	"pg_replication_origin_create", "pg_drop_replication_slot", "pg_create_logical_replication_slot",
	"pg_create_physical_replication_slot", "dblink", "dblink_exec", "dblink_connect", "dblink_open",
	"dblink_send_query",
	# PostgreSQL 18 lets a table's owner or MAINTAIN holder write its planner statistics, as ANALYZE does
	# (refused above as maintenance): the plans every session gets for that table would be the agent's.
	"pg_restore_relation_stats", "pg_restore_attribute_stats", "pg_clear_relation_stats", "pg_clear_attribute_stats",
}

# Advisory locks, held to the end of the session or transaction: the locks an application's jobs, queues and
# migrations wait on, so an agent holding one stalls them. Releasing its own stays allowed (pools reset
# connections with pg_advisory_unlock_all).
advisory_lock_functions := {
	"pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared",
	"pg_try_advisory_lock", "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock",
	"pg_try_advisory_xact_lock_shared",
}

# Settings whose change would make regate read SQL differently from the server, or switch identity; and
# legacy switches that make the server read a statement otherwise than anyone reading its text (a reviewer
# approving it) would: transform_null_equals turns `x = NULL`, never true, into `x IS NULL`, so a write a
# reviewer reads as touching no row touches every row with a NULL there; array_nulls off reads the NULL in
# '{NULL}' as the string 'NULL'. No driver or pool sets either.
protected_settings := {
	"client_encoding", "standard_conforming_strings", "role", "session_authorization",
	"session_replication_role", "backslash_quote", "escape_string_warning", "allow_system_table_mods",
	"transform_null_equals", "array_nulls",
}

denied_kinds := {
	"ddl": "DDL is not allowed",
	"truncate": "TRUNCATE is not allowed",
	"grant": "GRANT/REVOKE is not allowed",
	"do": "DO blocks run code regate cannot inspect",
	"call": "CALL runs procedures regate cannot inspect",
	"vacuum": "maintenance commands are not allowed",
	"lock": "explicit locks are not allowed",
	"parse_error": "statement could not be parsed",
	"unknown": "statement kind is not understood by regate",
}

write_kinds := {"insert", "update", "delete", "merge"}

deny contains "FunctionCall messages are not allowed" if pg.message == "function_call"

deny contains msg if {
	pg.parse_error
	not statement_too_long
	msg := "statement could not be parsed"
}

# regate does not analyse text past postgres.limits.max_statement_bytes (a driver's rewritten batch of
# thousands of INSERT rows gets there): the agent is told so, not that its SQL is wrong.
statement_too_long if startswith(pg.parse_error, "statement is longer than ")

deny contains msg if {
	statement_too_long
	msg := concat("", [pg.parse_error, ", more than regate analyses (postgres.limits.max_statement_bytes)"])
}

next_steps contains "send it as several smaller statements (a large batch in parts), or ask an operator to raise postgres.limits.max_statement_bytes" if statement_too_long

deny contains "empty statement list" if {
	pg.message in {"query", "parse"}
	not pg.parse_error
	count(statements) == 0
	not pg.empty_query
}

deny contains msg if {
	some s in statements
	msg := denied_kinds[s.kind]
}

deny contains msg if {
	some s in statements
	count(s.unknown) > 0
	msg := concat("", ["statement uses constructs regate cannot analyse: ", concat(", ", s.unknown)])
}

deny contains msg if {
	some s in statements
	s.opaque
	msg := "statement runs code regate cannot inspect"
}

deny contains "changing the session role is not allowed" if {
	some s in statements
	s.role_change
	not role_resets_only(s)
}

# Pools reset a connection before they hand it out again: Npgsql with `SET SESSION AUTHORIZATION DEFAULT;
# RESET ALL; …`, Rails and pgbouncer with DISCARD ALL. Each puts the session back to its login role. A
# session that began as its login role is still there (every change of role is refused), so the reset
# changes nothing; one that began as another role (ALTER ROLE … SET role) would gain the login role's
# rights, and stays refused.
role_resets_only(s) if {
	input.session.started_as_login_role == true
	touched := [setting | some setting in s.settings; setting.name in {"role", "session_authorization", "*"}]
	count(touched) > 0
	every setting in touched {
		role_reset(setting)
	}
}

# RESET ROLE, SET role TO DEFAULT, RESET SESSION AUTHORIZATION, SET SESSION AUTHORIZATION DEFAULT and
# DISCARD ALL are resets; SET ROLE NONE is one too (the server reads the exact name "none" as no role).
role_reset(setting) if {
	setting.name in {"role", "session_authorization"}
	setting.action == "reset"
}

role_reset(setting) if {
	setting.name == "role"
	setting.action == "set"
	setting.value == "none"
}

unchanged_setting(setting) if {
	input.session.started_as_login_role == true
	role_reset(setting)
}

deny contains msg if {
	some s in statements
	some setting in s.settings
	setting.name in (protected_settings | {"*", "all"})
	not unchanged_setting(setting)
	msg := concat("", ["changing ", setting.name, " is not allowed"])
}

# RESET ALL (asyncpg's pool resets every connection it takes back with it) puts each setting back to its
# value when the session started: client_encoding and standard_conforming_strings as regate checked them
# then, the search_path regate read then (it tracks the reset). It leaves role and session_authorization
# alone. DISCARD ALL also resets the session authorization: see role_resets_only.
unchanged_setting(setting) if {
	setting.name == "all"
	setting.action == "reset"
}

# Setting one of these to the value regate already requires of every session changes nothing: Rails sends
# `SET standard_conforming_strings = on` on connect, and libpq's PQsetClientEncoding (Rails' `encoding:
# unicode`, psycopg2's set_client_encoding) sends `SET client_encoding TO 'unicode'`. Any other value, or
# one given as a parameter (value null), is refused.
unchanged_setting(setting) if {
	setting.name == "client_encoding"
	setting.action in {"set", "set_config"}
	is_string(setting.value)
	regex.match(`^(?i)(utf-?8|unicode)$`, setting.value)
}

unchanged_setting(setting) if {
	setting.name == "standard_conforming_strings"
	setting.action in {"set", "set_config"}
	is_string(setting.value)
	lower(setting.value) in {"on", "true", "yes", "1"}
}

deny contains msg if {
	some s in statements
	s.copy.target in {"file", "program"}
	msg := concat("", ["COPY ", s.copy.direction, " a server ", s.copy.target, " is not allowed"])
}

# COPY's rows leave as CopyData, which regate does not mask. Into a table with masked columns, or out of one
# when a column it sends is unknown or carries a masked column's value (the column itself, `*`, a whole-row
# reference or an expression of it), it is refused. Out of one with only unmasked columns (`COPY customers (id,
# full_name) TO STDOUT`, or a query selecting them), it sends what a SELECT of them returns unmasked.
deny contains "COPY of tables with masked columns is not allowed" if {
	some s in statements
	s.copy != null
	copy_may_send_masked(s)
}

copy_may_send_masked(s) if {
	s.copy.direction != "to"
	some t in s.tables
	touches_masked_table(t)
}

copy_may_send_masked(s) if {
	count(s.outputs) == 0
	some t in s.tables
	touches_masked_table(t)
}

copy_may_send_masked(s) if {
	some o in s.outputs
	o.unknown
	some t in s.tables
	touches_masked_table(t)
}

copy_may_send_masked(s) if {
	some o in s.outputs
	some c in o.lineage
	reads_masked_column(c)
}

deny contains "internal.* is never accessible" if {
	some s in statements
	some t in s.tables
	"internal" in t.candidates
}

deny contains msg if {
	some s in statements
	some t in s.tables
	t.access == "read"
	t.schema != null
	not t.schema in readable_schemas
	msg := concat("", ["reading ", t.schema, ".", t.name, " is not allowed"])
}

deny contains msg if {
	some s in statements
	some t in s.tables
	t.schema == null
	msg := concat("", ["cannot tell which schema ", t.name, " resolves to"])
}

deny contains msg if {
	some s in statements
	some f in s.functions
	f.name in denied_functions
	msg := concat("", ["function ", f.name, " is not allowed"])
}

deny contains msg if {
	some s in statements
	some f in s.functions
	f.name in advisory_lock_functions
	msg := concat("", ["function ", f.name, " takes an advisory lock, which the application's own jobs may wait on; it is not allowed"])
}

deny contains msg if {
	some s in statements
	some f in s.functions
	f.schema != null
	f.schema != "pg_catalog"
	msg := concat("", ["function ", f.schema, ".", f.name, " is not allowed"])
}

deny contains msg if {
	some s in statements
	s.has_where == false
	msg := concat("", [where_less_kind(s), " without WHERE is not allowed"])
}

# has_where covers UPDATE and DELETE anywhere in the statement: CTEs, EXPLAIN ANALYZE, rules, and MERGE's
# UPDATE and DELETE actions (false when neither ON nor the action's AND condition names the target's rows).
where_less_kind(s) := upper(s.kind) if {
	s.kind in {"update", "delete", "merge"}
} else := "DELETE" if {
	contains(lower(s.sql), "delete")
} else := "UPDATE"

# Writes: orders (with WHERE, checked above) are allowed, payments need a human, the rest is denied.
deny contains msg if {
	some s in statements
	some t in s.tables
	t.access == "write"
	not writable(write_target(t))
	msg := concat("", ["writing ", table_name(t), " is not allowed"])
}

writable(t) if writable_table(t)

# An inheritance child or partition of a table holds that table's rows (inherits, from pg_inherits through the
# catalog): writing it is writing them. Each ancestor is also listed in tables with the same access (and
# descendant set), so the rules above judge a child of customers or of internal.* as customers or internal.*,
# and a child of payments needs the payments approval. A child of orders may be written as orders may.
writable(t) if {
	some a in t.inherits
	writable_table(a)
}

writable_table(t) if {
	t.schema == "public"
	t.name in {"orders", "payments"}
}

# The other direction: a table named without ONLY stands for its inheritance children's and partitions' rows too
# (descendants, from pg_inherits through the catalog), under its own columns and masks. One the database owner put
# in a schema the agent may not read (internal.customers_secret INHERITS (public.customers)) is read, or changed,
# through its parent: judged as that table.
deny contains msg if {
	some s in statements
	some t in s.tables
	some d in t.descendants
	not d.schema in readable_schemas
	msg := concat("", [
		descendant_verb(t), " ", table_name(t), " without ONLY ", descendant_verb_s(t), " ", d.schema, ".", d.name,
		" too (its inheritance child or partition), which is not allowed: name it ", descendant_only(t), " ", table_name(t),
		" to leave its children out, or ask for access to ", d.schema, ".", d.name,
	])
}

descendant_verb(t) := "reading" if t.access == "read"

else := "changing"

descendant_verb_s(t) := "reads" if t.access == "read"

else := "changes"

# As the statement spells it: SELECT ... FROM ONLY t; UPDATE ONLY t, DELETE FROM ONLY t, TRUNCATE ONLY t.
descendant_only(t) := "FROM ONLY" if t.access == "read"

else := "ONLY"

# A sequence that belongs to a table's column (serial or identity: owned_by, from pg_depend through the
# catalog) is moved by every INSERT into that table, so moving it is judged as writing that table:
# nextval('orders_id_seq') (Hibernate, and INSERT ... VALUES (nextval(...), ...)) and Django's
# setval(pg_get_serial_sequence('orders', 'id'), ...) as writes to public.orders, a sequence of
# internal.api_keys as a write there (refused). It changes no row: the approval below is asked for rows
# of payments, and the INSERT that uses the number is held for it (setval of payments' sequence is held
# too, below). A sequence of no table, or one another table's default also calls (no owned_by), is a
# relation of its own, written only where the policy lists it.
write_target(t) := {"schema": t.owned_by.schema, "name": t.owned_by.table} if {
	t.owned_by
} else := t

approve contains "writes to public.payments need approval" if {
	some s in statements
	some t in s.tables
	t.access == "write"
	t.schema == "public"
	t.name == "payments"
}

# setval on payments' sequence decides which ids the payments to come get: rewound, the next INSERTs
# collide with existing rows; set to its maximum, every INSERT fails. That is a change to payments and
# needs the same approval. nextval only takes a number (Hibernate, before the INSERT that is held), and
# orders' sequence may be set like any orders row may be changed.
approve contains "setting the sequence of public.payments needs approval" if {
	some s in statements
	some f in s.functions
	f.name == "setval"
	some t in s.tables
	t.access == "write"
	t.owned_by.schema == "public"
	t.owned_by.table == "payments"
}

# A masked column may reach the result through a path regate cannot follow: refuse.
deny contains "result columns with unknown lineage read a table with masked columns" if {
	some s in statements
	some o in s.outputs
	o.unknown
	some t in s.tables
	touches_masked_table(t)
}

mask contains {"column": col, "strategy": strategy} if {
	some s in statements
	some t in s.tables
	touches_masked_table(t)
	some col, strategy in masked_columns
	startswith(col, concat("", [t.schema, ".", t.name, "."]))
}

# A write may not store a masked column where it is not masked (orders.amount set from customers.ssn,
# then read back; or RETURNING amount). write_inputs is the lineage of the values a write stores (INSERT
# values and SELECT columns, SET expressions), the same lineage that decides the masks of a SELECT's
# result: a write may store what a SELECT of those expressions returns unmasked, and nothing else.
# Columns read only to choose rows (WHERE, joins, USING, ON CONFLICT, MERGE conditions) are not stored.
# Such a write tells the agent no more than this policy already lets a read tell: `SELECT id FROM
# customers WHERE ssn = '...'` is allowed, and which rows an UPDATE with that filter changed says the
# same; the agent could as well store what it learnt that way with constants. RETURNING is masked like
# any result, by its own lineage. A masked column written back into itself (a payments upsert's `SET
# card_number = EXCLUDED.card_number`) is not in write_inputs: it stays masked, and the write rules judge
# it (payments: approval). Into another column, or another table, the written table's own masked column
# is refused like any other: approving a payments write must not store its card number in orders (a CTE
# that changes no payments row, beside an UPDATE of orders) or in payments.amount.
deny contains "a write may not store masked columns of other tables: their values would be kept where they are not masked" if {
	some s in statements
	s.writes
	some c in stored_columns(s)
	reads_masked_column(c)
}

deny contains "a write stores values of unknown lineage in a statement that reads a table with masked columns" if {
	some s in statements
	s.writes
	s.write_inputs_unknown
	some t in s.tables
	t.access == "read"
	touches_masked_table(t)
}

# Facts from a regate without write_inputs (an older decision log replayed by `regate whatif`): every
# column the statement reads may be stored.
stored_columns(s) := s.write_inputs if is_array(s.write_inputs)

else := s.columns

reads_masked_column(c) if {
	some col, _ in masked_columns
	col == concat(".", [c.schema, c.table, c.column])
}

reads_masked_column(c) if {
	c.column == "*"
	some col, _ in masked_columns
	startswith(col, concat("", [c.schema, ".", c.table, "."]))
}

reads_masked_column(c) if {
	c.schema == null
	some col, _ in masked_columns
	endswith(col, concat(".", ["", c.table, c.column]))
}

touches_masked_table(t) if {
	some col, _ in masked_columns
	startswith(col, concat("", [t.schema, ".", t.name, "."]))
}

table_name(t) := concat("", [t.schema, ".", t.name]) if t.schema != null

else := t.name

# The per-backend statistics accessors (pg_stat_get_backend_activity: another session's statement text;
# its client address, wait state) are data sources by the catalog (functions[].exposes, refused below);
# those that return numbers, times or oids (pg_stat_get_backend_pid, _start, _userid) stay allowed.
denied_function_prefixes := {"dblink", "lo_", "pg_file_", "pg_ls_", "pg_read_"}

# Replication slots and origins. A logical slot's decoded changes (pg_logical_slot_peek_changes, _get_, the
# binary ones) carry every column of every changed row, masked ones and internal.* included, as text regate
# cannot trace to a column; get, advance and copy also move or multiply a slot that a replication consumer
# (CDC) owns, so it skips changes or the server keeps WAL for a slot no one reads. Origins are the apply
# side's bookkeeping. Reading pg_replication_slots (names, positions) stays allowed.
replication_function(name) if regex.match(`^pg_(logical_slot_|replication_slot_|replication_origin_|copy_(logical|physical)_replication_slot$|sync_replication_slots$)`, name)

deny contains msg if {
	some s in statements
	some f in s.functions
	replication_function(f.name)
	msg := concat("", ["function ", f.name, " reads or moves a replication slot or origin, whose changes carry every table's unmasked values; it is not allowed"])
}

next_steps contains "read the rows with SELECT: their masked columns come back masked" if {
	some r in deny
	contains(r, " reads or moves a replication slot or origin")
}

deny contains msg if {
	some s in statements
	some f in s.functions
	some prefix in denied_function_prefixes
	startswith(f.name, prefix)
	msg := concat("", ["function ", f.name, " is not allowed"])
}

# Side channels. A function the catalog does not call immutable or stable may act on its arguments
# (pg_notify sends them to listeners, set_config stores them, dblink ships them elsewhere): a masked or
# protected column must not reach one, whatever the result columns look like. Volatility comes from
# pg_proc through regate's catalog.
deny contains msg if {
	some s in statements
	some f in s.functions
	not pure(f)
	some c in f.inputs
	protected_column(c)
	msg := concat("", ["protected column ", column_name(c), " reaches ", f.name, ", a function with side effects"])
}

deny contains msg if {
	some s in statements
	some f in s.functions
	not pure(f)
	f.inputs_unknown
	some t in s.tables
	protected_table(t)
	msg := concat("", ["values of unknown lineage reach ", f.name, ", a function with side effects, in a statement reading a protected table"])
}

# The catalog is a channel too: planner statistics hold sample values of every column, activity views
# hold other sessions' statements. The catalog says which relations and functions expose them.
deny contains msg if {
	some s in statements
	some t in s.tables
	t.exposes
	msg := concat("", ["reading ", table_name(t), " would expose other tables' values or other sessions' statements"])
}

deny contains msg if {
	some s in statements
	some f in s.functions
	f.exposes
	msg := concat("", ["function ", f.name, " would expose data regate cannot see"])
}

# Immutable or stable per pg_proc (regate reports a function the catalog does not know as volatile).
# Facts made without a catalog (golden cases, hand-written inputs) carry no volatility: not judged here.
pure(f) if f.volatility in {"immutable", "stable"}

pure(f) if not f.volatility

protected_column(c) if {
	some col, _ in masked_columns
	col == concat("", [c.schema, ".", c.table, ".", c.column])
}

protected_column(c) if {
	c.column == "*"
	protected_table({"schema": c.schema, "name": c.table})
}

protected_column(c) if c.schema == "internal"

# Unresolved schema: match on table and column.
protected_column(c) if {
	c.schema == null
	some col, _ in masked_columns
	endswith(col, concat("", [".", c.table, ".", c.column]))
}

protected_table(t) if touches_masked_table(t)

protected_table(t) if t.schema == "internal"

column_name(c) := concat("", [c.schema, ".", c.table, ".", c.column]) if c.schema != null

else := concat("", [c.table, ".", c.column])

next_steps contains "add a WHERE clause that names the rows to change" if {
	some r in deny
	endswith(r, " without WHERE is not allowed")
	r != "MERGE without WHERE is not allowed"
}

next_steps contains "make the MERGE's ON condition, or its WHEN ... AND condition, name the target's rows to change" if {
	"MERGE without WHERE is not allowed" in deny
}

next_steps contains "do not retry: internal.* is never accessible through regate" if "internal.* is never accessible" in deny

next_steps contains "schema-qualify the table (for example public.orders)" if {
	some r in deny
	startswith(r, "cannot tell which schema ")
}

next_steps contains "select the masked columns with a plain SELECT instead of COPY" if "COPY of tables with masked columns is not allowed" in deny
