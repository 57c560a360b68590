// JSON carried in a JSON string (an MCP tool's result text, an API's `data` payload, an event's data encoded
// twice): the masked inner document is written back into the outer string edit by edit, not re-encoded
// whole, so every character the masks did not change keeps the escape its server wrote it with (`\u00e9`
// from Python's json.dumps, `\u003c` from Go's encoding/json, `\/` from PHP).

import { RegateError } from "../errors.js";
import { isEmbeddedJson } from "./body.js";
import type { Scan } from "./json-scan.js";

type Edit = Scan["edits"][number];

/**
 * JSON inside JSON strings is masked this many levels deep (base64 of text counts as a level too); a
 * document embedded deeper is refused, since what regate does not inspect must not pass.
 */
export const MAX_EMBEDDED = 3;

/**
 * `s`, found `embedded` levels down, is a JSON object, array or JSON string to mask as a document; one
 * deeper than regate masks is refused (RegateError). Text that only looks like JSON is not one.
 */
export function holdsJson(s: string, embedded: number): boolean {
  if (!isEmbeddedJson(s)) return false;
  if (embedded >= MAX_EMBEDDED) throw new RegateError("MASK_LINEAGE_UNKNOWN", "JSON is embedded in strings deeper than regate masks");
  return true;
}

/**
 * `inner`, edits of the value of the string token at [start, end) of `text` (offsets into that value), as
 * edits of `text`: each offset moved to where the character it falls on was written, each replacement
 * escaped for a JSON string. The token must be valid JSON (the masker's text was parsed first).
 */
export function outerEdits(text: string, start: number, end: number, valueLength: number, inner: readonly Edit[]): Edit[] {
  const at = sourceOffsets(text, start, end, valueLength);
  return inner.map(([from, to, replacement]) => [at[from]!, at[to]!, JSON.stringify(replacement).slice(1, -1)]);
}

/**
 * Where each UTF-16 unit of the token's value starts in `text`; one more entry, the closing quote, ends
 * the last. A character is one unit as written, and an escape gives one unit (`\uXXXX` is six characters,
 * the others two), so inner edits, which start and end at ASCII punctuation, never split an escape.
 */
function sourceOffsets(text: string, start: number, end: number, valueLength: number): Uint32Array {
  const at = new Uint32Array(valueLength + 1);
  let unit = 0;
  for (let i = start + 1; i < end - 1; unit++) {
    at[unit] = i;
    i += text.charCodeAt(i) !== 0x5c ? 1 : text.charCodeAt(i + 1) === 0x75 ? 6 : 2;
  }
  at[unit] = end - 1;
  return at;
}
