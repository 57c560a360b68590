// Objects and arrays in the whole-document walk (json-rewrite.ts), where data may name a field
// (field-names.ts): `{"name": "ssn", "value": …}` in either order, and entries `[["ssn", …]]`. A value that
// may be a pair's is stepped over and walked once its container is whole, as its pair says: walked first and
// again once named, pairs nested in pairs' values cost 2^depth walks (560 bytes, 22 deep, took 20 s).

import { REDACTED } from "../mask/index.js";
import { literalEnd, skipWs, stringEnd, stringValue } from "./json-scan.js";
import { mergeActions, type DetectSpec, type FieldAction } from "./mask-actions.js";
import { MAX_PAIR_NAME, pairRole, PairRole } from "./field-names.js";
import type { JsonRewriter, Walk } from "./json-rewrite.js";
import { oasPairRole, oasParamSchema, paramSchema, type OasAt } from "./openapi-schemas.js";

/** A value of a name/value pair or entry, stepped over until its container is whole. */
interface HeldValue {
  start: number;
  /** Where its edits go among the walk's. */
  at: number;
  key: string;
}

/**
 * An object at the cursor. Under field rules it may name a field by data: a member such as `name` or `Key`
 * whose string names a masked field makes its `value` members that field's value, whichever comes first
 * (`{"value": …, "name": "ssn"}` too).
 */
export function walkObject(rw: JsonRewriter, scan: Walk, detect: DetectSpec | undefined, depth: number, embedded: number): void {
  const pairs = rw.names.size > 0 && !scan.inSchema;
  let named: FieldAction | undefined;
  /** The last name that named a field (a parameter's schema `title` may spell it). */
  let name: string | undefined;
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
    const role = pairs ? oasPairRole(scan.oas, key, pairRole(key)) : PairRole.None;
    // A parameter's schema is its field's once its name is known: walked now when it came first, held if not.
    const schema = pairs && oasParamSchema(scan.oas, key);
    skipWs(scan);
    if (role === PairRole.Value || (schema && named === undefined)) {
      (held ??= []).push({ start: scan.pos, at: scan.edits.length, key });
      stepOver(scan);
    } else {
      const start = scan.pos;
      rw.child(scan, key, true, detect, depth, embedded, undefined, schema ? paramSchema(named!, name) : undefined);
      if (role === PairRole.Name) {
        const action = namedBy(rw, scan.text, start, scan.pos);
        if (action !== undefined) name = stringValue(scan.text, start, scan.pos);
        named = mergeActions(named, action);
      }
    }
    skipWs(scan);
    if (scan.text.charCodeAt(scan.pos) === 0x2c) scan.pos++;
  }
  scan.pos++;
  if (held) for (let k = held.length - 1; k >= 0; k--) walkHeld(rw, scan, held[k]!, true, detect, named, depth, embedded, name);
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
    if (named && count === 1) {
      // An entry only if no third element follows: walked once that is known.
      second = { start, at: scan.edits.length, key: "1" };
      stepOver(scan);
    } else {
      rw.child(scan, String(count), false, detect, depth, embedded);
      if (entry && count === 0) named = namedBy(rw, scan.text, start, scan.pos);
    }
    count++;
    skipWs(scan);
    if (scan.text.charCodeAt(scan.pos) === 0x2c) scan.pos++;
  }
  scan.pos++;
  if (second) walkHeld(rw, scan, second, false, detect, count === 2 ? named : undefined, depth, embedded);
}

/** The action of the field the JSON string at [start, end) names, if it names one. */
function namedBy(rw: JsonRewriter, text: string, start: number, end: number): FieldAction | undefined {
  if (text.charCodeAt(start) !== 0x22 || end - start > MAX_PAIR_NAME + 2) return undefined;
  return rw.pairAction(stringValue(text, start, end));
}

/** A value stepped over, walked now as its container says (`pair`: the field its pair names), its edits put in their place. */
function walkHeld(rw: JsonRewriter, scan: Walk, h: HeldValue, member: boolean, detect: DetectSpec | undefined, pair: FieldAction | undefined, depth: number, embedded: number, name?: string): void {
  const sub: Walk = { text: scan.text, pos: h.start, edits: [], path: scan.path, shallow: scan.shallow, inSchema: scan.inSchema, oas: scan.oas, element: false, urlPairs: scan.urlPairs, ends: (scan.ends ??= new Map()) };
  // A parameter's schema, named or not, is walked as a schema: the field's when the parameter names one.
  const schema: OasAt | undefined = member && pair !== undefined && oasParamSchema(scan.oas, h.key) ? paramSchema(pair, name) : undefined;
  rw.child(sub, h.key, member, detect, depth, embedded, schema === undefined ? pair : undefined, schema);
  if (sub.edits.length > 0) scan.edits.splice(h.at, 0, ...sub.edits);
}

/** Containers remembered at most per document: past it, a value is stepped over by reading it again. */
const MAX_ENDS = 1 << 16;

/**
 * Moves past the value at the cursor (syntax already checked). Where its containers end is remembered: a
 * pair's value that holds pairs is stepped over here, then walked, and each of its own is stepped over again.
 */
function stepOver(scan: Walk): void {
  const t = scan.text;
  const c = t.charCodeAt(scan.pos);
  if (c === 0x22) return void stringEnd(scan);
  if (c !== 0x7b && c !== 0x5b) return void literalEnd(scan);
  const ends = (scan.ends ??= new Map());
  const open: number[] = [];
  for (;;) {
    const at = scan.pos;
    const d = t.charCodeAt(at);
    if (d === 0x22) {
      stringEnd(scan);
      continue;
    }
    if (d === 0x7b || d === 0x5b) {
      const end = ends.get(at);
      if (end === undefined) {
        open.push(at);
        scan.pos++;
        continue;
      }
      scan.pos = end;
    } else {
      scan.pos++;
      if (d !== 0x7d && d !== 0x5d) continue;
      const from = open.pop()!;
      if (ends.size < MAX_ENDS) ends.set(from, scan.pos);
    }
    if (open.length === 0) return;
  }
}
