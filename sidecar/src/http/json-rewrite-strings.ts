// Strings in the whole-document walk (json-rewrite.ts) and what they carry: JSON of its own (masked as a
// document and written back with the string's escapes), text as byte values, `?ssn=…` pairs, base64 of
// readable text (UTF-16 and compressed text too), hex of text, and the detectors over what is left.

import { RegateError } from "../errors.js";
import { maskBase64Runs } from "./base64-runs.js";
import { maskTextBytes, startsEncoded } from "./encoded-bytes.js";
import { maskHex } from "./hex-view.js";
import { bytesAsText, byteValuesAt, byteValuesText } from "./byte-arrays.js";
import { holdsJson, MAX_EMBEDDED, outerEdits } from "./embedded-json.js";
import { stringValue } from "./json-scan.js";
import { mergeSpecs, type DetectSpec, type FieldAction } from "./mask-actions.js";
import { maskQueryPairs } from "./query-pairs.js";
import type { JsonRewriter, Walk } from "./json-rewrite.js";

/**
 * The string token at [start, end) of the walk's text. JSON carried inside it (MCP tool results put their
 * payload in `content[].text`) is masked as a document of its own, and its edits are written into the
 * token as it was written (embedded-json.ts): characters no mask changed keep their escapes. A string
 * holding a JSON string (encoded twice) is followed as well: it may hold an object in turn. The embedded
 * document sits at the string's key path, so a JSON pointer reads through it (`/data/email` finds the
 * email of `{"data": "{\"email\": ...}"}`), as a field name does.
 */
export function stringAt(rw: JsonRewriter, scan: Walk, start: number, end: number, detect: DetectSpec | undefined, depth: number, embedded: number): void {
  const s = stringValue(scan.text, start, end);
  if (holdsJson(s, embedded)) {
    const inner = rw.walk(s, detect, depth + 1, embedded + 1, scan.path, scan.urlPairs);
    for (const edit of outerEdits(scan.text, start, end, s.length, inner.edits)) scan.edits.push(edit);
    return;
  }
  const masked = notJson(rw, s, detect, depth, embedded, scan.path, scan.urlPairs);
  if (masked !== s) scan.edits.push([start, end, JSON.stringify(masked)]);
}

/**
 * Text carried as byte values (byte-arrays.ts) at the walk's position: masked as a string holding it would
 * be, and written back as bytes when a mask changed it. False, with nothing read, when the value is not such.
 */
export function byteValues(rw: JsonRewriter, scan: Walk, detect: DetectSpec | undefined, depth: number, embedded: number): boolean {
  const found = byteValuesAt(scan.text, scan.pos);
  if (found === undefined) return false;
  // An array whose values are all 48-57 spells only digits: far more often a series (temperatures, ages,
  // scores) than a Buffer of a number, and 1 in 10 of those of 13-19 values passes the card check. Read as
  // the numbers it holds, not as text. (A Buffer's bytes in an object, `{"0": ...}`, are still text.)
  if (scan.text.charCodeAt(scan.pos) === 0x5b && found.bytes.every((b) => b >= 0x30 && b <= 0x39)) return false;
  const start = scan.pos;
  scan.pos = found.end;
  const object = scan.text.charCodeAt(start) === 0x7b;
  // Compressed or UTF-16 text in bytes (a gzip file read into a Buffer) is read as the text it holds.
  const b = found.bytes;
  if (b.length >= 3 && startsEncoded(b[0]!, b[1]!, b[2]!)) {
    const inner = maskTextBytes(b, (text) => maskString(rw, text, detect, depth + 1, embedded + 1, scan.path, scan.urlPairs));
    if (inner === null) scan.edits.push([start, found.end, "null"]);
    else if (inner !== undefined && inner !== b) scan.edits.push([start, found.end, byteValuesText(inner.toString("latin1"), "latin1", object)]);
    if (inner !== undefined) return true;
  }
  const { text, encoding } = bytesAsText(found.bytes);
  // No refusal here at the limit: byte values there are read as a string there is (detectors over the
  // text; JSON or base64 in it, which would need a level more, refused by maskString). Refusing every array
  // of four small integers refused a tool result holding a colour, or a token whose claims hold a version.
  const masked = maskString(rw, text, detect, depth + 1, embedded + 1, scan.path, scan.urlPairs);
  if (masked === null) scan.edits.push([start, found.end, "null"]);
  else if (masked !== text) scan.edits.push([start, found.end, byteValuesText(masked, encoding, object)]);
  return true;
}

/** Text found in a string (decoded from base64): masked as a string value is; null when nulled. */
function maskString(rw: JsonRewriter, s: string, detect: DetectSpec | undefined, depth: number, embedded: number, path: string[], urlPairs: boolean): string | null {
  if (holdsJson(s, embedded)) return rw.rewrite(s, detect, depth + 1, embedded + 1, path, urlPairs);
  return notJson(rw, s, detect, depth, embedded, path, urlPairs);
}

/** A string that holds no JSON: detectors over it, then the base64 in it (what they masked is no longer base64). */
export function notJson(rw: JsonRewriter, s: string, detect: DetectSpec | undefined, depth: number, embedded: number, path: string[], urlPairs: boolean): string | null {
  // `?ssn=…` in a URL names the field as a key would: its value is masked as the field's.
  const paired = !urlPairs || rw.names.size === 0 || !s.includes("=") ? s : maskQueryPairs(s, (name) => rw.pairAction(name), (value, action) => maskAs(rw, value, action, detect));
  const masked = rw.maskDetected(paired, detect);
  if (masked === null) return null;
  // Base64 of readable text (a JWT's payload, a raw mail message) is masked as that text, a level deeper,
  // whether it is the whole string or a run in it (`Bearer <jwt>`, `#id_token=<jwt>&state=…`).
  // Hex of text (a JSON result written with `.hex()`) likewise, when it is the whole string.
  const deeper = (text: string): string | null => {
    if (embedded >= MAX_EMBEDDED) throw new RegateError("MASK_LINEAGE_UNKNOWN", "values are encoded in strings deeper than regate masks");
    return maskString(rw, text, detect, depth + 1, embedded + 1, path, urlPairs);
  };
  const unhexed = maskHex(masked, deeper);
  return unhexed === null ? null : maskBase64Runs(unhexed, deeper);
}

/** A text value masked as `action`'s field would be, on top of `detect`. */
function maskAs(rw: JsonRewriter, value: string, action: FieldAction, detect: DetectSpec | undefined): string | null {
  return action.whole !== undefined ? rw.maskWhole(value, action.whole) : rw.maskDetected(value, mergeSpecs(detect, action.detect));
}
