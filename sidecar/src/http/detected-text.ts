// Detector hits in a text, found in the text as sent and in the decoded views an agent could read it in,
// and masked in place. Shared by the JSON masker (masker.ts) and response headers (mask-headers.ts).

import { applyStrategy, findMatches, REDACTED } from "../mask/index.js";
import { decodedViews } from "../mask/text-views.js";
import type { DetectSpec } from "./mask-actions.js";

/** A detected span of a text and what replaces it; null when a `null` strategy hit. */
export interface DetectedSpan {
  start: number;
  end: number;
  replacement: string | null;
}

/** The spans of `s` that `detect` finds, each with its detector's replacement (`key` for hashing). */
export function detectedSpans(s: string, detect: DetectSpec, key: Buffer | undefined): DetectedSpan[] {
  const spans: DetectedSpan[] = [];
  for (const m of findMatches(s, detect.names)) {
    const strategy = detect.strategy.get(m.detector) ?? "redact";
    spans.push({ start: m.start, end: m.end, replacement: applyStrategy(s.slice(m.start, m.end), strategy, { kind: m.detector }, key) });
  }
  return spans;
}

/**
 * Detected spans masked with their detector's strategy; null when a `null` strategy hit. Detectors run
 * over the text as sent and over its decoded views (percent escapes, HTML references, NFKC, invisible
 * characters dropped: see text-views.ts; backslash escapes: escapeView), since `alice%40example.com`,
 * `alice&#64;example.com`, `alice\u0040example.com` and `１２３-４５-６７８９` read as the values they spell.
 * A hit in a view masks the characters as sent that spell it; a hit only found below the layers regate maps
 * back masks the whole text.
 */
export function maskDetected(s: string, detect: DetectSpec | undefined, key: Buffer | undefined): string | null {
  if (!detect || s === "") return s;
  const found = spansInViews(s, detect, key);
  const edits: Edit[] = [];
  for (const m of found.spans) {
    // A null inside a string cannot exist: the whole value becomes null.
    if (m.replacement === null) return null;
    edits.push([m.start, m.end, m.replacement]);
  }
  if (found.whole !== undefined) return found.whole;
  return edits.length === 0 ? s : applyEdits(s, edits);
}

/**
 * The spans of `s` that `detect` finds as sent and in its decoded views, each mapped back to the characters
 * as sent that spell it (in the order found: as sent first; they may overlap). `whole`: a hit only found below
 * the layers regate maps back, which masks the whole text (null under a `null` strategy).
 */
export function spansInViews(s: string, detect: DetectSpec, key: Buffer | undefined): { spans: DetectedSpan[]; whole?: string | null } {
  const spans = detectedSpans(s, detect, key);
  const { views, deeper } = decodedViews(s);
  for (const v of views) {
    for (const m of detectedSpans(v.text, detect, key)) spans.push({ start: v.from[m.start]!, end: v.to[m.end - 1]!, replacement: m.replacement });
  }
  const hit = deeper === undefined ? undefined : deeperHit(deeper, detect);
  if (hit !== undefined) return { spans, whole: hit };
  // Backslash escapes are what JSON and JavaScript readers decode: a body regate reads as text (NDJSON,
  // JSONP, a JSON string served as text/plain) or a header may spell `alice\u0040example.com`.
  const esc = s.includes("\\") ? escapeView(s) : undefined;
  if (esc) {
    const inner = decodedViews(esc.text);
    for (const v of [{ text: esc.text, from: undefined, to: undefined }, ...inner.views]) {
      for (const m of detectedSpans(v.text, detect, key)) {
        const start = v.from ? v.from[m.start]! : m.start;
        const end = v.to ? v.to[m.end - 1]! - 1 : m.end - 1;
        spans.push({ start: esc.from[start]!, end: esc.to[end]!, replacement: m.replacement });
      }
    }
    const innerHit = inner.deeper === undefined ? undefined : deeperHit(inner.deeper, detect);
    if (innerHit !== undefined) return { spans, whole: innerHit };
  }
  return { spans };
}

/** What a text decoded past the mapped layers becomes when a detector hits in it: null or all redacted. */
function deeperHit(deeper: string, detect: DetectSpec): string | null | undefined {
  const hits = findMatches(deeper, detect.names);
  if (hits.some((h) => detect.strategy.get(h.detector) === "null")) return null;
  return hits.length > 0 ? REDACTED : undefined;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = Object.freeze({ n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", "0": "\0" });
const BACKSLASH_ESCAPE = /\\(?:u\{([0-9A-Fa-f]{1,6})\}|u([0-9A-Fa-f]{4})|x([0-9A-Fa-f]{2})|(.))/sy;

/**
 * `s` with its JSON and JavaScript backslash escapes decoded (\uXXXX, \u{X}, \xXX, \n, \/ and the like),
 * each character of the result mapped to the escape it came from; undefined when none decodes.
 */
export function escapeView(s: string): { text: string; from: number[]; to: number[] } | undefined {
  let text = "";
  const from: number[] = [];
  const to: number[] = [];
  let changed = false;
  for (let i = 0; i < s.length; ) {
    if (s.charCodeAt(i) === 0x5c) {
      BACKSLASH_ESCAPE.lastIndex = i;
      const m = BACKSLASH_ESCAPE.exec(s);
      if (m) {
        const cp = m[1] ?? m[2] ?? m[3];
        const value = cp !== undefined ? codePoint(parseInt(cp, 16)) : (SIMPLE_ESCAPES[m[4]!] ?? m[4]!);
        for (let k = 0; k < value.length; k++) {
          from.push(i);
          to.push(i + m[0].length);
        }
        text += value;
        i += m[0].length;
        changed = true;
        continue;
      }
    }
    text += s[i];
    from.push(i);
    to.push(i + 1);
    i++;
  }
  return changed ? { text, from, to } : undefined;
}

const codePoint = (cp: number): string => (cp > 0x10ffff ? "\ufffd" : String.fromCodePoint(cp));

type Edit = [start: number, end: number, replacement: string];

/**
 * `edits` applied to `s`. The same span found in several views is masked once (as first found: as sent);
 * spans that overlap without being the same are merged and the merged span redacted, since neither
 * replacement covers the other's characters.
 */
function applyEdits(s: string, edits: Edit[]): string {
// Stable: of equal spans, the one found first stays first.
edits.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
let out = "";
let pos = 0;
let last: Edit | undefined;
for (const e of edits) {
  if (last && e[0] === last[0] && e[1] === last[1]) continue;
  if (last && e[0] < last[1]) {
    last = [last[0], Math.max(last[1], e[1]), REDACTED];
    continue;
  }
  if (last) {
    out += s.slice(pos, last[0]) + last[2];
    pos = last[1];
  }
  last = e;
}
if (last) {
  out += s.slice(pos, last[0]) + last[2];
  pos = last[1];
}
return out + s.slice(pos);
}

