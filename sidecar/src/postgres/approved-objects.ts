import { createHash } from "node:crypto";
import { literal } from "./simple-query.js";
import { isTemporarySchema } from "./sql/temporary.js";
import type { AnalysisResult } from "./sql/types.js";

/** What a statement's names resolve to, read from the catalog when an approval is asked and when it is used. */
export interface ResolvedObjects {
  /** SHA-256 over every object the names may reach, with its OID and definition; absent: the statement names none. */
  digest?: string;
  /**
   * What a reviewer would not guess from the text: a name that resolves to a temporary relation, to another
   * schema's than regate's analysis named, or that several schemas on the path hold (one shadows the others);
   * each as `view app_scram.orders (before public.orders)`. Empty when every name means what it plainly reads as.
   */
  surprises: string[];
}

interface RelationName {
  name: string;
  /** Where the server looks, in its order (`pg_temp`: the session's temporary schema). */
  schemas: string[];
  /** The schema regate's analysis resolved it to (what the policy was shown). */
  analysed: string | null;
}

/** The catalog connection's query (search_path pg_catalog, so definitions print every name with its schema). */
export type CatalogQuery = (sql: string) => Promise<(string | null)[][]>;

/** The agent's temporary schema is not the catalog connection's: any session's temporary schema stands for it. */
const TEMP = "pg_temp";

const KIND: Readonly<Record<string, string>> = {
  r: "table",
  p: "partitioned table",
  v: "view",
  m: "materialized view",
  f: "foreign table",
  S: "sequence",
  c: "composite type",
  i: "index",
  I: "partitioned index",
  t: "TOAST table",
};

/**
 * A statement's text names objects, and a grant must be for what the reviewer approved, not for the text:
 * between the approval and the re-run, the text can come to mean other objects (CREATE OR REPLACE of a
 * function or view; a temporary relation, or one of an earlier schema of the search_path, of the same name;
 * a relation dropped and another renamed into its place). The digest covers every relation each name may
 * resolve to (each candidate schema, any session's temporary schema) with its OID, columns, rules (a view's
 * body), triggers, defaults and row security, and every function of each name called (all overloads) with
 * its OID, owner and definition. OIDs and definitions are the database's, so an unchanged object gives the
 * same digest in any regate process, and a restarted regate can spend a grant it did not see given. The
 * session's SQL-level prepared statements and cursors (`sqlNames`: kind, name, text) join it: EXECUTE and
 * FETCH run what was last prepared or declared under their name.
 */
export async function resolvedObjects(query: CatalogQuery, analysis: AnalysisResult | undefined, sqlNames: readonly (readonly string[])[] = []): Promise<ResolvedObjects> {
  const relations = new Map<string, RelationName>();
  const functions = new Map<string, { name: string; schema: string | null }>();
  for (const s of analysis?.statements ?? []) {
    for (const t of s.tables) {
      const schemas = t.candidates.length > 0 ? t.candidates : t.schema ? [t.schema] : [];
      relations.set(`${t.name}\u0000${schemas.join("\u0000")}`, { name: t.name, schemas, analysed: t.schema });
    }
    for (const f of s.functions) functions.set(`${f.name}\u0000${f.schema ?? ""}`, { name: f.name, schema: f.schema });
  }
  const hash = createHash("sha256").update(JSON.stringify(sqlNames));
  if (relations.size === 0 && functions.size === 0) return sqlNames.length > 0 ? { digest: hash.digest("hex"), surprises: [] } : { surprises: [] };
  const rows = await query(objectsQuery([...relations.values()], [...functions.values()]));
  for (const row of rows) hash.update(JSON.stringify(row));
  return { digest: hash.digest("hex"), surprises: surprises(rows, [...relations.values()], [...functions.values()]) };
}

/** Inheritance children named to a reviewer at most (the digest covers all of them). */
const MAX_CHILDREN_NAMED = 10;

function inSchema(wanted: string, schema: string): boolean {
  return wanted === schema || (wanted === TEMP && isTemporarySchema(schema));
}

/** Names whose resolution a reviewer reading the text would not expect (ResolvedObjects.surprises). */
function surprises(rows: (string | null)[][], relations: RelationName[], functions: { name: string; schema: string | null }[]): string[] {
  const out = new Set<string>();
  for (const r of relations) {
    const found: (string | null)[][] = [];
    for (const schema of r.schemas) found.push(...rows.filter(([kind, nsp, name]) => kind === "r" && name === r.name && inSchema(schema, nsp!)));
    const [first, ...after] = found;
    if (!first) continue;
    const temporary = isTemporarySchema(first[1]!);
    if (!temporary && after.length === 0 && (r.analysed === null || r.analysed === first[1])) continue;
    const shadowed = after.length > 0 ? ` (before ${after.map((x) => `${x[1]}.${x[2]}`).join(", ")})` : "";
    out.add(`${temporary ? "temporary " : ""}${KIND[first[4]!] ?? "relation"} ${first[1]}.${first[2]}${shadowed}`);
  }
  // Rows of other tables the text does not name: inheritance children (a partition is its table's own rows).
  const children = rows.filter(([kind]) => kind === "d");
  if (children.length > 0) {
    const shown = children.slice(0, MAX_CHILDREN_NAMED).map((x) => `${KIND[x[4]!] ?? "relation"} ${x[1]}.${x[2]} (a child of ${x[6]})`);
    const more = children.length > MAX_CHILDREN_NAMED ? `, and ${children.length - MAX_CHILDREN_NAMED} more` : "";
    out.add(`the rows of inheritance children, unless the statement says ONLY: ${shown.join(", ")}${more}`);
  }
  for (const f of functions) {
    if (f.schema !== null) continue;
    const schemas = [...new Set(rows.filter(([kind, , name]) => kind === "f" && name === f.name).map((x) => x[1]!))];
    if (schemas.length > 1) out.add(`function ${f.name} of ${schemas.join(", ")} (the search_path and the argument types pick one)`);
  }
  return [...out];
}

