// Inheritance children and partitions, as the catalog sees them: a statement that names a child names each of
// its ancestors too. A child's rows are its parent's rows (SELECT FROM parent returns them), a partition's are
// its partitioned table's, and a child's column of a parent's column name is that column (PostgreSQL matches
// inherited columns by name), so policy rules and masks written for the ancestor apply to the child.
import { eachStatement } from "./resolve-step.js";
import type { Catalog, RelationInfo } from "./catalog.js";
import { columnKey } from "./sql/index.js";
import type { AnalysisResult, ColumnRef, RelationRef, StatementFacts } from "./sql/types.js";

/**
 * Adds to every statement, for each table the catalog says inherits from others or is a partition: its
 * `inherits`, an entry in `tables` per ancestor (same access, `descendant` naming the child, and the ancestor's
 * own `inherits` when it is a child or partition too), and beside each
 * of the child's columns in `columns`, output lineage, `write_inputs`, `row_count_inputs` and function inputs the same column of
 * each ancestor that has it (`*` stands for all of them). Asks the catalog for any table it does not hold
 * (any more); the answer is then synchronous.
 */
export function withAncestors(a: AnalysisResult, catalog: Catalog): AnalysisResult | Promise<AnalysisResult> {
  const missing: [string, string][] = [];
  for (const s of a.statements) {
    for (const t of s.tables) if (t.schema !== null && !t.descendant && catalog.relation(t.schema, t.name) === undefined) missing.push([t.schema, t.name]);
  }
  return eachStatement(a, catalog, missing, statement);
}


function statement(s: StatementFacts, catalog: Catalog): StatementFacts {
  return withDescendants(withAncestorsOf(s, catalog), catalog);
}

/**
 * The other direction: a table named without ONLY stands for its descendants' rows too (SELECT, UPDATE, DELETE,
 * TRUNCATE, LOCK and a partitioned INSERT reach them), so its entry carries `descendants`, each child and partition
 * below it as the catalog knows them, wherever their schemas are. An entry the catalog added (an ancestor) does not:
 * the statement reads the child, not the ancestor's other children.
 *
 * A descendant with a second parent (`INHERITS (orders, customers)`) holds that parent's rows as well: `DELETE FROM
 * orders` deleted a customers row, `UPDATE orders SET created_at = ...` changed one, and reading orders reads their
 * columns of shared names. So each such other ancestor is listed in `tables` with the table's access and `descendant`
 * naming the child, and the table's columns of its names are its columns too, as for an ancestor of a named child.
 */
function withDescendants(s: StatementFacts, catalog: Catalog): StatementFacts {
  let tables: RelationRef[] | undefined;
  const added: RelationRef[] = [];
  /** table key -> the other ancestors reached through its descendants, for the columns below. */
  const others = new Map<string, { schema: string; name: string; columns: string[] }[]>();
  const listed = new Set(s.tables.map((t) => `${key(t.schema ?? "", t.name)}\u0000${t.access}`));
  s.tables.forEach((t, i) => {
    if (t.schema === null || t.descendant || t.only) return;
    const below = catalog.relation(t.schema, t.name)?.descendants;
    if (!below?.length) return;
    tables ??= [...s.tables];
    tables[i] = { ...t, descendants: below.map((d) => ({ schema: d.schema, name: d.name })) };
    for (const d of below) {
      for (const x of d.otherAncestors) {
        const reached = others.get(key(t.schema, t.name)) ?? [];
        if (!reached.some((r) => r.schema === x.schema && r.name === x.name)) reached.push(x);
        others.set(key(t.schema, t.name), reached);
        const k = `${key(x.schema, x.name)}\u0000${t.access}`;
        if (listed.has(k)) continue;
        listed.add(k);
        added.push({ schema: x.schema, name: x.name, access: t.access, candidates: [x.schema], only: false, descendant: { schema: d.schema, name: d.name } });
      }
    }
  });
  if (!tables) return s;
  if (others.size === 0) return { ...s, tables };
  const widen = (cols: readonly ColumnRef[]): ColumnRef[] => {
    if (!cols.some((c) => c.schema !== null && others.has(key(c.schema, c.table)))) return cols as ColumnRef[];
    const out = new Map<string, ColumnRef>();
    for (const c of cols) {
      out.set(columnKey(c), c);
      if (c.schema === null) continue;
      const reached = others.get(key(c.schema, c.table));
      if (!reached) continue;
      // A whole row of the table holds its own columns only: those of theirs the other ancestor has too.
      const names = c.column === "*" ? (catalog.relation(c.schema, c.table)?.columns ?? []).filter((n) => n !== "") : [c.column];
      for (const x of reached) {
        for (const n of names) {
          if (!x.columns.includes(n)) continue;
          const up = { schema: x.schema, table: x.name, column: n };
          if (!out.has(columnKey(up))) out.set(columnKey(up), up);
        }
      }
    }
    return [...out.values()];
  };
  return { ...widenColumns(s, widen), tables: [...tables, ...added] };
}

