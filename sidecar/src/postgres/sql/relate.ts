// Values related by the rows a query level chooses. A masked column compared with another non-constant
// value (`g = split_part(ssn, '-', 1)::int`, a join on it, an ORDER BY of their distance) makes that value
// equal to, or bounded by, the masked one: the rows that survive carry it. So within a query level every
// column of a FROM item is a slot; a row-selecting expression (a WHERE or ON conjunct, a HAVING conjunct, a
// GROUP BY, DISTINCT or ORDER BY key, a window's PARTITION BY or ORDER BY) made of two or more values
// relates them, and related slots share one lineage, transitively. Correlated subqueries relate outer
// columns the same way. Aggregates and window functions are made of the rows (every relation of their
// level, the number of rows a set-returning function or a LIMIT gives); subquery values of the subquery's.
// The lineage an expression gets while it is walked is the lineage of its own columns plus the slots it
// reads; when the level ends (`settle`) the relations are known and the slots are replaced by what they
// are related to. Nothing walks a statement twice: each level costs its slots, relations and outputs.
import { CONSTANT, MAX_LEAVES, merge, unionUnits, columnKey, type Col, type Lin } from "./lineage.js";
import type { ColumnRef } from "./types.js";
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

interface Pending {
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

function relOf(level: Scope): LevelRelations {
  level.rel ??= { slots: [], bySource: new Map(), atoms: [], pending: [], rows: null, rowsRef: null, rowsLoose: [], done: false };
  return level.rel;
}

function find(s: Slot): Slot {
  let r = s;
  while (r.parent !== r) r = r.parent;
  while (s.parent !== r) {
    const next = s.parent;
    s.parent = r;
    s = next;
  }
  return r;
}

function union(a: Slot, b: Slot): Slot {
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

/** The number of rows of `level` also depends on this (a set-returning function's arguments, a subquery in FROM). */
export function addRows(level: Scope, lin: Lin): void {
  if (isEmpty(lin)) return;
  const r = relOf(level);
  if (!r.done) r.rowsLoose.push(lin);
}

function unitsOfSlot(s: Slot): Units {
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

/** A row-selecting expression of `level`: if it relates two or more values, they share lineage from now on. */
export function relate(level: Scope, lin: Lin): void {
  if (!lin.slots || !isRelating(lin)) return;
  const r = relOf(level);
  if (!r.done) r.atoms.push(lin);
}

/** The innermost level, from `scope` outwards, that owns one of the slots. */
function ownerOf(scope: Scope | null, lin: Lin): Scope | null {
  const slots = lin.slots;
  if (!slots) return null;
  for (let level = scope; level; level = level.parent) if (slots.some((s) => s.level === level)) return level;
  return null;
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

function setRowsOf(outs: readonly Col[], rows: Lin): void {
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

/** A lineage built up from parts, keeping `derived` of the first unless columns are added. */
class Acc {
  private cols: ColumnRef[] | null = null;
  private seen: Set<string> | null = null;
  private slots: Slot[] | null = null;
  private slotSet: Set<Slot> | null = null;
  private leaves: Units | undefined;
  private unknown: boolean;
  private grew = false;

  constructor(private readonly first: Lin) {
    this.unknown = first.unknown;
    this.leaves = first.leaves;
  }

  addCols(cols: readonly ColumnRef[]): void {
    if (cols.length === 0 || cols === this.first.cols) return;
    for (const c of cols) {
      // Column objects are shared along a lineage: in a short list most are found by identity, without keys.
      if (!this.seen && this.first.cols.length <= 16 && this.first.cols.includes(c)) continue;
      if (!this.seen) {
        this.seen = new Set(this.first.cols.map(columnKey));
        this.cols = [...this.first.cols];
      }
      const k = columnKey(c);
      if (this.seen.has(k)) continue;
      this.seen.add(k);
      this.cols!.push(c);
      this.grew = true;
    }
  }

  addSlot(s: Slot): void {
    this.slotSet ??= new Set();
    if (this.slotSet.has(s)) return;
    this.slotSet.add(s);
    (this.slots ??= []).push(s);
  }

  /** Adds `l`, dropping its slots of `level` (they are what is being replaced) except `rows`. */
  add(l: Lin, level: Scope | null, rows: Slot | null): void {
    this.addCols(l.cols);
    if (l.unknown) this.unknown = true;
    this.leaves = unionUnits(this.leaves, l.leaves);
    if (l.slots) for (const s of l.slots) if (s.level !== level || s === rows) this.addSlot(s);
  }

  addUnits(u: Units | undefined): void {
    this.leaves = unionUnits(this.leaves, u);
  }

  build(): Lin {
    const out: Lin = { cols: this.cols ?? this.first.cols, derived: this.first.derived || this.grew, unknown: this.unknown };
    if (this.slots) out.slots = this.slots;
    if (this.leaves && (this.leaves === "many" || this.leaves.length > 0)) out.leaves = this.leaves;
    return out;
  }
}

/**
 * The end of a query level: relate what its row-selecting expressions relate, give every output (and every
 * fact recorded on the way) the lineage of what its slots are related to, hand relations of outer columns
 * to the enclosing level, and record what the rows of this level are made of (`rowsOf(outputs)`).
 * `limit`: LIMIT/OFFSET, which chooses rows of every output. `extraRows`: what else chose the rows (the
 * sides of a set operation).
 */
export function settle(level: Scope, outputs: Col[], limit: Lin = CONSTANT, extraRows: readonly Lin[] = []): Col[] {
  const r = level.rel;
  if (!r || r.done) {
    const rows = merge([limit, ...extraRows], true);
    const outs = isEmpty(limit) ? outputs : outputs.map((c) => ({ ...c, lin: merge([c.lin, limit], true) }));
    setRowsOf(outs, rows);
    return outs;
  }
  r.done = true;
  return new Settling(level, r).run(outputs, limit, extraRows);
}

class Settling {
  private readonly rowsSlot: Slot | null;
  /** Relating groups: root -> members. */
  private readonly members = new Map<Slot, Slot[]>();
  private rows: Lin = CONSTANT;

  constructor(
    private readonly level: Scope,
    private readonly r: LevelRelations,
  ) {
    this.rowsSlot = r.rows;
  }

  run(outputs: Col[], limit: Lin, extraRows: readonly Lin[]): Col[] {
    const { level, r } = this;
    this.relateAtoms();
    this.close();
    for (const s of this.rowsSlot ? [...r.slots, this.rowsSlot] : r.slots) {
      const root = find(s);
      if (!root.relating) continue;
      let list = this.members.get(root);
      if (!list) this.members.set(root, (list = []));
      list.push(s);
    }

    // The rows: every relation of the level, what set-returning functions and subqueries in FROM add, LIMIT.
    const rowParts: Lin[] = [];
    for (const root of this.members.keys()) rowParts.push(this.resolve(root));
    for (const l of r.rowsLoose) rowParts.push(this.subst(l));
    rowParts.push(this.subst(limit));
    for (const l of extraRows) rowParts.push(this.subst(l));
    this.rows = withoutSlot(merge(rowParts, true), this.rowsSlot);

    // Outputs, facts recorded on the way, relations of outer columns for the enclosing level.
    const lim = isEmpty(limit) ? null : this.fin(limit);
    const outs = outputs.map((c) => {
      let lin = this.fin(c.lin);
      if (lim) lin = merge([lin, lim], true);
      return lin === c.lin ? c : { ...c, lin };
    });
    for (const p of r.pending) {
      const lin = this.fin(p.lin);
      if (lin === p.lin) continue;
      p.emit(lin);
      const owner = ownerOf(level.parent, lin);
      if (owner && !relOf(owner).done) relOf(owner).pending.push({ lin, emit: p.emit });
    }
    for (const root of this.members.keys()) {
      const l = this.fin(this.resolve(root));
      if (l.slots?.length) forward(level, l);
    }
    setRowsOf(outs, this.fin(this.rows));
    return outs;
  }

  private own(s: Slot): boolean {
    return s.level === this.level && s !== this.rowsSlot;
  }

  /** The slots of this level in each relating expression form one group. */
  private relateAtoms(): void {
    for (const atom of this.r.atoms) {
      let root: Slot | null = null;
      for (const s of atom.slots ?? []) if (s.level === this.level) root = root ? union(root, s) : find(s);
      if (!root) {
        forward(this.level, atom);
        continue;
      }
      root.relating = true;
      (root.loose ??= []).push(atom);
    }
  }

  /**
   * A related value relates what it is made of: a function's arguments of earlier FROM items, the columns of
   * a whole row, and the columns of the same subquery row that share its provenance.
   */
  private close(): void {
    const r = this.r;
    const queue: Slot[] = [];
    for (const s of r.slots) {
      if (!find(s).relating) continue;
      s.closed = true;
      queue.push(s);
    }
    if (queue.length === 0) return;
    const pull = (from: Slot, to: Slot) => {
      union(from, to);
      if (!to.closed) {
        to.closed = true;
        queue.push(to);
      }
    };
    const mates = new Map<Source, RowMates>();
    for (let i = 0; i < queue.length; i++) {
      const s = queue[i] as Slot;
      for (const b of s.base.slots ?? []) if (this.own(b)) pull(s, b);
      if (!s.source) continue;
      const siblings = r.bySource.get(s.source);
      if (!siblings) continue;
      if (s.key === "*") {
        for (const t of siblings.values()) pull(s, t);
      } else if (s.source.derived) {
        let m = mates.get(s.source);
        if (!m) mates.set(s.source, (m = rowMates(siblings)));
        for (const t of m.sharing(unitsOfSlot(s))) pull(s, t);
      }
    }
  }

  /** `lin` with this level's slots replaced by what they stand for (outer slots and the rows slot stay). */
  private subst(lin: Lin): Lin {
    const slots = lin.slots;
    if (!slots || !slots.some((s) => this.own(s))) return lin;
    if (slots.length === 1) {
      // A reference to one column (the common case): its lineage, and whatever its relations add.
      const r = this.resolve(slots[0] as Slot);
      if (r.cols === lin.cols && r.derived === lin.derived && r.unknown === lin.unknown && (!lin.leaves || lin.leaves === r.leaves)) return r;
      if (r.cols === lin.cols || r.cols.length === 0) {
        const out: Lin = { cols: lin.cols, derived: lin.derived, unknown: lin.unknown || r.unknown };
        if (r.slots) out.slots = r.slots;
        const leaves = unionUnits(lin.leaves, r.leaves);
        if (leaves) out.leaves = leaves;
        return out;
      }
    }
    const acc = new Acc({ ...lin, slots: undefined });
    for (const s of slots) {
      if (this.own(s)) acc.add(this.resolve(s), this.level, this.rowsSlot);
      else acc.addSlot(s);
    }
    return acc.build();
  }

  /** What a slot of this level stands for: its group's lineage, or its own with its base resolved. */
  private resolve(s: Slot): Lin {
    const root = find(s);
    if (root.relating) {
      if (root.resolved) return root.resolved;
      const acc = new Acc(CONSTANT);
      for (const m of this.members.get(root) ?? [root]) {
        acc.add(m.base, this.level, this.rowsSlot);
        acc.addUnits(unitsOfSlot(m));
      }
      for (const l of root.loose ?? []) acc.add(l, this.level, this.rowsSlot);
      return (root.resolved = acc.build());
    }
    if (s.resolved) return s.resolved;
    if (s.key !== "*" && !s.base.slots?.some((b) => this.own(b))) {
      // Related to nothing, made of nothing of this level: its own lineage.
      return (s.resolved = { ...s.base, leaves: unionUnits(s.base.leaves, unitsOfSlot(s)) });
    }
    if (s.resolving) return s.base;
    s.resolving = true;
    const acc = new Acc(s.base);
    acc.add(this.subst(s.base), this.level, this.rowsSlot);
    if (s.key === "*" && s.source) {
      for (const t of this.r.bySource.get(s.source)?.values() ?? []) if (t !== s) acc.add(this.resolve(t), this.level, this.rowsSlot);
    }
    acc.addUnits(unitsOfSlot(s));
    s.resolving = false;
    return (s.resolved = acc.build());
  }

  /** subst, then the rows slot replaced by the rows' lineage. */
  private fin(lin: Lin): Lin {
    const l = this.subst(lin);
    if (!this.rowsSlot || !l.slots?.includes(this.rowsSlot)) return l;
    const acc = new Acc(withoutSlot(l, this.rowsSlot));
    acc.add(this.rows, null, null);
    return acc.build();
  }
}

function isEmpty(lin: Lin): boolean {
  return lin.cols.length === 0 && !lin.unknown && !lin.slots && !lin.leaves;
}

function withoutSlot(lin: Lin, s: Slot | null): Lin {
  if (!s || !lin.slots?.includes(s)) return lin;
  const slots = lin.slots.filter((x) => x !== s);
  const out: Lin = { cols: lin.cols, derived: lin.derived, unknown: lin.unknown };
  if (slots.length > 0) out.slots = slots;
  if (lin.leaves) out.leaves = lin.leaves;
  return out;
}

/** A relation of outer columns found in a subquery: the enclosing level relates them when it ends. */
function forward(level: Scope, lin: Lin): void {
  const owner = ownerOf(level.parent, lin);
  if (owner) {
    const r = relOf(owner);
    if (!r.done) r.atoms.push(lin);
  }
}

interface RowMates {
  /** The columns of the same subquery row made of any of these values. */
  sharing(u: Units): Iterable<Slot>;
}

function rowMates(siblings: Map<Col | string, Slot>): RowMates {
  const byUnit = new Map<Slot, Slot[]>();
  const many: Slot[] = [];
  for (const t of siblings.values()) {
    const u = unitsOfSlot(t);
    if (u === "many") {
      many.push(t);
      continue;
    }
    for (const x of u) {
      let l = byUnit.get(x);
      if (!l) byUnit.set(x, (l = []));
      l.push(t);
    }
  }
  return {
    *sharing(u: Units) {
      if (u === "many" || u.length > MAX_LEAVES) {
        yield* siblings.values();
        return;
      }
      yield* many;
      for (const x of u) yield* byUnit.get(x) ?? [];
    },
  };
}
