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

// Built-in set-returning functions: in a select list, how many rows there are depends on their arguments.
export const SET_RETURNING = new Set([
  "generate_series", "generate_subscripts", "unnest", "regexp_matches", "regexp_split_to_table",
  "string_to_table", "json_array_elements", "json_array_elements_text", "jsonb_array_elements",
  "jsonb_array_elements_text", "json_each", "json_each_text", "jsonb_each", "jsonb_each_text",
  "json_object_keys", "jsonb_object_keys", "jsonb_path_query", "json_populate_recordset",
  "jsonb_populate_recordset", "json_to_recordset", "jsonb_to_recordset",
]);
