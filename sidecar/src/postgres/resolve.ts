import type { Catalog, RelationInfo } from "./catalog.js";
import { columnKey, NON_CONSTANT_RELATION } from "./sql/index.js";
import { withAncestors } from "./resolve-ancestors.js";
import { withGenerated } from "./resolve-generated.js";
import { withRules } from "./resolve-rules.js";
import type { AnalysisResult, ColumnRef, FunctionRef, OutputColumn, RelationRef, StatementFacts, Volatility } from "./sql/types.js";

/** Views inside views inside views: deeper than this is not followed (and is reported unknown). */
const MAX_VIEW_DEPTH = 4;
const SYSTEM_SCHEMAS = new Set(["pg_catalog", "information_schema"]);

/** Analyses with the catalog as lookup; searchPath overrides the session's (for view bodies). */
export type Analyze = (sql: string, searchPath?: string[]) => AnalysisResult;

/**
 * From SQL text to facts that name base tables: unqualified names resolved and `*` expanded through
 * the catalog, views replaced by what they read, so that a view over internal.* or over masked
 * columns is seen for what it is, generated columns seen as made of the columns their expressions read
 * (resolve-generated.ts), and inheritance children and partitions named as each of their ancestors too
 * (resolve-ancestors.ts), and a write of a relation with rewrite rules reported as not analysed (resolve-rules.ts).
 * Synchronous when the catalog already knows every relation.
 */
export function resolveAnalysis(sql: string, analyze: Analyze, catalog: Catalog): AnalysisResult | Promise<AnalysisResult> {
  // One parse when the catalog already knows every relation (the steady state); a second after a lookup.
  const result = analyze(sql);
  const pending = missingPairs(result, catalog);
  if (pending.length) return catalog.ensure(pending).then(() => resolveAnalysis(sql, analyze, catalog));
  const expanded = expandViews(result, analyze, catalog, 0);
  // Generated columns after views (a view's column is then its base table's), before ancestors (a child's ssn is its parent's).
  const generated = expanded instanceof Promise ? expanded.then((a) => withGenerated(a, catalog)) : withGenerated(expanded, catalog);
  const inherited = generated instanceof Promise ? generated.then((a) => withAncestors(a, catalog)) : withAncestors(generated, catalog);
  // Rules after views (writing an updatable view writes its base table, whose rules then fire).
  const ruled = inherited instanceof Promise ? inherited.then((a) => withRules(a, catalog)) : withRules(inherited, catalog);
  return ruled instanceof Promise ? ruled.then((a) => annotate(a, analyze, catalog)) : annotate(ruled, analyze, catalog);
}

const RANK: Record<Volatility, number> = { immutable: 0, stable: 1, volatile: 2 };

/**
 * Catalog facts the policy needs beside names: each function's volatility (the least stable overload
 * the name may resolve to; "volatile" when the catalog knows none) and whether it is a system data
 * source, and which relations expose other relations' values or other sessions' statements: a base
 * table whose value columns the statement reads, or a system view whose definition reads value
 * columns or calls a system data source (pg_stats, pg_stat_activity, pg_stats_ext, ...).
 */
function annotate(a: AnalysisResult, analyze: Analyze, catalog: Catalog): AnalysisResult | Promise<AnalysisResult> {
  const names = new Set<string>();
  for (const s of a.statements) for (const f of s.functions) if (catalog.functions(f.name) === undefined) names.add(f.name);
  if (names.size) return catalog.ensureFunctions(names).then(() => annotate(a, analyze, catalog));
  const views: RelationInfo[] = [];
  for (const s of a.statements) {
    for (const t of s.tables) {
      for (const schema of t.schema ? [t.schema] : t.candidates) {
        const info = catalog.relation(schema, t.name);
        if (info?.definition && SYSTEM_SCHEMAS.has(info.schema) && !viewExposes.has(info)) views.push(info);
      }
    }
  }
  if (views.length) {
    const pending = views.map((v) => classifyView(v, analyze, catalog, 0)).filter((p) => p instanceof Promise);
    if (pending.length) return Promise.all(pending).then(() => annotate(a, analyze, catalog));
  }
  return { ...a, statements: a.statements.map((s) => ({ ...s, functions: s.functions.map((f) => annotateFunction(f, catalog)), tables: s.tables.map((t) => annotateTable(t, s, catalog)) })) };
}

