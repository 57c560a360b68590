// The SQL regate's catalog runs on its own upstream connection. Pure text builders; catalog.ts runs them.
import { literal } from "./simple-query.js";

/**
 * Relations that expose what the policy cannot see as columns, derived from the catalog rather than
 * listed by name:
 *  - value-bearing: a column of a pseudo-type (anyarray: planner statistics hold sample values of any
 *    column), or of the row type (or an array of it) of such a relation (extended statistics);
 *  - a view whose rewrite rule depends, directly or through other views, on a value-bearing relation
 *    or on a volatile set-returning function (backend activity, statement statistics, locks, ...).
 */
const EXPOSING = `WITH RECURSIVE
  pseudo AS (
    SELECT DISTINCT a.attrelid AS oid FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     WHERE a.attnum > 0 AND NOT a.attisdropped AND t.typtype = 'p'),
  valued AS (
    SELECT oid FROM pseudo
    UNION
    SELECT a.attrelid FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
     WHERE a.attnum > 0 AND NOT a.attisdropped
       AND (t.typrelid IN (SELECT oid FROM pseudo) OR e.typrelid IN (SELECT oid FROM pseudo))),
  exposing(cls, oid) AS (
    SELECT 'pg_catalog.pg_class'::regclass::oid, oid FROM valued
    UNION
    SELECT 'pg_catalog.pg_proc'::regclass::oid, p.oid FROM pg_catalog.pg_proc p WHERE p.provolatile = 'v' AND p.proretset
    UNION
    SELECT 'pg_catalog.pg_class'::regclass::oid, r.ev_class
      FROM exposing x
      JOIN pg_catalog.pg_depend d ON d.refclassid = x.cls AND d.refobjid = x.oid AND d.classid = 'pg_catalog.pg_rewrite'::regclass
      JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
     WHERE r.ev_class <> d.refobjid)`;

/** One row per relation found: oid, schema, name, relkind, columns (JSON, "" for dropped), view body, exposes ('t'/'f'). */
export function relationsQuery(pairs: readonly (readonly [string, string])[]): string {
  const list = pairs.map(([s, n]) => `(${literal(s)}, ${literal(n)})`).join(", ");
  return `${EXPOSING}
SELECT c.oid, n.nspname, c.relname, c.relkind,
    coalesce((SELECT array_to_json(array_agg(CASE WHEN a.attisdropped THEN '' ELSE a.attname::text END ORDER BY a.attnum))::text
              FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0), '[]'),
    CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
    EXISTS (SELECT 1 FROM exposing x WHERE x.cls = 'pg_catalog.pg_class'::regclass AND x.oid = c.oid)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE (n.nspname, c.relname) IN (VALUES ${list})`;
}

/**
 * One row per (schema, name) of the functions named: the least stable overload (provolatile sorts
 * i < s < v) and whether any overload is a volatile set-returning function (a data source the
 * analysis cannot see into).
 */
export function functionsQuery(names: readonly string[]): string {
  const list = names.map(literal).join(", ");
  return `SELECT n.nspname, p.proname, max(p.provolatile::text), bool_or(p.provolatile = 'v' AND p.proretset)
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname IN (${list})
 GROUP BY 1, 2`;
}

export const NOTIFY_CHANNEL = "regate_catalog";
export const HOOK_FUNCTION = "regate_catalog_notify";

/** The event triggers `regate catalog-hooks` installs: every DDL command and every drop NOTIFYs regate. */
export function catalogHooksSql(schema = "public"): string {
  const fn = `${quoteIdent(schema)}.${HOOK_FUNCTION}`;
  return `-- regate catalog hooks: NOTIFY ${NOTIFY_CHANNEL} after DDL so every regate drops its cached
-- catalog facts at once (without them regate re-checks within postgres.catalog.max_staleness_ms).
-- Needs a superuser (event triggers). Safe to run again.
BEGIN;
CREATE OR REPLACE FUNCTION ${fn}() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $regate$
BEGIN
  PERFORM pg_catalog.pg_notify('${NOTIFY_CHANNEL}', TG_EVENT || ' ' || TG_TAG);
END
$regate$;
REVOKE ALL ON FUNCTION ${fn}() FROM PUBLIC;
DROP EVENT TRIGGER IF EXISTS regate_catalog_ddl;
DROP EVENT TRIGGER IF EXISTS regate_catalog_drop;
CREATE EVENT TRIGGER regate_catalog_ddl ON ddl_command_end EXECUTE FUNCTION ${fn}();
CREATE EVENT TRIGGER regate_catalog_drop ON sql_drop EXECUTE FUNCTION ${fn}();
COMMIT;
`;
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}
