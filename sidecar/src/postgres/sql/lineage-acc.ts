// Building one lineage out of many without copying column lists that are already shared: the settling
// of a level merges the lineage of every slot a value reads, often the same columns again.
import { columnKey, unionUnits, type Lin } from "./lineage.js";
import type { ColumnRef } from "./types.js";
import type { Scope } from "./scope.js";
import type { Slot, Units } from "./slots.js";

/** A lineage built up from parts, keeping `derived` of the first unless columns are added. */
export class Acc {
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
