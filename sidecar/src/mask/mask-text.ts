import type { DetectorName, MaskStrategy } from "../decision/types.js";
import { findMatches } from "./detectors.js";
import { applyStrategy } from "./strategies.js";

/**
 * Masks every detected span inside `text` with `strategy`, leaving the rest as it was. Returns the same
 * string when nothing is detected. With the `null` strategy a text containing any detected value becomes
 * null as a whole: a sub-string cannot be null, and keeping the text around it could still identify it.
 */
export function maskText(text: string, detectors: readonly DetectorName[], strategy: MaskStrategy, key?: Buffer): string | null {
  const matches = findMatches(text, detectors);
  if (matches.length === 0) return text;
  if (strategy === "null") return null;
  let out = "";
  let pos = 0;
  for (const m of matches) {
    out += text.slice(pos, m.start);
    out += applyStrategy(text.slice(m.start, m.end), strategy, { kind: m.detector }, key) ?? "";
    pos = m.end;
  }
  return out + text.slice(pos);
}