function withAncestorsOf(s: StatementFacts, catalog: Catalog): StatementFacts {
  const children = new Map<string, RelationInfo>();
  const unknown: string[] = [];
  for (const t of s.tables) {
    if (t.schema === null || t.descendant) continue;
    const info = catalog.relation(t.schema, t.name);
    // An entry that aged out between the catalog's ensure and now is not guessed at: the statement says so.
    if (info === undefined) unknown.push(`the catalog could not say whether ${t.schema}.${t.name} inherits from another table`);
    else if (info && info.ancestors.length) children.set(key(t.schema, t.name), info);
  }
  if (children.size === 0 && unknown.length === 0) return s;

  const tables: RelationRef[] = [];
  const listed = new Set(s.tables.map((t) => `${key(t.schema ?? "", t.name)}\u0000${t.access}`));
  const added: RelationRef[] = [];
  for (const t of s.tables) {
    const info = t.schema === null || t.descendant ? undefined : children.get(key(t.schema, t.name));
    if (!info) {
      tables.push(t);
      continue;
    }
    tables.push({ ...t, inherits: info.ancestors.map((x) => ({ schema: x.schema, name: x.name })) });
    for (const x of info.ancestors) {
      const k = `${key(x.schema, x.name)}\u0000${t.access}`;
      if (listed.has(k)) continue;
      listed.add(k);
      // An ancestor that is itself a child (a sub-partition's partitioned middle level) carries its own
      // ancestors, as it would if the statement named it.
      const up = x.inherits.length ? { inherits: x.inherits.map((a) => ({ schema: a.schema, name: a.name })) } : {};
      added.push({ schema: x.schema, name: x.name, access: t.access, candidates: [x.schema], only: false, descendant: { schema: t.schema!, name: t.name }, ...up });
    }
  }
  tables.push(...added);

  const widen = (cols: readonly ColumnRef[]): ColumnRef[] => {
    if (!cols.some((c) => c.schema !== null && children.has(key(c.schema, c.table)))) return cols as ColumnRef[];
    const out = new Map<string, ColumnRef>();
    for (const c of cols) {
      out.set(columnKey(c), c);
      const info = c.schema === null ? undefined : children.get(key(c.schema, c.table));
      for (const x of info?.ancestors ?? []) {
        if (c.column !== "*" && !x.columns.includes(c.column)) continue;
        const up = { schema: x.schema, table: x.name, column: c.column };
        if (!out.has(columnKey(up))) out.set(columnKey(up), up);
      }
    }
    return [...out.values()];
  };

  return { ...widenColumns(s, widen), tables, unknown: unknown.length ? [...s.unknown, ...unknown] : s.unknown };
}

/** `s` with every list of base columns (columns, lineage, write and row-count inputs, function inputs) widened. */
function widenColumns(s: StatementFacts, widen: (cols: readonly ColumnRef[]) => ColumnRef[]): StatementFacts {
  return {
    ...s,
    columns: widen(s.columns),
    outputs: s.outputs.map((o) => {
      const lineage = widen(o.lineage);
      return lineage === o.lineage ? o : { ...o, lineage };
    }),
    write_inputs: widen(s.write_inputs),
    row_count_inputs: widen(s.row_count_inputs),
    functions: s.functions.map((f) => {
      const inputs = widen(f.inputs);
      return inputs === f.inputs ? f : { ...f, inputs };
    }),
  };
}

function key(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

