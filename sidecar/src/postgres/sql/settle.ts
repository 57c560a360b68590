// The end of a query level: the relations found while it was walked are known, so every slot is replaced
// by the lineage of what it is related to, in the outputs, in facts recorded on the way and in the rows of
// the level (what aggregates, EXISTS and IN are made of). Relations of outer columns go to the enclosing level.
import { CONSTANT, MAX_LEAVES, merge, unionUnits, type Col, type Lin } from "./lineage.js";
import type { Scope, Source } from "./scope.js";
import { Acc } from "./lineage-acc.js";
import { forward, setRowsOf } from "./relate.js";
import { find, isEmpty, ownerOf, relOf, union, unitsOfSlot, withoutSlot, type LevelRelations, type Slot, type Units } from "./slots.js";

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
