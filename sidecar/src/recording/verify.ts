import { isUtf8 } from "node:buffer";
import { canonicalJson } from "./canonical.js";
import { GENESIS, sha256, type ChainRecord } from "./chain.js";

export interface ChainCheck {
  ok: boolean;
  records: ChainRecord[];
  /** SHA-256 of the last good line. */
  head: string;
  /** The first thing wrong, naming the record (1-based line) it was found at. */
  problem?: { line: number; message: string };
}

/**
 * Checks one chain: every line is the canonical JSON of its record, `seq` counts from 1 without gaps and
 * `prev` is the SHA-256 of the line before. An edited byte, a removed or reordered record, or a cut line
 * each break it at the first record concerned. Whether the chain is complete (ends with `end`, matches the
 * journal) is the caller's question.
 */
export function checkChain(input: string | Buffer): ChainCheck {
  // Given the file's bytes, a line that is not valid UTF-8 is a changed byte: regate writes only valid UTF-8
  // (JSON escapes lone surrogates), and decoding would turn the bad bytes into U+FFFD, so a record holding a
  // U+FFFD of its own would hash the same with one of its bytes changed.
  const badLine = typeof input === "string" ? 0 : firstInvalidLine(input);
  const text = typeof input === "string" ? input : input.toString("utf8");
  const records: ChainRecord[] = [];
  let head = GENESIS;
  const lines = text.split("\n");
  const complete = lines.pop() === "";
  if (!complete && lines.length === 0 && text === "") return { ok: true, records, head };
  const all = complete ? lines : [...lines, "\0"];
  for (let i = 0; i < all.length; i++) {
    const line = all[i]!;
    const n = i + 1;
    const fail = (message: string): ChainCheck => ({ ok: false, records, head, problem: { line: n, message } });
    if (line === "\0") return fail("last line is cut off (no newline): the file was truncated");
    if (n === badLine) return fail("not valid UTF-8 (a byte was changed)");
    let rec: ChainRecord;
    try {
      rec = JSON.parse(line) as ChainRecord;
    } catch {
      return fail("not valid JSON");
    }
    if (!rec || typeof rec !== "object" || Array.isArray(rec)) return fail("not a record");
    if (canonicalJson(rec) !== line) return fail("not in canonical form (edited)");
    if (rec.seq !== n) return fail(`seq is ${String(rec.seq)}, expected ${n} (a record was removed, inserted or moved)`);
    if (rec.prev !== head) return fail("prev does not match the SHA-256 of the record before (the record before was edited, or records were removed or reordered)");
    head = sha256(line);
    records.push(rec);
  }
  return { ok: true, records, head };
}

/** 1-based number of the first line of `buf` that is not valid UTF-8; 0 when every line is. */
function firstInvalidLine(buf: Buffer): number {
  if (isUtf8(buf)) return 0;
  let start = 0;
  for (let n = 1; ; n++) {
    const nl = buf.indexOf(0x0a, start);
    const end = nl === -1 ? buf.length : nl;
    if (!isUtf8(buf.subarray(start, end))) return n;
    if (nl === -1) return 0;
    start = nl + 1;
  }
}
