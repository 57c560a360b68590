// The SQL regate's catalog runs on its own upstream connection. Pure text builders; catalog.ts runs them.
import { literal } from "./simple-query.js";

/**
 * Value columns of a relation: columns of a pg_catalog table that PostgreSQL withholds from PUBLIC (no
 * SELECT for PUBLIC on the table or on the column), that is how the catalog itself marks what holds
 * data: planner statistics (pg_statistic, pg_statistic_ext_data keep sample values of any column),
 * role secrets (pg_authid), large objects, user mappings' options. Numbers, booleans, times and
 * identifiers (type name) in them are metadata (pg_roles reads pg_authid's names and flags); the
 * rest counts as data, since regate's upstream role may be allowed what an ordinary role is not. resolve.ts treats a system
 * view as exposing when its definition reads one of these, or calls a system data source (see
 * functionsQuery).
 */
const VALUE_COLUMNS = `coalesce((SELECT array_to_json(array_agg(a.attname::text ORDER BY a.attnum))::text
      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       AND n.nspname = 'pg_catalog' AND c.relkind = 'r'
       AND t.typcategory NOT IN ('N', 'B', 'D') AND t.oid <> 'pg_catalog.name'::regtype
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) x
                        WHERE x.grantee = 0 AND x.privilege_type = 'SELECT')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(a.attacl) x WHERE x.grantee = 0 AND x.privilege_type = 'SELECT')), '[]')`;

/**
 * Sequences that belong to a column, as pg_depend records them and pg_get_serial_sequence reads them: an
 * auto ('a', serial, OWNED BY) or internal ('i', identity) dependency of a sequence on the column. For a
 * sequence, its column as [schema, table, column] (JSON, one entry per such dependency); for a table, its
 * columns' sequences as {column: [[schema, sequence], ...]}.
 */
const SEQUENCE_OWNER = `CASE WHEN c.relkind = 'S' THEN (SELECT json_agg(json_build_array(tn.nspname, t.relname, a.attname) ORDER BY a.attnum)::text
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
      JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
      JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.objsubid = 0
       AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')) END`;
const SERIAL_SEQUENCES = `CASE WHEN c.relkind IN ('r', 'p', 'f') THEN (SELECT json_object_agg(x.attname, x.seqs ORDER BY x.attname)::text FROM (
      SELECT a.attname, json_agg(json_build_array(sn.nspname, s.relname) ORDER BY s.oid) AS seqs
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
       WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = c.oid AND d.refobjsubid > 0
         AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0 AND d.deptype IN ('a', 'i')
       GROUP BY a.attname) x) END`;

/**
 * For a sequence, the tables whose column defaults call it (`DEFAULT nextval('s')`: pg_depend of the
 * default, pg_attrdef, on the sequence), as [schema, table] (JSON): a serial's own table, and any other
 * table that draws its numbers from the same sequence. Left out: a partition or inheritance child of the
 * table the sequence belongs to, reached from it through tables of one parent each (PostgreSQL copies a
 * serial's default to every partition, at every level, and to INHERITS children). Its rows are that table's
 * rows, and writing it is judged as writing that table (resolve-ancestors.ts), so the sequence still numbers
 * one table's rows. A child with a second parent (INHERITS (orders, customers)) holds the other's rows too:
 * it stays another table.
 */
const SEQUENCE_DEFAULT_OF = `CASE WHEN c.relkind = 'S' THEN (SELECT json_agg(json_build_array(x.nspname, x.relname) ORDER BY x.nspname, x.relname)::text FROM (
      SELECT DISTINCT tn.nspname, t.relname
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
        JOIN pg_catalog.pg_class t ON t.oid = ad.adrelid
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
       WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
         AND d.refobjid = c.oid AND d.refobjsubid = 0
         AND NOT EXISTS (
           WITH RECURSIVE up(oid, depth) AS (
               SELECT t.oid, 0
               UNION ALL
               SELECT i.inhparent, up.depth + 1 FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.oid
                WHERE up.depth < 100
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i2 WHERE i2.inhrelid = up.oid AND i2.inhparent <> i.inhparent))
           SELECT 1 FROM up JOIN pg_catalog.pg_depend o ON o.refobjid = up.oid
            WHERE up.depth > 0 AND o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objid = c.oid AND o.objsubid = 0
              AND o.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.refobjsubid > 0 AND o.deptype IN ('a', 'i'))) x) END`;