function annotateFunction(f: FunctionRef, catalog: Catalog): FunctionRef {
  const all = catalog.functions(f.name);
  const overloads = all ? (f.schema === null ? [...all.values()] : [all.get(f.schema)].filter((x) => x !== undefined)) : [];
  let volatility: Volatility = overloads.length ? "immutable" : "volatile";
  for (const o of overloads) if (RANK[o.volatility] > RANK[volatility]) volatility = o.volatility;
  const exposes = overloads.length > 0 && overloads.every((o) => o.exposes);
  // An unqualified call runs whichever overload the search_path and argument types pick: say where those are.
  const candidates = f.schema === null && all && all.size > 0 ? [...all.keys()].sort() : undefined;
  return { ...f, volatility, ...(exposes ? { exposes } : {}), ...(candidates ? { candidates } : {}) };
}

function annotateTable(t: RelationRef, s: StatementFacts, catalog: Catalog): RelationRef {
  for (const schema of t.schema ? [t.schema] : t.candidates) {
    const info = catalog.relation(schema, t.name);
    if (!info) continue;
    if (viewExposes.get(info) || readsValueColumn(s.columns, info)) return { ...t, exposes: true };
  }
  return t;
}

function readsValueColumn(columns: readonly ColumnRef[], info: RelationInfo): boolean {
  if (info.valueColumns.length === 0) return false;
  return columns.some((c) => (c.schema === info.schema || c.schema === null) && c.table === info.name && (c.column === "*" || info.valueColumns.includes(c.column)));
}

/** System views already classified; a refetched RelationInfo is a new object, so a change re-classifies. */
const viewExposes = new WeakMap<RelationInfo, boolean>();

/**
 * Whether a system view's definition reads value columns, or calls a system data source together with
 * a withheld table, or reads a view that does (recursively).
 */
function classifyView(info: RelationInfo, analyze: Analyze, catalog: Catalog, depth: number): boolean | Promise<boolean> {
  const known = viewExposes.get(info);
  if (known !== undefined) return known;
  const body = analyze(info.definition!, ["pg_catalog"]);
  const pending = missingPairs(body, catalog);
  if (pending.length) return catalog.ensure(pending).then(() => classifyView(info, analyze, catalog, depth));
  const fnames = new Set<string>();
  for (const s of body.statements) for (const f of s.functions) if (catalog.functions(f.name) === undefined) fnames.add(f.name);
  if (fnames.size) return catalog.ensureFunctions(fnames).then(() => classifyView(info, analyze, catalog, depth));
  const decide = (inner: boolean[]): boolean => {
    const relations = (s: StatementFacts) =>
      s.tables.flatMap((t) => (t.schema ? [t.schema] : t.candidates).map((schema) => catalog.relation(schema, t.name)).filter((r): r is RelationInfo => !!r));
    // A data source joined with a withheld table is how activity views are built (pg_stat_activity);
    // a data source alone (pg_stat_ssl, pg_stat_gssapi) shows connection properties, not statements.
    // A relation given by a column (pg_sequences calls pg_sequence_last_value(c.oid)) reads every
    // relation's values, internal.* included.
    const exposes =
      body.parse_error !== undefined ||
      inner.some((x) => x) ||
      body.statements.some((s) => s.unknown.some((u) => u.includes(NON_CONSTANT_RELATION))) ||
      body.statements.some(
        (s) =>
          relations(s).some((r) => readsValueColumn(s.columns, r)) ||
          (s.functions.some((f) => annotateFunction(f, catalog).exposes === true) && relations(s).some((r) => r.withheld)),
      );
    viewExposes.set(info, exposes);
    return exposes;
  };
  const nested: (boolean | Promise<boolean>)[] = [];
  for (const s of body.statements) {
    for (const t of s.tables) {
      for (const schema of t.schema ? [t.schema] : t.candidates) {
        const r = catalog.relation(schema, t.name);
        if (r?.definition && r !== info) nested.push(depth >= MAX_VIEW_DEPTH ? true : classifyView(r, analyze, catalog, depth + 1));
      }
    }
  }
  if (nested.some((n) => n instanceof Promise)) return Promise.all(nested).then(decide);
  return decide(nested as boolean[]);
}

function missingPairs(a: AnalysisResult, catalog: Catalog): [string, string][] {
  const out: [string, string][] = [];
  for (const s of a.statements) {
    for (const t of s.tables) {
      const schemas = t.candidates.length ? t.candidates : t.schema ? [t.schema] : [];
      for (const schema of schemas) if (!schema.startsWith("$") && catalog.relation(schema, t.name) === undefined) out.push([schema, t.name]);
    }
  }
  return out;
}