function values(pairs: [string, string][]): string {
  return pairs.length > 0 ? pairs.map(([a, b]) => `(${literal(a)}, ${literal(b)})`).join(", ") : "(NULL, NULL)";
}

/**
 * One row per object: kind, schema, name, OID, relkind or prokind, md5 of its definition, and a relation's
 * parents by name. Kind `r`: a relation a name may resolve to; `d` and `p`: an inheritance child or a partition
 * below one, at any depth (UPDATE, DELETE and SELECT without ONLY reach its rows and fire its row triggers, so
 * making a table a child of an approved one, or adding a trigger to a child, changes what the approval runs);
 * `f`: a function. A relation's definition covers its place in the tree (its parents, its partition bound).
 */
function objectsQuery(relations: { name: string; schemas: string[] }[], functions: { name: string; schema: string | null }[]): string {
  const rel = values(relations.flatMap((r) => r.schemas.map((s): [string, string] => [s, r.name])));
  const fn = values(functions.map((f): [string, string] => [f.schema ?? "", f.name]));
  const temp = (nsp: string) => `(${nsp} = n.nspname OR ${nsp} = '${TEMP}' AND n.nspname ~ '^pg_temp_[0-9]+$')`;
  return `WITH RECURSIVE rel(nsp, name) AS (VALUES ${rel}), fn(nsp, name) AS (VALUES ${fn}),
named(oid) AS (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE EXISTS (SELECT 1 FROM rel WHERE rel.name = c.relname AND ${temp("rel.nsp")})),
tree(oid) AS (SELECT oid FROM named UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.oid)
SELECT CASE WHEN c.oid IN (SELECT oid FROM named) THEN 'r' WHEN c.relispartition THEN 'p' ELSE 'd' END, n.nspname::text, c.relname::text, c.oid::text, c.relkind::text, pg_catalog.md5(pg_catalog.concat_ws(E'\\n',
    c.relowner::text, c.relrowsecurity::text, c.relforcerowsecurity::text, c.relispartition::text,
    coalesce(pg_catalog.pg_get_expr(c.relpartbound, c.oid), ''),
    coalesce((SELECT pg_catalog.string_agg(i.inhparent::text, ',' ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid), ''),
    coalesce((SELECT pg_catalog.string_agg(a.attnum::text || ':' || a.attname::text || ':' || a.atttypid::text || ':' || a.atttypmod::text || ':' || a.attgenerated::text, ',' ORDER BY a.attnum)
                FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), ''),
    coalesce((SELECT pg_catalog.string_agg(d.adnum::text || ':' || d.adbin::text, ',' ORDER BY d.adnum) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = c.oid), ''),
    coalesce((SELECT pg_catalog.string_agg(r.rulename::text || ':' || r.ev_type::text || ':' || r.ev_enabled::text || ':' || r.is_instead::text || ':'
                     || coalesce(r.ev_qual::text, '') || ':' || r.ev_action::text, ',' ORDER BY r.rulename)
                FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid), ''),
    coalesce((SELECT pg_catalog.string_agg(t.tgname::text || ':' || t.tgenabled::text || ':' || t.tgtype::text || ':' || t.tgfoid::text || ':'
                     || pg_catalog.encode(t.tgargs, 'hex') || ':' || coalesce(t.tgqual::text, '') || ':' || pg_catalog.md5(coalesce(pg_catalog.pg_get_functiondef(t.tgfoid), '')), ',' ORDER BY t.tgname)
                FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid), ''),
    coalesce((SELECT pg_catalog.string_agg(p.polname::text || ':' || p.polcmd::text || ':' || p.polpermissive::text || ':' || p.polroles::text || ':'
                     || coalesce(p.polqual::text, '') || ':' || coalesce(p.polwithcheck::text, ''), ',' ORDER BY p.polname)
                FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid), ''))),
    (SELECT pg_catalog.string_agg(pn.nspname::text || '.' || pc.relname::text, ', ' ORDER BY i.inhseqno)
       FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE i.inhrelid = c.oid)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid IN (SELECT oid FROM tree)
UNION ALL
SELECT 'f', n.nspname::text, p.proname::text, p.oid::text, p.prokind::text, pg_catalog.md5(pg_catalog.concat_ws(E'\\n', p.proowner::text,
    CASE WHEN p.prokind = 'a' THEN (SELECT g::text FROM pg_catalog.pg_aggregate g WHERE g.aggfnoid = p.oid) ELSE pg_catalog.pg_get_functiondef(p.oid) END)), NULL::text
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE EXISTS (SELECT 1 FROM fn WHERE fn.name = p.proname AND (fn.nsp = '' OR ${temp("fn.nsp")}))
 ORDER BY 1, 2, 3, 4`;
}
