import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { canonicalJson } from "./canonical.js";

// Signed checkpoints: the journal's `checkpoint`, `closed` and `deleted` records carry an Ed25519 signature over the
// file, session, record count and last hash, so a verifier holding the public key can tell the journal's
// account of a file from one rewritten by someone without the key. The signature also covers where the record
// stands in the journal (its `seq` and `prev`): otherwise each signed record would stay valid on its own while
// the journal around it was rebuilt, and whoever can write the directory could drop a session's `closed` record
// (and cut the file back to a checkpoint) or a whole session, recompute the journal's unkeyed hashes, and verify.
// Bound to its position, a signed record vouches for every journal record before it.

export interface Checkpoint {
  type: "checkpoint" | "closed" | "deleted";
  session: string;
  file: string;
  records: number;
  head: string;
}

export function signingKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`recording.signing_key must be an Ed25519 private key, not ${key.asymmetricKeyType ?? "a symmetric key"}`);
  return key;
}

export function publicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`not an Ed25519 key: ${key.asymmetricKeyType ?? "symmetric"}`);
  return key;
}

/** Short id of a public key: SHA-256 of its SPKI DER, first 16 hex digits. */
export function keyId(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16);
}

/** Where a journal record stands: its own `seq` and `prev` (the SHA-256 of the journal record before it). */
export interface JournalPosition {
  seq: number;
  prev: string;
}

const payload = (c: Checkpoint, at: JournalPosition) =>
  Buffer.from(canonicalJson({ type: c.type, session: c.session, file: c.file, records: c.records, head: c.head, journal_seq: at.seq, journal_prev: at.prev }), "utf8");

export function signCheckpoint(key: KeyObject, c: Checkpoint, at: JournalPosition): { sig: string; key_id: string } {
  return { sig: sign(null, payload(c, at), key).toString("base64"), key_id: keyId(key) };
}

export function checkSignature(key: KeyObject, c: Checkpoint, at: JournalPosition, sig: unknown): boolean {
  if (typeof sig !== "string") return false;
  try {
    return verify(null, payload(c, at), key, Buffer.from(sig, "base64"));
  } catch {
    return false;
  }
}
