import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical.js";

/** `prev` of a chain's first record. */
export const GENESIS = "0".repeat(64);

/** Fields every record carries; the rest depends on `type`. */
export interface RecordHead {
  v: 1;
  /** Position in its file, from 1, without gaps. */
  seq: number;
  /** SHA-256 (hex) of the previous record's line, GENESIS for the first. */
  prev: string;
  ts: string;
  type: string;
}

export type ChainRecord = RecordHead & Record<string, unknown>;

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Builds the lines of one hash chain: each line is the canonical JSON of its record. */
export class Chain {
  seq: number;
  head: string;

  constructor(seq = 0, head = GENESIS) {
    this.seq = seq;
    this.head = head;
  }

  /** The next line (with its newline) for `body`; the chain advances only by `commit`. */
  next(type: string, body: Record<string, unknown>, now = new Date()): { line: string; hash: string } {
    const record = { ...body, v: 1, seq: this.seq + 1, prev: this.head, ts: now.toISOString(), type };
    const text = canonicalJson(record);
    return { line: `${text}\n`, hash: sha256(text) };
  }

  commit(hash: string): void {
    this.seq += 1;
    this.head = hash;
  }
}
