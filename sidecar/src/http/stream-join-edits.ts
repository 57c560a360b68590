// The edits joins make to the delta strings of the events they let out (stream-joins.ts).

import { REDACTED } from "../mask/index.js";
import type { DetectedSpan } from "./detected-text.js";
import { TEXT_PATH, type Leaf } from "./stream-leaves.js";

/** A span of one delta string and what replaces it (null: the string becomes JSON null). */
export type Edit = [start: number, end: number, replacement: string | null];

/**
 * Spans in text order, never overlapping: the same span found as sent and in a view is kept once; spans that
 * overlap otherwise become one, redacted (null if either is), since neither replacement covers the other.
 */
export function merged(spans: DetectedSpan[]): DetectedSpan[] {
  if (spans.length < 2) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: DetectedSpan[] = [spans[0]!];
  for (let i = 1; i < spans.length; i++) {
    const s = spans[i]!;
    const last = out[out.length - 1]!;
    if (s.start >= last.end) {
      out.push(s);
      continue;
    }
    if (s.start === last.start && s.end === last.end) continue;
    const replacement = last.replacement === null || s.replacement === null ? null : REDACTED;
    out[out.length - 1] = { start: last.start, end: Math.max(last.end, s.end), replacement };
  }
  return out;
}

/** An event's data with the edits to its leaves applied: each edited string written anew (null when a `null` strategy hit). */
export function applyLeafEdits(h: { data: string; leaves: Leaf[] }, edits: Map<Leaf, Edit[]>): string {
  let out = "";
  let pos = 0;
  for (const leaf of h.leaves) {
    const list = edits.get(leaf);
    if (!list) continue;
    let value: string | null = "";
    let at = 0;
    list.sort((x, y) => x[0] - y[0]);
    for (const [a, b, r] of list) {
      if (r === null) {
        value = null;
        break;
      }
      if (a < at) {
        // Overlapping spans (a detector hit and the bound's mask): one replacement covers both.
        at = Math.max(at, b);
        continue;
      }
      value += leaf.value.slice(at, a) + r;
      at = b;
    }
    if (value !== null) value += leaf.value.slice(at);
    const text = leaf.path === TEXT_PATH ? (value ?? "") : value === null ? "null" : JSON.stringify(value);
    out += h.data.slice(pos, leaf.start) + text;
    pos = leaf.end;
  }
  return pos === 0 ? h.data : out + h.data.slice(pos);
}
