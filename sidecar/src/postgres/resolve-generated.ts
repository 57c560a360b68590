// Generated columns, as the catalog sees them: `ssn_last4 text GENERATED ALWAYS AS (right(ssn, 4))`, stored or
// virtual, holds part of `ssn` though a statement that reads it names no masked column. A generated column is made
// of the columns its expression reads (pg_depend, catalog-queries.ts GENERATED), at the same table: wherever the
// facts name it, they name those columns too, so masks, the stored-value and row-count rules, and the side-channel
// rules written for `ssn` apply to `ssn_last4`.
import { eachStatement } from "./resolve-step.js";
import type { Catalog } from "./catalog.js";
import { columnKey } from "./sql/index.js";
import type { AnalysisResult, ColumnRef, StatementFacts } from "./sql/types.js";

/** What a list of columns is made of once generated columns are followed, and whether any of them is not known. */
interface Made {
  cols: ColumnRef[];
  /** A generated column among them whose expression calls code regate does not see. */
  unknown: boolean;
  /** A generated column among them: its value is computed, not a column's own value. */
  generated: boolean;
}

/**
 * Adds, beside each generated column in `columns`, output lineage, `write_inputs`, `row_count_inputs` and function
 * inputs, the columns of the same table its expression reads; an output that shows one is `derived` (a `partial`
 * mask keeps parts of the base value only when the value is the base column itself). A generated column that calls
 * a function outside pg_catalog makes the lineage it is in unknown. Runs after views are expanded (a view's column
 * is a base table's column by then) and before ancestors are added (a child's `ssn` is then also its parent's).
 * Asks the catalog for a table it does not hold (any more); the answer is then synchronous.
 */
export function withGenerated(a: AnalysisResult, catalog: Catalog): AnalysisResult | Promise<AnalysisResult> {
  const missing: [string, string][] = [];
  for (const s of a.statements) {
    for (const t of s.tables) {
      for (const schema of t.schema !== null ? [t.schema] : t.candidates) {
        if (!schema.startsWith("$") && catalog.relation(schema, t.name) === undefined) missing.push([schema, t.name]);
      }
    }
  }
  return eachStatement(a, catalog, missing, statement);
}


function statement(s: StatementFacts, catalog: Catalog): StatementFacts {
  // Per table name as the facts spell it (schema or null): the generated columns of every relation it may be.
  const tables = new Map<string, Map<string, string[] | null>>();
  const unknownTables: string[] = [];
  for (const t of s.tables) {
    const k = key(t.schema, t.name);
    if (tables.has(k)) continue;
    const gen = new Map<string, string[] | null>();
    for (const schema of t.schema !== null ? [t.schema] : t.candidates) {
      const info = catalog.relation(schema, t.name);
      // An entry that aged out between the lookup and now is not guessed at: the statement says so.
      if (info === undefined) {
        if (!schema.startsWith("$")) unknownTables.push(`${schema}.${t.name}`);
        continue;
      }
      for (const [col, made] of Object.entries(info?.generated ?? {})) {
        const had = gen.get(col);
        gen.set(col, made === null || had === null ? null : [...(had ?? []), ...made.filter((m) => !had?.includes(m))]);
      }
    }
    if (gen.size) tables.set(k, gen);
  }
  if (tables.size === 0 && unknownTables.length === 0) return s;

  const follow = (cols: readonly ColumnRef[]): Made => {
    let out: Map<string, ColumnRef> | undefined;
    let unknown = false;
    let generated = false;
    for (const c of cols) {
      const gen = tables.get(key(c.schema, c.table));
      if (gen === undefined) continue;
      // A whole row (`*`) holds every column, its generated ones' bases included; one whose lineage is not known
      // makes the row's unknown.
      if (c.column === "*") {
        for (const made of gen.values()) if (made === null) unknown = generated = true;
        continue;
      }
      const made = gen.get(c.column);
      if (made === undefined) continue;
      generated = true;
      if (made === null) {
        unknown = true;
        continue;
      }
      out ??= new Map(cols.map((x) => [columnKey(x), x]));
      for (const m of made) {
        const base = { schema: c.schema, table: c.table, column: m };
        if (!out.has(columnKey(base))) out.set(columnKey(base), base);
      }
    }
    return { cols: out ? [...out.values()] : (cols as ColumnRef[]), unknown, generated };
  };

  const columns = follow(s.columns);
  const stored = follow(s.write_inputs);
  const counted = follow(s.row_count_inputs);
  const unknown = unknownTables.map((t) => `the catalog could not say whether ${t} has generated columns`);
  return {
    ...s,
    columns: columns.cols,
    outputs: s.outputs.map((o) => {
      const m = follow(o.lineage);
      return m.generated ? { ...o, lineage: m.cols, derived: true, unknown: o.unknown || m.unknown } : o;
    }),
    write_inputs: stored.cols,
    write_inputs_unknown: s.write_inputs_unknown || stored.unknown,
    row_count_inputs: counted.cols,
    row_count_unknown: s.row_count_unknown || counted.unknown,
    functions: s.functions.map((f) => {
      const m = follow(f.inputs);
      return m.generated ? { ...f, inputs: m.cols, inputs_unknown: f.inputs_unknown || m.unknown } : f;
    }),
    unknown: unknown.length ? [...s.unknown, ...unknown] : s.unknown,
  };
}

function key(schema: string | null, name: string): string {
  return `${schema ?? ""}\u0000${name}`;
}

