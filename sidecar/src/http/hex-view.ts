// Text carried as hex in a string: a tool that writes its JSON result with `.hex()`, a log line's payload
// dumped as hex. A reader undoes it in one call, as it does base64 (base64-view.ts), so the masks read the
// decoded text too (UTF-16 and compressed text as well: encoded-bytes.ts), and what they change is written
// back as hex in the string's own case. Ids and hashes in hex decode to bytes no text has and pass as sent.

import { RegateError } from "../errors.js";
import { allHex, MAX_DECODED_CHARS, maskTextBytes, startsEncoded, textByte, textLike } from "./encoded-bytes.js";

/** Shorter hex (ids, colours, short hashes) is not read: 16 bytes spell little more than one value. */
const MIN_HEX = 32;
const HEX = /^[0-9a-fA-F]+$/;
/** Most strings fail this at their first characters: the quick test before any other. */
const HEX_START = /^[0-9a-fA-F]{32}/;
const UPPER = /[A-F]/;
const LOWER = /[a-f]/;
/** Characters of a string too large to decode whose decoded start is read to tell text from binary. */
const PREFIX_CHARS = 4096;

const byteAt = (s: string, i: number): number => parseInt(s.slice(i, i + 2), 16);

/** The first three decoded bytes could start text (a quick test before the whole string is checked). */
function startsAsText(s: string): boolean {
  const b0 = byteAt(s, 0);
  const b1 = byteAt(s, 2);
  const b2 = byteAt(s, 4);
  return (textByte(b0) && textByte(b1) && textByte(b2)) || startsEncoded(b0, b1, b2);
}

/**
 * `s` masked as the text it spells when it is whole, even-length hex of text: decoded, passed through `mask`
 * and written back in `s`'s case; unchanged when it is no such text or nothing changes, null when `mask` nulls
 * it. Throws RegateError for text regate cannot read whole (too large, or compressed past the cap).
 */
export function maskHex(s: string, mask: (text: string) => string | null): string | null {
  if (s.length < MIN_HEX || s.length % 2 !== 0 || !HEX_START.test(s) || !startsAsText(s)) return s;
  if (s.length > MAX_DECODED_CHARS) {
    const head = s.slice(0, PREFIX_CHARS);
    if (HEX.test(head) && textLike(Buffer.from(head, "hex")) && allHex(s)) {
      throw new RegateError("MASK_LINEAGE_UNKNOWN", "a hex string of text is larger than regate decodes to mask");
    }
    return s;
  }
  if (!allHex(s)) return s;
  const bytes = Buffer.from(s, "hex");
  const masked = maskTextBytes(bytes, mask);
  if (masked === undefined || masked === bytes) return s;
  if (masked === null) return null;
  const out = masked.toString("hex");
  // Upper case when the string was written so; mixed case is read either way and written in lower.
  return UPPER.test(s) && !LOWER.test(s) ? out.toUpperCase() : out;
}
