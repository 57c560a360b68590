// The SQL regate's catalog runs on its own upstream connection. Pure text builders; catalog.ts runs them.
import { literal } from "./simple-query.js";

/**
 * Value columns of a relation: columns of a pg_catalog table that PostgreSQL withholds from PUBLIC (no
 * SELECT for PUBLIC on the table or on the column). That is how the catalog itself marks what holds
 * data rather than names: planner statistics (pg_statistic, pg_statistic_ext_data keep sample values
 * of any column), role secrets (pg_authid), large objects, user mappings' options. regate's upstream
 * role may be allowed what an ordinary role is not, so they count as data. resolve.ts treats a system
 * view as exposing when its definition reads one of these, or calls a system data source (see
 * functionsQuery).
 */
const VALUE_COLUMNS = `coalesce((SELECT array_to_json(array_agg(a.attname::text ORDER BY a.attnum))::text
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       AND n.nspname = 'pg_catalog' AND c.relkind = 'r'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) x
                        WHERE x.grantee = 0 AND x.privilege_type = 'SELECT')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(a.attacl) x WHERE x.grantee = 0 AND x.privilege_type = 'SELECT')), '[]')`;

/** One row per relation found: oid, schema, name, relkind, columns (JSON, "" for dropped), view body, value columns (JSON). */
export function relationsQuery(pairs: readonly (readonly [string, string])[]): string {
  const list = pairs.map(([s, n]) => `(${literal(s)}, ${literal(n)})`).join(", ");
  return `SELECT c.oid, n.nspname, c.relname, c.relkind,
    coalesce((SELECT array_to_json(array_agg(CASE WHEN a.attisdropped THEN '' ELSE a.attname::text END ORDER BY a.attnum))::text
              FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0), '[]'),
    CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
    ${VALUE_COLUMNS}
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE (n.nspname, c.relname) IN (VALUES ${list})`;
}

/**
 * One row per (schema, name) of the functions named: the least stable overload (provolatile sorts
 * i < s < v), and whether every overload is a system data source: a set-returning function, not
 * immutable, of pg_catalog or of an extension (backend activity, statement statistics, locks,
 * settings files, ... whose rows the analysis cannot see into).
 */
export function functionsQuery(names: readonly string[]): string {
  const list = names.map(literal).join(", ");
  return `SELECT n.nspname, p.proname, max(p.provolatile::text),
       bool_and(p.proretset AND p.provolatile <> 'i'
                AND (n.nspname = 'pg_catalog'
                     OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend x
                                 WHERE x.classid = 'pg_catalog.pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e')))
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
