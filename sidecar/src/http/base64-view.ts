// Values carried in base64 inside a JSON string: a JWT's payload (an OIDC id_token names the user's email),
// a mail API's raw message (Gmail's `raw`), a blob of JSON. A reader decodes them in one call; the masks read
// the decoded text too, and what they change is encoded back the way it came.

import { isUtf8 } from "node:buffer";

/** A whole string of base64 or base64url (long enough to carry a value), or dot-separated segments of it. */
const BASE64ISH = /^[A-Za-z0-9+/_-]{16,}={0,2}(?:\.[A-Za-z0-9_-]*)*$/;
/** Ids and hashes in hex: valid base64, but of bytes that no text has. Not decoded, for speed. */
const HEX = /^[0-9a-fA-F]+$/;
const SEGMENT = /^[A-Za-z0-9+/_-]{8,}={0,2}$/;
/** Larger strings are not decoded (an image, an attachment): the cost would be paid on every such string. */
const MAX_DECODED_CHARS = 4 * 1024 * 1024;

/** Text as it reads once decoded: printable, with no control characters but white space. */
const READABLE = /^[^\x00-\x08\x0e-\x1f\x7f]*$/;

/** Each base64 or base64url character's 6-bit value; -1 for others. */
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) SEXTET["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".charCodeAt(i)] = i;
SEXTET[0x2d] = 62;
SEXTET[0x5f] = 63;

/** A byte text can start with: printable ASCII, tab or line break, or a UTF-8 lead byte. */
const textByte = (b: number): boolean => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0xc2 && b <= 0xf4);

/** The first three decoded bytes could start text: rules out most ids and hashes before a decode. */
function startsAsText(seg: string): boolean {
  const n = (SEXTET[seg.charCodeAt(0)]! << 18) | (SEXTET[seg.charCodeAt(1)]! << 12) | (SEXTET[seg.charCodeAt(2)]! << 6) | SEXTET[seg.charCodeAt(3)]!;
  return textByte((n >> 16) & 0xff) && textByte((n >> 8) & 0xff) && textByte(n & 0xff);
}

function decodeSegment(seg: string): string | undefined {
  if (!SEGMENT.test(seg) || !startsAsText(seg)) return undefined;
  const bytes = Buffer.from(seg, seg.includes("-") || seg.includes("_") ? "base64url" : "base64");
  // Most such strings are ids and hashes that decode to bytes no text has: told apart without a throw.
  if (!isUtf8(bytes)) return undefined;
  const text = bytes.toString("utf8");
  return text !== "" && READABLE.test(text) ? text : undefined;
}

/** `text` encoded as `like` was: its alphabet and padding. */
function encodeLike(like: string, text: string): string {
  const url = like.includes("-") || like.includes("_") || (!like.includes("+") && !like.includes("/") && !like.endsWith("="));
  const out = Buffer.from(text, "utf8").toString(url ? "base64url" : "base64");
  return like.endsWith("=") || url ? out : out.replace(/=+$/, "");
}

/**
 * `s` with each base64 segment that decodes to readable text passed through `mask` and encoded back; the
 * string unchanged when nothing decodes or nothing changes, null when `mask` nulls a segment.
 */
export function maskBase64(s: string, mask: (text: string) => string | null): string | null {
  if (s.length > MAX_DECODED_CHARS || !BASE64ISH.test(s) || HEX.test(s)) return s;
  const segments = s.split(".");
  let changed = false;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const text = decodeSegment(seg);
    if (text === undefined) continue;
    const masked = mask(text);
    if (masked === null) return null;
    if (masked === text) continue;
    segments[i] = encodeLike(seg, masked);
    changed = true;
  }
  return changed ? segments.join(".") : s;
}
