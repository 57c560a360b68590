// Functions known by name, where the name alone changes the facts: SQL run from text (opaque), aggregates
// (made of the rows of their level) and set-returning functions (the number of rows depends on them).

// Functions that run SQL given as text, or read relations named by an argument: the statement's own
// facts cannot show what they touch. Built-ins found in pg_proc (a `query text` or refcursor argument,
// or a regclass read whole), and extensions that do the same: tablefunc builds and runs queries from
// its text arguments, pg_background runs its text in another backend. ts_rewrite(tsquery, text) is
// one too: funcCall tells it from the three-tsquery form by its arity.
export const SQL_TEXT_FUNCTIONS = new Set([
  "query_to_xml",
  "query_to_xmlschema",
  "query_to_xml_and_xmlschema",
  "cursor_to_xml",
  "cursor_to_xmlschema",
  "table_to_xml",
  "table_to_xmlschema",
  "table_to_xml_and_xmlschema",
  "schema_to_xml",
  "schema_to_xmlschema",
  "schema_to_xml_and_xmlschema",
  "database_to_xml",
  "database_to_xmlschema",
  "database_to_xml_and_xmlschema",
  "ts_stat",
  "crosstab",
  "crosstab2",
  "crosstab3",
  "crosstab4",
  "connectby",
  "pg_background_launch",
]);

// PostgreSQL's built-in aggregates (pg_proc prokind 'a'). Called without *, DISTINCT, ORDER BY, FILTER,
// OVER or WITHIN GROUP, an aggregate looks like any function: these are known by name. Its value is made
// of the rows of its level. A user-defined aggregate called plainly is not recognised (see README).
export const AGGREGATES = new Set([
  "array_agg", "avg", "bit_and", "bit_or", "bit_xor", "bool_and", "bool_or", "count", "every", "max", "min",
  "sum", "string_agg", "xmlagg", "any_value", "range_agg", "range_intersect_agg",
  "json_agg", "json_agg_strict", "jsonb_agg", "jsonb_agg_strict", "json_object_agg", "json_object_agg_strict",
  "json_object_agg_unique", "json_object_agg_unique_strict", "jsonb_object_agg", "jsonb_object_agg_strict",
  "jsonb_object_agg_unique", "jsonb_object_agg_unique_strict",
  "corr", "covar_pop", "covar_samp", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2",
  "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "stddev", "stddev_pop", "stddev_samp", "variance",
  "var_pop", "var_samp",
]);

// Built-in set-returning functions (pg_proc proretset in pg_catalog, PostgreSQL 18): in a select list, how
// many rows there are depends on their arguments. Missing one lets `count(*)` over a subquery read what chose
// its rows (`jsonb_path_query_tz(..., '$[*] ? (@ <= $x)', ...)` returns as many rows as $x); the Postgres
// exfiltration red-team suite checks this list against the server's catalog.
export const SET_RETURNING = new Set([
  "aclexplode", "generate_series", "generate_subscripts", "json_array_elements", "json_array_elements_text",
  "json_each", "json_each_text", "json_object_keys", "json_populate_recordset", "json_to_recordset",
  "jsonb_array_elements", "jsonb_array_elements_text", "jsonb_each", "jsonb_each_text", "jsonb_object_keys",
  "jsonb_path_query", "jsonb_path_query_tz", "jsonb_populate_recordset", "jsonb_to_recordset",
  "pg_available_extension_versions", "pg_available_extensions", "pg_available_wal_summaries", "pg_config",
  "pg_cursor", "pg_event_trigger_ddl_commands", "pg_event_trigger_dropped_objects", "pg_extension_update_paths",
  "pg_get_aios", "pg_get_backend_memory_contexts", "pg_get_catalog_foreign_keys", "pg_get_keywords",
  "pg_get_loaded_modules", "pg_get_multixact_members", "pg_get_publication_tables", "pg_get_replication_slots",
  "pg_get_shmem_allocations", "pg_get_shmem_allocations_numa", "pg_get_wait_events", "pg_get_wal_resource_managers",
  "pg_hba_file_rules", "pg_ident_file_mappings", "pg_listening_channels", "pg_lock_status",
  "pg_logical_slot_get_binary_changes", "pg_logical_slot_get_changes", "pg_logical_slot_peek_binary_changes",
  "pg_logical_slot_peek_changes", "pg_ls_archive_statusdir", "pg_ls_dir", "pg_ls_logdir", "pg_ls_logicalmapdir",
  "pg_ls_logicalsnapdir", "pg_ls_replslotdir", "pg_ls_summariesdir", "pg_ls_tmpdir", "pg_ls_waldir",
  "pg_mcv_list_items", "pg_options_to_table", "pg_partition_ancestors", "pg_partition_tree",
  "pg_prepared_statement", "pg_prepared_xact", "pg_show_all_file_settings", "pg_show_all_settings",
  "pg_show_replication_origin_status", "pg_snapshot_xip", "pg_stat_get_activity", "pg_stat_get_backend_idset",
  "pg_stat_get_backend_io", "pg_stat_get_io", "pg_stat_get_progress_info", "pg_stat_get_recovery_prefetch",
  "pg_stat_get_slru", "pg_stat_get_subscription", "pg_stat_get_wal_senders", "pg_tablespace_databases",
  "pg_timezone_abbrevs_abbrevs", "pg_timezone_abbrevs_zone", "pg_timezone_names", "pg_wal_summary_contents",
  "regexp_matches", "regexp_split_to_table", "string_to_table", "ts_debug", "ts_parse", "ts_stat",
  "ts_token_type", "txid_snapshot_xip", "unnest",
]);