function expandViews(a: AnalysisResult, analyze: Analyze, catalog: Catalog, depth: number): AnalysisResult | Promise<AnalysisResult> {
  const views = new Map<string, string>();
  for (const s of a.statements) {
    for (const t of s.tables) {
      if (!t.schema || SYSTEM_SCHEMAS.has(t.schema)) continue;
      const def = catalog.relation(t.schema, t.name)?.definition;
      if (def) views.set(viewKey(t.schema, t.name), def);
    }
  }
  if (views.size === 0) return a;
  if (depth >= MAX_VIEW_DEPTH) return markUnknown(a, "views nested too deeply");
  // pg_get_viewdef runs on the catalog connection, whose search_path is pg_catalog alone
  // (catalog-connection.ts): every other name in a view's body comes back with its schema.
  const inner = new Map<string, AnalysisResult | Promise<AnalysisResult>>();
  for (const [name, def] of views) inner.set(name, resolveView(def, analyze, catalog, depth + 1));
  const all = [...inner.values()];
  if (all.some((v) => v instanceof Promise)) {
    return Promise.all(all).then((resolved) => substitute(a, new Map([...inner.keys()].map((k, i) => [k, resolved[i]!]))));
  }
  return substitute(a, inner as Map<string, AnalysisResult>);
}

function resolveView(def: string, analyze: Analyze, catalog: Catalog, depth: number): AnalysisResult | Promise<AnalysisResult> {
  // Its bare names are pg_catalog's (see expandViews): one found nowhere else stays unresolved and is refused.
  const result = analyze(def, ["pg_catalog"]);
  const pending = missingPairs(result, catalog);
  if (pending.length) return catalog.ensure(pending).then(() => resolveView(def, analyze, catalog, depth));
  return expandViews(result, analyze, catalog, depth);
}

function substitute(a: AnalysisResult, views: Map<string, AnalysisResult>): AnalysisResult {
  return { ...a, statements: a.statements.map((s) => substituteStatement(s, views)) };
}

function substituteStatement(s: StatementFacts, views: Map<string, AnalysisResult>): StatementFacts {
  if (!s.tables.some((t) => views.has(viewKey(t.schema, t.name)))) return s;
  const tables: RelationRef[] = [...s.tables];
  const unknown = [...s.unknown];
  let opaque = s.opaque;
  let writes = s.writes;
  for (const t of s.tables) {
    const v = views.get(viewKey(t.schema, t.name));
    if (!v) continue;
    const body = v.statements[0];
    if (!body || v.parse_error) {
      unknown.push(`view ${t.schema}.${t.name} could not be analysed`);
      continue;
    }
    // What the view reads, the statement reads; writing an updatable view writes its base table.
    for (const inner of body.tables) tables.push({ ...inner, access: t.access === "write" && inner.access === "read" ? "write" : inner.access });
    unknown.push(...body.unknown.map((u) => `in view ${t.schema}.${t.name}: ${u}`));
    // A view that runs SQL text (query_to_xml, ts_rewrite) or moves a sequence does so when read.
    opaque ||= body.opaque;
    writes ||= body.tables.some((x) => x.access === "write");
  }
  const mapColumn = (c: ColumnRef): { cols: ColumnRef[]; derived: boolean; unknown: boolean } => {
    const v = views.get(viewKey(c.schema, c.table));
    const body = v?.statements[0];
    if (!v || !body) return { cols: [c], derived: false, unknown: false };
    const outs = c.column === "*" ? body.outputs : body.outputs.filter((o) => o.name === c.column);
    if (outs.length === 0) return { cols: [], derived: true, unknown: true };
    return {
      cols: outs.flatMap((o) => o.lineage),
      derived: outs.some((o) => o.derived),
      unknown: outs.some((o) => o.unknown),
    };
  };
  const throughViews = (cols: readonly ColumnRef[]): { cols: ColumnRef[]; unknown: boolean } => {
    const mapped = cols.map(mapColumn);
    return { cols: dedupe(mapped.flatMap((m) => m.cols)), unknown: mapped.some((m) => m.unknown) };
  };
  // Which of a view's rows there are is what its body chose them by (`WHERE g <= split_part(ssn, '-', 1)::int`
  // relates g to the SSN): read through the view, a count of them (count(*), a tag's `INSERT 0 607`), an
  // aggregate, a value stored from them or a function fed by them is made of that too, as in the statement
  // written out with the view's body in place. Which output aggregates is not known here: every computed
  // output takes it, a plain column keeps its own lineage.
  const viewRows = rowsThroughViews(s, views);
  const outputs: OutputColumn[] = s.outputs.map((o) => {
    const mapped = o.lineage.map(mapColumn);
    const derived = o.derived || mapped.some((m) => m.derived);
    const counts = derived && viewRows !== undefined;
    return {
      ...o,
      lineage: dedupe([...mapped.flatMap((m) => m.cols), ...(counts ? viewRows.cols : [])]),
      derived,
      unknown: o.unknown || mapped.some((m) => m.unknown) || (counts && viewRows.unknown),
    };
  });
  // What the view reads to choose its rows is read too, though no output shows it: a filter's error text
  // (`get_byte(..., ssn)` in the view's WHERE) carries its values, and the screening goes by these columns.
  const read = [...s.columns.flatMap((c) => mapColumn(c).cols), ...s.tables.flatMap((t) => views.get(viewKey(t.schema, t.name))?.statements[0]?.columns ?? [])];
  const columns = dedupe(read);
  // A value read through a view and stored (INSERT ... SELECT FROM v) is what the view's column reads; rows
  // chosen through a view are chosen by what its columns read.
  const stored = withViewRows(throughViews(s.write_inputs), s.writes ? viewRows : undefined);
  const counted = withViewRows(throughViews(s.row_count_inputs), viewRows);
  // Functions a view calls run when it is read; what reaches them is the view body's lineage.
  const functions: FunctionRef[] = [];
  const mapInputs = (f: FunctionRef): FunctionRef => {
    const mapped = f.inputs.map(mapColumn);
    return { ...f, inputs: dedupe([...mapped.flatMap((m) => m.cols), ...(viewRows?.cols ?? [])]), inputs_unknown: f.inputs_unknown || mapped.some((m) => m.unknown) || viewRows?.unknown === true };
  };
  for (const f of s.functions) functions.push(mapInputs(f));
  // Settings a view reads by name (current_setting('primary_conninfo') in its body) are read when it is read.
  const settingsRead = new Set(s.settings_read);
  for (const t of s.tables) {
    const body = views.get(viewKey(t.schema, t.name))?.statements[0];
    if (body) functions.push(...body.functions);
    for (const n of body?.settings_read ?? []) settingsRead.add(n);
  }
  return { ...s, tables, settings_read: [...settingsRead], outputs, columns, write_inputs: stored.cols, write_inputs_unknown: s.write_inputs_unknown || stored.unknown, row_count_inputs: counted.cols, row_count_unknown: s.row_count_unknown || counted.unknown, unknown, opaque, writes, functions: mergeFunctions(functions) };
}