/**
 * A table's ancestors: the tables it inherits from (INHERITS) or is a partition of, and theirs, as pg_inherits
 * records both, nearest first (by depth, then oid), as [schema, name, [column names], [[schema, name] of its own
 * parents]] (JSON; the parents give each ancestor its own ancestors, catalog-facts.ts). A child has
 * every column of each of its ancestors, under the same name (PostgreSQL matches inherited columns by name
 * and renames them together), so an ancestor's column names are the child's columns that are the
 * ancestor's. Partitioned indexes are in pg_inherits too: only tables are asked.
 */
const ANCESTORS = `CASE WHEN c.relkind IN ('r', 'p', 'f') AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i0 WHERE i0.inhrelid = c.oid)
      THEN (SELECT json_agg(json_build_array(an.nspname, a.relname,
                    (SELECT coalesce(json_agg(att.attname ORDER BY att.attnum), '[]'::json) FROM pg_catalog.pg_attribute att
                      WHERE att.attrelid = a.oid AND att.attnum > 0 AND NOT att.attisdropped),
                    (SELECT coalesce(json_agg(json_build_array(pn.nspname, p.relname) ORDER BY p.oid), '[]'::json)
                       FROM pg_catalog.pg_inherits pi JOIN pg_catalog.pg_class p ON p.oid = pi.inhparent
                       JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
                      WHERE pi.inhrelid = a.oid))
                  ORDER BY x.depth, a.oid)::text
      FROM (WITH RECURSIVE up(oid, depth) AS (
              SELECT i.inhparent, 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid
              UNION
              SELECT i.inhparent, up.depth + 1 FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.oid WHERE up.depth < 100)
            SELECT up.oid, min(up.depth) AS depth FROM up GROUP BY up.oid) x
      JOIN pg_catalog.pg_class a ON a.oid = x.oid
      JOIN pg_catalog.pg_namespace an ON an.oid = a.relnamespace) END`;

/**
 * A table's descendants: its inheritance children and partitions, and theirs (pg_inherits downwards), nearest
 * first (by depth, then oid), as [schema, name, [[schema, name, [column names]] of its other ancestors]] (JSON).
 * Their rows are this table's rows to a statement that does not say ONLY, wherever their schemas are. A
 * descendant's other ancestors are its parents outside this table's own line (not this table, not one of its
 * ancestors, not another of its descendants), and theirs: a child of two parents (INHERITS (orders, customers))
 * holds rows of the second too, so changing the first without ONLY changes them, and reading it reads their
 * columns that share its names (a deeper descendant's rows are its parent's: that child of two carries them). A
 * temporary child is left out: PostgreSQL skips another session's for every other session (an application's
 * session would have the agent's reads refused), and the agent's own holds what its session put there.
 */
const DESCENDANTS = `CASE WHEN c.relkind IN ('r', 'p', 'f') AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i0 WHERE i0.inhparent = c.oid)
      THEN (WITH RECURSIVE down(oid, depth) AS (
              SELECT i.inhrelid, 1 FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid
              UNION
              SELECT i.inhrelid, down.depth + 1 FROM pg_catalog.pg_inherits i JOIN down ON i.inhparent = down.oid WHERE down.depth < 100),
            above(oid, depth) AS (
              SELECT i.inhparent, 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid
              UNION
              SELECT i.inhparent, above.depth + 1 FROM pg_catalog.pg_inherits i JOIN above ON i.inhrelid = above.oid WHERE above.depth < 100),
            line(oid) AS (SELECT c.oid UNION SELECT oid FROM down UNION SELECT oid FROM above),
            -- A partition has one parent: only a child of two (rare) starts a walk up, so a wide partition tree costs nothing more.
            reach(child, oid, depth) AS (
              SELECT i.inhrelid, i.inhparent, 1 FROM pg_catalog.pg_inherits i
               WHERE i.inhrelid IN (SELECT oid FROM down) AND i.inhparent NOT IN (SELECT oid FROM line)
              UNION
              SELECT reach.child, i.inhparent, reach.depth + 1 FROM pg_catalog.pg_inherits i JOIN reach ON i.inhrelid = reach.oid
               WHERE reach.depth < 100 AND i.inhparent NOT IN (SELECT oid FROM line)),
            others(child, list) AS (
              SELECT r.child, json_agg(json_build_array(on2.nspname, o.relname,
                       (SELECT coalesce(json_agg(att.attname ORDER BY att.attnum), '[]'::json) FROM pg_catalog.pg_attribute att
                         WHERE att.attrelid = o.oid AND att.attnum > 0 AND NOT att.attisdropped)) ORDER BY o.oid)
                FROM (SELECT DISTINCT child, oid FROM reach) r
                JOIN pg_catalog.pg_class o ON o.oid = r.oid
                JOIN pg_catalog.pg_namespace on2 ON on2.oid = o.relnamespace
               GROUP BY r.child)
      SELECT json_agg(json_build_array(dn.nspname, d.relname, coalesce(ot.list, '[]'::json)) ORDER BY x.depth, d.oid)::text
      FROM (SELECT down.oid, min(down.depth) AS depth FROM down GROUP BY down.oid) x
      JOIN pg_catalog.pg_class d ON d.oid = x.oid AND d.relkind IN ('r', 'p', 'f') AND d.relpersistence <> 't'
      JOIN pg_catalog.pg_namespace dn ON dn.oid = d.relnamespace
      LEFT JOIN others ot ON ot.child = d.oid) END`;

