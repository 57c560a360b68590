// Cursor helpers over JSON text already validated by JSON.parse (ResponseMasker.maskJsonText's in-place rewrite).

import { RegateError } from "../errors.js";
import { MAX_DEPTH } from "./mask-actions.js";

/** A document being rewritten: the text, the cursor, and the replacements so far (in text order). */
export interface Scan {
  text: string;
  pos: number;
  edits: [start: number, end: number, replacement: string][];
}

export function skipWs(scan: Scan): void {
  const t = scan.text;
  let i = scan.pos;
  for (;;) {
    const c = t.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  scan.pos = i;
}

/** The cursor is on a string's opening quote: moves past its closing quote and returns that offset. */
export function stringEnd(scan: Scan): number {
  const t = scan.text;
  let i = scan.pos + 1;
  for (;;) {
    const c = t.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === 0x22) break;
    else i++;
  }
  scan.pos = i + 1;
  return scan.pos;
}

export function stringValue(text: string, start: number, end: number): string {
  const body = text.slice(start + 1, end - 1);
  return body.includes("\\") ? (JSON.parse(text.slice(start, end)) as string) : body;
}

/** A number, true, false or null at the cursor. */
export function literalEnd(scan: Scan): number {
  const t = scan.text;
  let i = scan.pos;
  for (;;) {
    const c = t.charCodeAt(i);
    if (Number.isNaN(c) || c === 0x2c || c === 0x7d || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) break;
    i++;
  }
  scan.pos = i;
  return i;
}

/**
 * Replaces every scalar of the value at the cursor with `replace(its text)` (structure kept); JSON null stays
 * null, it reveals nothing. Past `MAX_DEPTH` levels the response is refused, not passed.
 */
export function replaceScalars(scan: Scan, replace: (value: string) => string, depth: number): void {
  if (depth > MAX_DEPTH) throw new RegateError("MASK_LINEAGE_UNKNOWN", "response is nested too deeply to mask");
  skipWs(scan);
  const c = scan.text.charCodeAt(scan.pos);
  if (c === 0x7b || c === 0x5b) {
    const close = c === 0x7b ? 0x7d : 0x5d;
    scan.pos++;
    for (;;) {
      skipWs(scan);
      if (scan.text.charCodeAt(scan.pos) === close) break;
      if (c === 0x7b) {
        stringEnd(scan);
        skipWs(scan);
        scan.pos++; // ":"
      }
      replaceScalars(scan, replace, depth + 1);
      skipWs(scan);
      if (scan.text.charCodeAt(scan.pos) === 0x2c) scan.pos++;
    }
    scan.pos++;
    return;
  }
  const start = scan.pos;
  const end = c === 0x22 ? stringEnd(scan) : literalEnd(scan);
  if (c === 0x6e) return; // null
  const value = c === 0x22 ? stringValue(scan.text, start, end) : scan.text.slice(start, end);
  scan.edits.push([start, end, replace(value)]);
}
