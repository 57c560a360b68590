// Lineage values: which base columns feed an expression, and how directly.
import type { ColumnRef, OutputColumn } from "./types.js";
import type { Slot, Units } from "./slots.js";

export interface Lin {
  cols: readonly ColumnRef[];
  derived: boolean;
  unknown: boolean;
  /**
   * Columns of FROM items of this query level or an enclosing one that the value is made of
   * (relate.ts): what rows are chosen by may still relate them to other values, which the level's end adds.
   */
  slots?: readonly Slot[];
  /** Columns of inner query levels, already settled, that the value is made of: its provenance (relate.ts). */
  leaves?: Units;
}

/** A named column of a FROM item or query result. */
export interface Col {
  name: string;
  lin: Lin;
  /** A `*` that could not be expanded: it stands for an unknown number of columns. */
  wide?: boolean;
}

export const CONSTANT: Lin = Object.freeze({ cols: Object.freeze([]) as readonly ColumnRef[], derived: true, unknown: false });
export const UNKNOWN: Lin = Object.freeze({ cols: Object.freeze([]) as readonly ColumnRef[], derived: true, unknown: true });

// Provenance beyond this many inner columns is not followed: such a value counts as made of everything.
export const MAX_LEAVES = 64;

export function columnKey(c: ColumnRef): string {
  return `${c.schema ?? ""}\u0000${c.table}\u0000${c.column}`;
}

export function plain(ref: ColumnRef): Lin {
  return { cols: [ref], derived: false, unknown: false };
}

/** Union of provenance sets; "many" once it grows past MAX_LEAVES. */
export function unionUnits(a: Units | undefined, b: Units | undefined): Units | undefined {
  if (!a || (Array.isArray(a) && a.length === 0)) return b;
  if (!b || (Array.isArray(b) && b.length === 0) || a === b) return a;
  if (a === "many" || b === "many") return "many";
  let out: Slot[] | undefined;
  for (const s of b) {
    if (a.includes(s) || out?.includes(s)) continue;
    (out ??= [...a]).push(s);
    if (out.length > MAX_LEAVES) return "many";
  }
  return out ?? a;
}

/**
 * Combine lineages. `derived: "any"` keeps a plain reference plain (set operations, joins' merged
 * columns); `true` is for anything computed from its parts.
 */
export function merge(parts: readonly Lin[], derived: boolean | "any"): Lin {
  if (parts.length === 1 && derived === "any") return parts[0] as Lin;
  let unknown = false;
  let anyDerived = false;
  let cols: ColumnRef[] | undefined;
  let seen: Set<string> | undefined;
  // Slots and leaves: the one part's array when only one has any, else a union (a Set for slots).
  let slots: readonly Slot[] | undefined;
  let slotSet: Set<Slot> | undefined;
  let leaves: Units | undefined;
  for (const p of parts) {
    if (p.unknown) unknown = true;
    if (p.derived) anyDerived = true;
    for (const c of p.cols) {
      cols ??= [];
      seen ??= new Set();
      const k = columnKey(c);
      if (!seen.has(k)) {
        seen.add(k);
        cols.push(c);
      }
    }
    if (p.slots && p.slots.length > 0 && p.slots !== slots) {
      if (!slots) slots = p.slots;
      else {
        slotSet ??= new Set(slots);
        for (const x of p.slots) slotSet.add(x);
      }
    }
    if (p.leaves) leaves = unionUnits(leaves, p.leaves);
  }
  if (slotSet && slotSet.size > (slots?.length ?? 0)) slots = [...slotSet];
  if (!cols && !unknown && !slots && !leaves) return CONSTANT;
  const out: Lin = { cols: cols ?? [], derived: derived === "any" ? anyDerived || parts.length === 0 : derived, unknown };
  if (slots) out.slots = slots;
  if (leaves) out.leaves = leaves;
  return out;
}

export function asDerived(l: Lin): Lin {
  return l.derived ? l : { ...l, derived: true };
}

export function asUnknown(l: Lin): Lin {
  return l.unknown ? l : { ...l, unknown: true };
}

export function toOutput(c: Col): OutputColumn {
  return { name: c.name, lineage: c.lin.cols.map((x) => ({ ...x })), derived: c.lin.derived, unknown: c.lin.unknown };
}
