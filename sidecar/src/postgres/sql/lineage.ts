// Lineage values: which base columns feed an expression, and how directly.
import type { ColumnRef, OutputColumn } from "./types.js";

export interface Lin {
  cols: readonly ColumnRef[];
  derived: boolean;
  unknown: boolean;
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

export function columnKey(c: ColumnRef): string {
  return `${c.schema ?? ""}\u0000${c.table}\u0000${c.column}`;
}

export function plain(ref: ColumnRef): Lin {
  return { cols: [ref], derived: false, unknown: false };
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
  }
  if (!cols && !unknown) return CONSTANT;
  return { cols: cols ?? [], derived: derived === "any" ? anyDerived || parts.length === 0 : derived, unknown };
}

export function asDerived(l: Lin): Lin {
  return l.derived ? l : { cols: l.cols, derived: true, unknown: l.unknown };
}

export function asUnknown(l: Lin): Lin {
  return l.unknown ? l : { cols: l.cols, derived: l.derived, unknown: true };
}

export function toOutput(c: Col): OutputColumn {
  return { name: c.name, lineage: c.lin.cols.map((x) => ({ ...x })), derived: c.lin.derived, unknown: c.lin.unknown };
}
