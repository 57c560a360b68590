// Response headers as the decoded check reads them: an agent decodes a name as well as a value (a
// percent-encoded header name), reads a header sent twice as one list, and can join values across headers
// (a token cut in two, like a cookie chunked over two headers) or a name with its value.

import type { OutgoingHttpHeaders } from "node:http";
import { scanWhole } from "./leak-guard.js";
import type { Needles } from "./leak-match.js";

/** One name, or one element of a comma-separated value, as the check reads headers. */
interface HeaderPiece {
  name: string;
  /** -1 for the name itself, else the index of the value (0 for a single value). */
  value: number;
  /** Where the piece starts in that value. */
  at: number;
  text: string;
  /** Where its JSON string's content starts in the document. */
  json: number;
}

/**
 * Every name and every comma-separated element of every value, read as the strings of one JSON document,
 * `{"name":["el",...],...}`, so that the guard decodes each and joins them as it joins JSON values
 * (leak-json.ts). A form found in a name drops the header; in a value, its characters become "*" (in place).
 * True when something was.
 */
export function scrubHeaderJoins(headers: OutgoingHttpHeaders, needles: Needles): boolean {
  const pieces: HeaderPiece[] = [];
  let doc = "{";
  const add = (p: Omit<HeaderPiece, "json">): void => {
    pieces.push({ ...p, json: doc.length + 1 });
    doc += JSON.stringify(p.text);
  };
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string" && !Array.isArray(value)) continue;
    if (doc.length > 1) doc += ",";
    add({ name, value: -1, at: 0, text: name });
    doc += ":[";
    let first = true;
    for (const [index, v] of [value].flat().entries()) {
      let at = 0;
      for (const el of v.split(",")) {
        if (!first) doc += ",";
        first = false;
        add({ name, value: index, at, text: el });
        at += el.length + 1;
      }
    }
    doc += "]";
  }
  doc += "}";
  // Node reads header bytes as latin1: back to those bytes, so a percent-encoded value decodes as sent.
  const bytes = Buffer.from(doc, "latin1");
  const r = scanWhole(bytes, needles, false);
  if (!r.found) return false;
  for (const p of pieces) {
    // The characters of the piece whose JSON spelling was overwritten, in whole or in part.
    let at = p.json;
    const hit: number[] = [];
    for (let k = 0; k < p.text.length; k++) {
      const len = JSON.stringify(p.text[k]).length - 2;
      if (r.out.compare(bytes, at, at + len, at, at + len) !== 0) hit.push(k);
      at += len;
    }
    if (hit.length === 0 || !(p.name in headers)) continue;
    if (p.value < 0) {
      delete headers[p.name];
      continue;
    }
    const value = headers[p.name] as string | string[];
    const values = [value].flat();
    const chars = [...values[p.value]!];
    for (const k of hit) chars[p.at + k] = "*";
    values[p.value] = chars.join("");
    headers[p.name] = Array.isArray(value) ? values : values[0]!;
  }
  return true;
}
