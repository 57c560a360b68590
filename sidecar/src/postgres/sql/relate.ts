// Values related by the rows a query level chooses. A masked column compared with another non-constant
// value (`g = split_part(ssn, '-', 1)::int`, a join on it, an ORDER BY of their distance) makes that value
// equal to, or bounded by, the masked one: the rows that survive carry it. So within a query level every
// column of a FROM item is a slot; a row-selecting expression (a WHERE or ON conjunct, a HAVING conjunct, a
// GROUP BY, DISTINCT or ORDER BY key, a window's PARTITION BY or ORDER BY, LIMIT/OFFSET, what decides how
// many rows a FROM item gives) made of two or more values
// relates them, and related slots share one lineage, transitively. Correlated subqueries relate outer
// columns the same way. Aggregates and window functions are made of the rows (every relation of their
// level, the number of rows a set-returning function or a LIMIT gives); subquery values of the subquery's.
// The lineage an expression gets while it is walked is the lineage of its own columns plus the slots it
// reads; when the level ends (`settle`) the relations are known and the slots are replaced by what they
// are related to. Nothing walks a statement twice: each level costs its slots, relations and outputs.
import { CONSTANT, type Col, type Lin } from "./lineage.js";
import type { Scope, Source } from "./scope.js";
import { isEmpty, isRelating, ownerOf, relOf, Slot } from "./slots.js";

/** The slot for a column of `src` found at `level`; `key` is the column (or its name, or "*" for the whole row). */
export function slotFor(level: Scope, src: Source, key: Col | string, base: Lin): Slot {
  const r = relOf(level);
  let m = r.bySource.get(src);
  if (!m) r.bySource.set(src, (m = new Map()));
  let s = m.get(key);
  if (!s) {
    s = new Slot(level, base, src, key, src.derived && key !== "*" ? "derived" : "column");
    m.set(key, s);
    r.slots.push(s);
  }
  return s;
}

/** What aggregates and window functions of `level` are made of: every relation there, and the number of rows. */
export function rowsLin(level: Scope): Lin {
  const r = relOf(level);
  if (!r.rows) {
    r.rows = new Slot(level, CONSTANT, null, "", "rows");
    r.rowsRef = { cols: [], derived: true, unknown: false, slots: [r.rows] };
  }
  return r.rowsRef!;
}

/**
 * The number of rows of `level` also depends on this (a set-returning function's arguments, a subquery in
 * FROM, a sampling percentage). Per row of the other FROM items that number chooses rows as a WHERE does
 * (none drops the row): `LATERAL generate_series(1, (g = <masked>)::int)`, a LATERAL subquery's LIMIT or
 * TABLESAMPLE made of `g` and a masked value keep only the `g` equal to it, so what it is made of is related.
 */
export function addRows(level: Scope, lin: Lin): void {
  if (isEmpty(lin)) return;
  const r = relOf(level);
  if (r.done) return;
  r.rowsLoose.push(lin);
  if (lin.slots && isRelating(lin)) r.atoms.push(lin);
}

/** A row-selecting expression of `level`: if it relates two or more values, they share lineage from now on. */
export function relate(level: Scope, lin: Lin): void {
  if (!lin.slots || !isRelating(lin)) return;
  const r = relOf(level);
  if (!r.done) r.atoms.push(lin);
}

/** The level an aggregate of `lin` belongs to: the innermost that owns one of its slots, else `scope`. */
export function levelOf(scope: Scope, lin: Lin): Scope {
  return ownerOf(scope, { ...lin, slots: lin.slots?.filter((s) => s.kind !== "rows") }) ?? scope;
}

/** Record a fact made of `lin` now, and again with what the slots turn out to be related to. */
export function sink(scope: Scope, lin: Lin, emit: (lin: Lin) => void): void {
  emit(lin);
  const owner = ownerOf(scope, lin);
  if (owner && !relOf(owner).done) relOf(owner).pending.push({ lin, emit });
}

// Lineage of the rows of each finished query, kept on its output array (what `cx.nested` returns).
const ROWS = Symbol("rows");
type WithRows = readonly Col[] & { [ROWS]?: Lin };

/** What the number and choice of rows of a finished query is made of (CONSTANT when nothing). */
export function rowsOf(outs: readonly Col[]): Lin {
  return (outs as WithRows)[ROWS] ?? CONSTANT;
}

export function setRowsOf(outs: readonly Col[], rows: Lin): void {
  if (rows !== CONSTANT) (outs as WithRows & { [ROWS]?: Lin })[ROWS] = rows;
}

/** Splits `a AND b AND c` into its conjuncts: each chooses rows on its own. */
export function conjuncts(v: unknown, out: unknown[] = []): unknown[] {
  const b = bodyOfBool(v);
  if (b && b.boolop === "AND_EXPR" && Array.isArray(b.args)) {
    for (const a of b.args) conjuncts(a, out);
  } else if (v !== undefined) {
    out.push(v);
  }
  return out;
}

function bodyOfBool(v: unknown): Record<string, unknown> | undefined {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  const b = (v as Record<string, unknown>).BoolExpr;
  return b !== null && typeof b === "object" ? (b as Record<string, unknown>) : undefined;
}

/** A relation of outer columns found in a subquery: the enclosing level relates them when it ends. */
export function forward(level: Scope, lin: Lin): void {
  const owner = ownerOf(level.parent, lin);
  if (owner) {
    const r = relOf(owner);
    if (!r.done) r.atoms.push(lin);
  }
}

