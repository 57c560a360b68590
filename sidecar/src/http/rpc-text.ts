// The text of a single JSON-RPC request with its id set aside, for an approval's digest (hold.ts): a client
// numbers every call anew, so the id cannot be in what a reviewer approves, but everything else must be
// byte for byte. The parsed object is not enough: `{"amount":9999,"amount":1}` parses as `{"amount":1}` in
// JavaScript while a first-wins parser upstream reads 9999, and 2^53+1 parses as 2^53.

import { replaceScalars, skipWs, stringEnd, stringValue, type Scan } from "./json-scan.js";

/**
 * `body` (a JSON object that JSON.parse accepted) with the value of every top-level `id` member replaced by
 * `null`, other bytes as sent; undefined when the body is not valid UTF-8 or cannot be walked (too deep).
 */
export function withoutRequestId(body: Buffer): string | undefined {
  const text = body.toString("utf8");
  if (Buffer.byteLength(text, "utf8") !== body.length) return undefined;
  const scan: Scan = { text, pos: 0, edits: [] };
  const cut: [number, number][] = [];
  try {
    // The scanner trusts its text to be JSON (json-scan.ts): the parsed body may have come from another
    // charset, so these bytes are checked as UTF-8 JSON first.
    JSON.parse(text);
    skipWs(scan);
    if (text.charCodeAt(scan.pos) !== 0x7b) return undefined;
    scan.pos++;
    for (;;) {
      skipWs(scan);
      if (text.charCodeAt(scan.pos) === 0x7d || scan.pos >= text.length) break;
      const keyStart = scan.pos;
      const key = stringValue(text, keyStart, stringEnd(scan));
      skipWs(scan);
      scan.pos++; // ":"
      skipWs(scan);
      const start = scan.pos;
      // Walks past the value (the scalars it collects are not used).
      replaceScalars(scan, (v) => v, 1);
      if (key === "id") cut.push([start, scan.pos]);
      skipWs(scan);
      if (text.charCodeAt(scan.pos) === 0x2c) scan.pos++;
    }
  } catch {
    return undefined;
  }
  let out = "";
  let at = 0;
  for (const [a, b] of cut) {
    out += `${text.slice(at, a)}null`;
    at = b;
  }
  return out + text.slice(at);
}
