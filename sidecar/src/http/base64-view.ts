// Values carried in base64 inside a JSON string: a JWT's payload (an OIDC id_token names the user's email),
// a mail API's raw message (Gmail's `raw`), a blob of JSON. A reader decodes them in one call; the masks read
// the decoded text too, and what they change is encoded back the way it came.

import { RegateError } from "../errors.js";
import { allHex, MAX_DECODED_CHARS, maskTextBytes, startsEncoded, textByte, textLike } from "./encoded-bytes.js";

/** A whole string of base64 or base64url (long enough to carry a value), or dot-separated segments of it. */
const BASE64ISH = /^[A-Za-z0-9+/_-]{16,}={0,2}(?:\.[A-Za-z0-9_-]*)*$/;
/** Ids and hashes in hex: valid base64, but of bytes that no text has. Not decoded, for speed (hex-view.ts reads hex). */
const HEX = /^[0-9a-fA-F]+$/;
const SEGMENT = /^[A-Za-z0-9+/_-]{8,}={0,2}$/;
/** Characters of a string too large to decode whose decoded start is read to tell text from binary. */
const PREFIX_CHARS = 4096;

/** Each base64 or base64url character's 6-bit value; -1 for others. */
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) SEXTET["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".charCodeAt(i)] = i;
SEXTET[0x2d] = 62;
SEXTET[0x5f] = 63;

/**
 * The first three decoded bytes could start text, UTF-8 or not (UTF-16, compressed: encoded-bytes.ts): rules
 * out most ids, hashes and images before a decode.
 */
function startsAsText(seg: string): boolean {
  const n = (SEXTET[seg.charCodeAt(0)]! << 18) | (SEXTET[seg.charCodeAt(1)]! << 12) | (SEXTET[seg.charCodeAt(2)]! << 6) | SEXTET[seg.charCodeAt(3)]!;
  const b0 = (n >> 16) & 0xff;
  const b1 = (n >> 8) & 0xff;
  const b2 = n & 0xff;
  return (textByte(b0) && textByte(b1) && textByte(b2)) || startsEncoded(b0, b1, b2);
}

const decode = (seg: string): Buffer => Buffer.from(seg, seg.includes("-") || seg.includes("_") ? "base64url" : "base64");

/**
 * A string too large to decode is passed when its start is binary (an image, an attachment) and refused when
 * it reads as text: its text would reach the reader unmasked.
 */
function refuseLargeText(s: string): void {
  const head = s.slice(0, PREFIX_CHARS);
  if (!BASE64ISH.test(head) || allHex(s) || !startsAsText(head)) return;
  if (textLike(decode(head))) {
    throw new RegateError("MASK_LINEAGE_UNKNOWN", "a base64 string of text is larger than regate decodes to mask");
  }
}

/** `bytes` encoded as `like` was: its alphabet and padding. */
function encodeLike(like: string, bytes: Buffer): string {
  const url = like.includes("-") || like.includes("_") || (!like.includes("+") && !like.includes("/") && !like.endsWith("="));
  const out = bytes.toString(url ? "base64url" : "base64");
  return like.endsWith("=") || url ? out : out.replace(/=+$/, "");
}

/**
 * `s` with each base64 segment that decodes to readable text (UTF-8, UTF-16 or compressed: encoded-bytes.ts)
 * passed through `mask` and encoded back; the string unchanged when nothing decodes or nothing changes, null
 * when `mask` nulls a segment. Throws RegateError for text regate cannot read whole.
 */
export function maskBase64(s: string, mask: (text: string) => string | null): string | null {
  if (s.length > MAX_DECODED_CHARS) {
    refuseLargeText(s);
    return s;
  }
  if (!BASE64ISH.test(s) || HEX.test(s)) return s;
  const segments = s.split(".");
  let changed = false;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (!SEGMENT.test(seg) || !startsAsText(seg)) continue;
    const bytes = decode(seg);
    const masked = maskTextBytes(bytes, mask);
    if (masked === undefined || masked === bytes) continue;
    if (masked === null) return null;
    segments[i] = encodeLike(seg, masked);
    changed = true;
  }
  return changed ? segments.join(".") : s;
}