/** What the rows of the views a statement reads were chosen by; undefined when nothing (the common view). */
function rowsThroughViews(s: StatementFacts, views: Map<string, AnalysisResult>): { cols: ColumnRef[]; unknown: boolean } | undefined {
  let cols: ColumnRef[] = [];
  let unknown = false;
  for (const t of s.tables) {
    const body = views.get(viewKey(t.schema, t.name))?.statements[0];
    if (!body) continue;
    cols = cols.concat(body.row_count_inputs);
    unknown ||= body.row_count_unknown;
  }
  return cols.length > 0 || unknown ? { cols: dedupe(cols), unknown } : undefined;
}

function withViewRows(lin: { cols: ColumnRef[]; unknown: boolean }, rows: { cols: ColumnRef[]; unknown: boolean } | undefined): { cols: ColumnRef[]; unknown: boolean } {
  return rows ? { cols: dedupe([...lin.cols, ...rows.cols]), unknown: lin.unknown || rows.unknown } : lin;
}

function dedupe(cols: ColumnRef[]): ColumnRef[] {
  if (cols.length < 2) return cols;
  return [...new Map(cols.map((c) => [columnKey(c), c])).values()];
}

/** How the views a statement reads are kept by name (expandViews). */
function viewKey(schema: string | null, name: string): string {
  return `${schema}.${name}`;
}

function mergeFunctions(fns: FunctionRef[]): FunctionRef[] {
  const out = new Map<string, FunctionRef>();
  for (const f of fns) {
    const k = `${f.schema ?? ""}\u0000${f.name}`;
    const had = out.get(k);
    if (!had) {
      out.set(k, { ...f, inputs: [...f.inputs] });
      continue;
    }
    const seen = new Set(had.inputs.map(columnKey));
    for (const c of f.inputs) if (!seen.has(columnKey(c))) had.inputs.push(c);
    had.inputs_unknown ||= f.inputs_unknown;
  }
  return [...out.values()];
}

function markUnknown(a: AnalysisResult, reason: string): AnalysisResult {
  return { ...a, statements: a.statements.map((s) => ({ ...s, unknown: [...s.unknown, reason] })) };
}