/**
 * A table's generated columns (attgenerated: stored or virtual) and what each is made of, as pg_depend records it
 * for the column's expression (its pg_attrdef entry depends on every column the expression reads, which is how
 * `DROP COLUMN ssn` reaches `ssn_last4`; the entry's internal dependency on its own column is not a read):
 * {column: [column names]} (JSON), or {column: null} when the expression calls a function or operator outside
 * pg_catalog (its body is code regate does not see: the value's lineage is not known; pg_catalog's own are pinned
 * and leave no rows). A whole-row reference ("*") cannot be written in a generation expression; one in the
 * catalog would stand for every column.
 */
const GENERATED = `CASE WHEN c.relkind IN ('r', 'p', 'f') THEN (SELECT json_object_agg(g.attname, g.made_of ORDER BY g.attnum)::text FROM (
      SELECT a.attnum, a.attname,
             CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    LEFT JOIN pg_catalog.pg_proc p ON d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid = d.refobjid
                    LEFT JOIN pg_catalog.pg_operator o ON d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND o.oid = d.refobjid
                   WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
                     AND (p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace OR o.oprnamespace <> 'pg_catalog'::pg_catalog.regnamespace))
                  THEN NULL
                  ELSE (SELECT coalesce(json_agg(CASE WHEN d.refobjsubid = 0 THEN '*' ELSE b.attname::text END ORDER BY d.refobjsubid), '[]'::json)
                          FROM pg_catalog.pg_depend d
                          LEFT JOIN pg_catalog.pg_attribute b ON b.attrelid = d.refobjid AND b.attnum = d.refobjsubid
                         WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
                           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = c.oid
                           AND NOT (d.refobjsubid = a.attnum AND d.deptype = 'i')) END AS made_of
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> '') g) END`;

/**
 * A relation's rewrite rules other than SELECT ones (a view's `_RETURN`), as [rule name, ev_type] (JSON; ev_type
 * '2' UPDATE, '3' INSERT, '4' DELETE), by name. Such a rule makes an INSERT, UPDATE or DELETE of the relation run
 * its actions as well (DO ALSO) or instead (DO INSTEAD): statements of their own on any table, which the
 * statement's text does not show. pg_rewrite is asked directly: relhasrules may stay true after the last DROP RULE,
 * and a disabled rule (ev_enabled 'D') is counted too, as ALTER TABLE ... ENABLE RULE is one DDL away.
 */
const RULES = `(SELECT json_agg(json_build_array(r.rulename, r.ev_type) ORDER BY r.rulename)::text
      FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.ev_type <> '1')`;

/**
 * One row per relation found: oid, schema, name, relkind, columns (JSON, "" for dropped), view body,
 * value columns (JSON), withheld ('t': a pg_catalog table PUBLIC may not SELECT), the column a sequence
 * belongs to, a table's columns' sequences, the tables whose defaults call a sequence
 * (SEQUENCE_OWNER, SERIAL_SEQUENCES, SEQUENCE_DEFAULT_OF), a table's ancestors (ANCESTORS), its generated
 * columns (GENERATED), its descendants (DESCENDANTS) and its rewrite rules (RULES).
 */
export function relationsQuery(pairs: readonly (readonly [string, string])[]): string {
  const list = pairs.map(([s, n]) => `(${literal(s)}, ${literal(n)})`).join(", ");
  return `SELECT c.oid, n.nspname, c.relname, c.relkind,
    coalesce((SELECT array_to_json(array_agg(CASE WHEN a.attisdropped THEN '' ELSE a.attname::text END ORDER BY a.attnum))::text
              FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0), '[]'),
    CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
    ${VALUE_COLUMNS},
    n.nspname = 'pg_catalog' AND c.relkind = 'r'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) x
                       WHERE x.grantee = 0 AND x.privilege_type = 'SELECT'),
    ${SEQUENCE_OWNER},
    ${SERIAL_SEQUENCES},
    ${SEQUENCE_DEFAULT_OF},
    ${ANCESTORS},
    ${GENERATED},
    ${DESCENDANTS},
    ${RULES}
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE (n.nspname, c.relname) IN (VALUES ${list})`;
}

