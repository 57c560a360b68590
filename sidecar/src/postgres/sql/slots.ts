// The relation graph of one query level: a slot per FROM-item column (and one for the level's rows),
// joined by union-find when a row-selecting expression relates them, and the units (distinct values) a
// lineage is made of, which decide whether an expression relates anything at all. relate.ts feeds it while
// a level is walked; settle.ts reads it when the level ends.
import { unionUnits, type Col, type Lin } from "./lineage.js";
import type { Scope, Source } from "./scope.js";

/** Provenance: the values (slots of settled levels) something is made of; "many" past MAX_LEAVES. */
export type Units = readonly Slot[] | "many";

/**
 * column: a value of its own (a table's column, a function's result column);
 * derived: made of its base and nothing else (a subquery's or CTE's output column, a merged USING column);
 * rows: the rows of a level, what aggregates and window functions are made of.
 */
type SlotKind = "column" | "derived" | "rows";

let ids = 0;

export class Slot {
  /** Union-find: the slots of one relation share a root. */
  parent: Slot = this;
  /** Root only: some row-selecting expression relates this group. */
  relating = false;
  /** Root only: the relating expressions, with what else they read (outer columns, subquery values). */
  loose: Lin[] | null = null;
  units: Units | undefined;
  resolved: Lin | undefined;
  /** A reference to this slot with its base lineage (shared: lineages are never changed in place). */
  ref: Lin | undefined;
  resolving = false;
  closed = false;
  readonly id = ++ids;

  constructor(
    readonly level: Scope,
    /** The lineage the column has of itself (a subquery output's, a function's arguments'). */
    readonly base: Lin,
    readonly source: Source | null,
    readonly key: Col | string,
    readonly kind: SlotKind,
  ) {}
}

export interface Pending {
  lin: Lin;
  emit: (lin: Lin) => void;
}

/** What one query level collects while it is walked. */
export interface LevelRelations {
  slots: Slot[];
  bySource: Map<Source, Map<Col | string, Slot>>;
  /** Relating expressions registered here (their slots of this level are unioned when it ends). */
  atoms: Lin[];
  /** Facts recorded before the level ended (function inputs, stored values): recorded again when it does. */
  pending: Pending[];
  rows: Slot | null;
  /** A reference to `rows` (shared). */
  rowsRef: Lin | null;
  /** What the number of rows depends on besides the relations: set-returning functions, subqueries in FROM. */
  rowsLoose: Lin[];
  done: boolean;
}

export function relOf(level: Scope): LevelRelations {
  level.rel ??= { slots: [], bySource: new Map(), atoms: [], pending: [], rows: null, rowsRef: null, rowsLoose: [], done: false };
  return level.rel;
}

export function find(s: Slot): Slot {
  let r = s;
  while (r.parent !== r) r = r.parent;
  while (s.parent !== r) {
    const next = s.parent;
    s.parent = r;
    s = next;
  }
  return r;
}

export function union(a: Slot, b: Slot): Slot {
  const ra = find(a);
  const rb = find(b);
  if (ra === rb) return ra;
  // Keep the older slot as root: cheap and deterministic.
  const [root, child] = ra.id < rb.id ? [ra, rb] : [rb, ra];
  child.parent = root;
  root.relating ||= child.relating;
  if (child.loose) (root.loose ??= []).push(...child.loose);
  child.loose = null;
  return root;
}

export function unitsOfSlot(s: Slot): Units {
  if (s.units) return s.units;
  if (s.kind === "rows") return (s.units = [s]);
  s.units = [s]; // guards a cycle; replaced below
  const b = unitsOf(s.base) ?? [];
  s.units = s.kind === "derived" && b.length > 0 ? b : (unionUnits([s], b) ?? [s]);
  return s.units;
}

/** The distinct values an expression is made of. */
export function unitsOf(lin: Lin): Units | undefined {
  let u = lin.leaves;
  if (lin.slots) for (const s of lin.slots) u = unionUnits(u, unitsOfSlot(s));
  return u;
}

/** Two or more values (or one and something unknown): comparing them relates them. */
export function isRelating(lin: Lin): boolean {
  const u = unitsOf(lin);
  if (!u) return false;
  return u === "many" || u.length >= 2 || (u.length === 1 && lin.unknown);
}

/** The innermost level, from `scope` outwards, that owns one of the slots. */
export function ownerOf(scope: Scope | null, lin: Lin): Scope | null {
  const slots = lin.slots;
  if (!slots) return null;
  for (let level = scope; level; level = level.parent) if (slots.some((s) => s.level === level)) return level;
  return null;
}

export function isEmpty(lin: Lin): boolean {
  return lin.cols.length === 0 && !lin.unknown && !lin.slots && !lin.leaves;
}

export function withoutSlot(lin: Lin, s: Slot | null): Lin {
  if (!s || !lin.slots?.includes(s)) return lin;
  const slots = lin.slots.filter((x) => x !== s);
  const out: Lin = { cols: lin.cols, derived: lin.derived, unknown: lin.unknown };
  if (slots.length > 0) out.slots = slots;
  if (lin.leaves) out.leaves = lin.leaves;
  return out;
}
