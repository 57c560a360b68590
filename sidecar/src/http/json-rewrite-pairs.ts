// Objects and arrays in the whole-document walk (json-rewrite.ts), where data may name a field
// (field-names.ts): `{"name": "ssn", "value": …}` in either order, and entries `[["ssn", …]]`. A value walked
// before its pair was known to name a masked field has its edits replaced once its container is whole.

import { REDACTED } from "../mask/index.js";
import { skipWs, stringEnd, stringValue } from "./json-scan.js";
import { mergeActions, mergeSpecs, type DetectSpec, type FieldAction } from "./mask-actions.js";
import { MAX_PAIR_NAME, pairRole, PairRole } from "./field-names.js";
import type { JsonRewriter, Walk } from "./json-rewrite.js";

/** A value of a name/value pair or entry, walked before the pair was known to name a masked field. */
interface HeldValue {
  start: number;
  /** The walk's edits inside it: [e0, e1). */
  e0: number;
  e1: number;
  /** Detectors it was walked with. */
  detect: DetectSpec | undefined;
  key: string;
  element: boolean;
}

/**
 * An object at the cursor. Under field rules it may name a field by data: a member such as `name` or `Key`
 * whose string names a masked field makes its `value` members that field's value, whichever comes first
 * (`{"value": …, "name": "ssn"}` too).
 */
export function walkObject(rw: JsonRewriter, scan: Walk, detect: DetectSpec | undefined, depth: number, embedded: number): void {
  const pairs = rw.names.size > 0 && !scan.inSchema;
  let named: FieldAction | undefined;
  let held: HeldValue[] | undefined;
  scan.pos++;
  for (;;) {
    skipWs(scan);
    if (scan.text.charCodeAt(scan.pos) === 0x7d) break;
    const keyStart = scan.pos;
    const keyEnd = stringEnd(scan);
    const key = stringValue(scan.text, keyStart, keyEnd);
    // Object keys can carry values too (maps keyed by email): they are scanned like strings.
    if (detect) {
      const masked = rw.maskDetected(key, detect) ?? REDACTED;
      if (masked !== key) scan.edits.push([keyStart, keyEnd, JSON.stringify(masked)]);
    }
    skipWs(scan);
    scan.pos++; // ":"
    const role = pairs ? pairRole(key) : PairRole.None;
    if (role === PairRole.None) rw.child(scan, key, true, detect, depth, embedded);
    else {
      skipWs(scan);
      const start = scan.pos;
      const e0 = scan.edits.length;
      const action = rw.child(scan, key, true, detect, depth, embedded);
      if (role === PairRole.Name) named = mergeActions(named, namedBy(rw, scan.text, start, scan.pos));
      else if (action?.whole === undefined) (held ??= []).push({ start, e0, e1: scan.edits.length, detect: mergeSpecs(detect, action?.detect), key, element: false });
    }
    skipWs(scan);
    if (scan.text.charCodeAt(scan.pos) === 0x2c) scan.pos++;
  }
  scan.pos++;
  if (named && held) remask(rw, scan, held, named, depth, embedded);
}

/**
 * An array at the cursor. An array of two elements inside an array, the first a string naming a masked
 * field, is an entry (Python's dict items, `Object.entries`, URLSearchParams and Headers entries): its
 * second element is that field's value. `["en", "fr"]` names no field and is left alone.
 */
export function walkArray(rw: JsonRewriter, scan: Walk, detect: DetectSpec | undefined, depth: number, embedded: number): void {
  const entry = scan.element && rw.names.size > 0 && !scan.inSchema;
  let named: FieldAction | undefined;
  let second: HeldValue | undefined;
  let count = 0;
  scan.pos++;
  for (;;) {
    skipWs(scan);
    if (scan.text.charCodeAt(scan.pos) === 0x5d) break;
    const start = scan.pos;
    const e0 = scan.edits.length;
    const action = rw.child(scan, String(count), false, detect, depth, embedded);
    if (entry && count === 0) named = namedBy(rw, scan.text, start, scan.pos);
    else if (named && count === 1 && action?.whole === undefined) second = { start, e0, e1: scan.edits.length, detect: mergeSpecs(detect, action?.detect), key: "1", element: true };
    count++;
    skipWs(scan);
    if (scan.text.charCodeAt(scan.pos) === 0x2c) scan.pos++;
  }
  scan.pos++;
  if (named && second && count === 2) remask(rw, scan, [second], named, depth, embedded);
}

/** The action of the field the JSON string at [start, end) names, if it names one. */
function namedBy(rw: JsonRewriter, text: string, start: number, end: number): FieldAction | undefined {
  if (text.charCodeAt(start) !== 0x22 || end - start > MAX_PAIR_NAME + 2) return undefined;
  return rw.pairAction(stringValue(text, start, end));
}

/** Values of a container at `depth` masked again as `action`'s field: their edits replaced, last first. */
function remask(rw: JsonRewriter, scan: Walk, held: readonly HeldValue[], action: FieldAction, depth: number, embedded: number): void {
  for (let k = held.length - 1; k >= 0; k--) {
    const h = held[k]!;
    const sub: Walk = { text: scan.text, pos: h.start, edits: [], path: scan.path, shallow: scan.shallow, inSchema: false, element: h.element, urlPairs: scan.urlPairs };
    rw.heldValue(sub, h.detect, action, h.key, depth + 1, embedded);
    scan.edits.splice(h.e0, h.e1 - h.e0, ...sub.edits);
  }
}