/**
 * A function `p` returns a value of a data type (VALUE_COLUMNS' rule: not a number, boolean, time or name): its
 * result type, or for a record, any of its OUT columns.
 */
const RETURNS_DATA = `EXISTS (SELECT 1 FROM pg_catalog.pg_type ty
            WHERE (ty.oid = p.prorettype AND ty.typtype <> 'p'
                   OR ty.oid = ANY (SELECT r.t FROM ROWS FROM (pg_catalog.unnest(p.proallargtypes), pg_catalog.unnest(p.proargmodes)) AS r(t, m) WHERE r.m IN ('o', 'b', 't')))
              AND ty.typcategory NOT IN ('N', 'B', 'D') AND ty.oid <> 'pg_catalog.name'::pg_catalog.regtype)`;

/**
 * One row per (schema, name) of the functions named: the least stable overload (provolatile sorts
 * i < s < v), and whether every overload is a data source whose rows the analysis cannot see into:
 *  - a set-returning function, not immutable, that belongs to an extension (pg_stat_statements(),
 *    dblink, ...), or
 *  - a set-returning function, not immutable, of pg_catalog that a pg_catalog view calls together
 *    with a table PostgreSQL withholds from PUBLIC: the source behind such a view (pg_stat_get_activity
 *    behind pg_stat_activity). System views carry no pg_depend rows, so the definitions are searched.
 *  - a per-backend statistics accessor of pg_catalog (PostgreSQL names them pg_stat_get_backend_*: they take a
 *    backend id or pid, any session's, and no view calls them), not immutable, that returns a value of a data
 *    type by the value-column rule above: text or an address (pg_stat_get_backend_activity: another session's
 *    statement with its literals; _wait_event, _wait_event_type, _client_addr, _io's labels), where numbers,
 *    booleans, times and oids (_pid, _start, _dbid, _userid, _subxact, _wal, the idset) are metadata. An output
 *    column of a record result counts as a result.
 */
export function functionsQuery(names: readonly string[]): string {
  const list = names.map(literal).join(", ");
  return `WITH withheld AS (
    SELECT string_agg(c.relname, '|') AS names FROM pg_catalog.pg_class c
     WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) x
                        WHERE x.grantee = 0 AND x.privilege_type = 'SELECT')),
  system_views AS MATERIALIZED (
    SELECT pg_catalog.pg_get_viewdef(v.oid) AS def FROM pg_catalog.pg_class v
     WHERE v.relnamespace = 'pg_catalog'::regnamespace AND v.relkind = 'v'
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc q WHERE q.proname IN (${list}) AND q.proretset AND q.provolatile <> 'i'))
SELECT n.nspname, p.proname, max(p.provolatile::text),
       bool_and(p.provolatile <> 'i' AND (CASE
         WHEN NOT p.proretset THEN false
         WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_depend x
                       WHERE x.classid = 'pg_catalog.pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e') THEN true
         WHEN n.nspname = 'pg_catalog' THEN EXISTS (
           SELECT 1 FROM system_views v, withheld w
            WHERE v.def ~ ('\\m' || p.proname || '\\(') AND v.def ~ ('\\m(' || w.names || ')\\M'))
         ELSE false END OR (n.nspname = 'pg_catalog' AND p.proname LIKE 'pg\\_stat\\_get\\_backend\\_%' AND ${RETURNS_DATA}))),
       string_agg(n.nspname || '.' || p.oid::text || p.provolatile::text || p.proretset::text, ',' ORDER BY p.oid)
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname IN (${list})
 GROUP BY 1, 2`;
}

/**
 * A cheap fingerprint of the functions named, for the periodic re-check: one row per (schema, name)
 * with every overload's oid, volatility and set-returning flag. A difference triggers functionsQuery.
 */
export function functionsFingerprintQuery(names: readonly string[]): string {
  const list = names.map(literal).join(", ");
  return `SELECT p.proname, string_agg(n.nspname || '.' || p.oid::text || p.provolatile::text || p.proretset::text, ',' ORDER BY n.nspname, p.oid)
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname IN (${list})
 GROUP BY 1`;
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
