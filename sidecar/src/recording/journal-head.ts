import { sign, verify, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "./canonical.js";
import { JOURNAL } from "./layout.js";
import { keyId } from "./sign.js";
import { checkChain } from "./verify.js";

// The journal's head, signed, for keeping somewhere the host cannot rewrite (a monitoring system polling
// GET /recordings/head, a ticket). Whoever can rewrite the recording directory can cut the journal's last
// records together with the files they close; a head taken earlier shows the cut:
// `regate recordings verify --journal-head head.json`.

export interface JournalHead {
  type: "journal_head";
  /** Records in the journal when the head was taken, and the SHA-256 of the last one. */
  records: number;
  head: string;
  ts: string;
  sig?: string;
  key_id?: string;
}

const payload = (h: JournalHead) => Buffer.from(canonicalJson({ type: h.type, records: h.records, head: h.head, ts: h.ts }), "utf8");

export function journalHead(records: number, head: string, key?: KeyObject, now = new Date()): JournalHead {
  const h: JournalHead = { type: "journal_head", records, head, ts: now.toISOString() };
  return key ? { ...h, sig: sign(null, payload(h), key).toString("base64"), key_id: keyId(key) } : h;
}

/** What is wrong with the journal of `dir` against a head taken earlier; undefined when it still holds it. */
export function checkJournalHead(dir: string, h: JournalHead, key?: KeyObject): string | undefined {
  if (h?.type !== "journal_head" || !Number.isInteger(h.records) || typeof h.head !== "string") return "not a journal head (GET /recordings/head gives one)";
  if (key) {
    let ok = false;
    try {
      ok = typeof h.sig === "string" && verify(null, payload(h), key, Buffer.from(h.sig, "base64"));
    } catch {
      ok = false;
    }
    if (!ok) return `the journal head of ${h.ts} ${h.sig === undefined ? "is not signed" : "has a bad signature"} (with this public key)`;
  }
  let text: Buffer | string = "";
  try {
    text = readFileSync(join(dir, JOURNAL));
  } catch {
    // A missing journal holds no records: reported below.
  }
  const check = checkChain(text);
  if (check.records.length < h.records) return `the journal was cut: it had ${h.records} records at ${h.ts}, it has ${check.records.length}`;
  const at = h.records === check.records.length ? check.head : String(check.records[h.records]!.prev);
  if (h.records > 0 && at !== h.head) return `journal record ${h.records} differs from the one the head of ${h.ts} names (the journal was rewritten)`;
  return undefined;
}
