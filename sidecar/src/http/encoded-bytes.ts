// Bytes decoded from a string (base64, hex) that hold text in a form a reader undoes as readily as it reads
// UTF-8: UTF-16 (a BOM, or the NULs of mostly-ASCII text), and gzip or zlib streams of text (an MCP
// resource's `blob` with mimeType application/gzip). The masks read the text; what they change is written
// back in the same form (re-compressed), so the reader still reads it. Text regate cannot read whole (it
// inflates past the cap, or a stream of text breaks off) is refused: what regate cannot mask must not pass.
// Bytes that are no text (images, PDFs, archives of binary) are left exactly as they came.

import { isUtf8 } from "node:buffer";
import { constants, deflateSync, gunzipSync, gzipSync, inflateSync } from "node:zlib";
import { RegateError } from "../errors.js";

/** Larger encoded strings are not decoded whole (an image, an attachment); one whose start reads as text is refused. */
export const MAX_DECODED_CHARS = 4 * 1024 * 1024;
/** Text inflated from a compressed stream is masked up to this size; more is refused. */
export const MAX_INFLATED = 4 * 1024 * 1024;
/** Compressed bytes inflated first to tell text from binary without inflating a whole archive. */
const PROBE_BYTES = 512;
/** gzip of gzip is read once more; deeper is refused. */
const MAX_COMPRESSED_LAYERS = 2;
/** Bytes of a UTF-16 candidate read for its NUL pattern. */
const SAMPLE = 128;

/** Text as it reads once decoded: printable, with no control characters but white space. */
export const READABLE = /^[^\x00-\x08\x0e-\x1f\x7f]*$/;

/** A byte text can start with: printable ASCII, tab or line break, or a UTF-8 lead byte. */
export const textByte = (b: number): boolean => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0xc2 && b <= 0xf4);
const asciiByte = (b: number): boolean => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d;

/** Whether `s` is all hex digits, by a loop: a regex over millions of characters can overflow V8's backtracking stack. */
export function allHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

type Compression = "gzip" | "zlib";

function compression(b0: number, b1: number): Compression | undefined {
  if (b0 === 0x1f && b1 === 0x8b) return "gzip";
  // zlib's header: deflate (CM 8), and a check that makes the first two bytes a multiple of 31.
  if ((b0 & 0x0f) === 0x08 && b0 >> 4 <= 7 && ((b0 << 8) | b1) % 31 === 0) return "zlib";
  return undefined;
}

/**
 * Whether bytes starting `b0 b1 b2` may hold text in a form other than UTF-8: compressed, or UTF-16 (BOM, or
 * an ASCII character's NUL). A check on three bytes, so that binary is passed over before any decode.
 */
export function startsEncoded(b0: number, b1: number, b2: number): boolean {
  if (compression(b0, b1) !== undefined) return true;
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) return true;
  return (asciiByte(b0) && b1 === 0x00 && b2 !== 0x00) || (b0 === 0x00 && asciiByte(b1) && b2 === 0x00);
}

type Utf16 = { le: boolean; bom: boolean };

/** UTF-16 by its BOM, or by NULs in every other byte of the sample (ASCII in UTF-16) and none between. */
function utf16(b: Buffer): Utf16 | undefined {
  if (b.length < 4) return undefined;
  if (b[0] === 0xff && b[1] === 0xfe) return { le: true, bom: true };
  if (b[0] === 0xfe && b[1] === 0xff) return { le: false, bom: true };
  const n = Math.min(b.length, SAMPLE) & ~1;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) evenNul++;
    if (b[i + 1] === 0) oddNul++;
  }
  const pairs = n / 2;
  if (evenNul === 0 && oddNul * 2 >= pairs) return { le: true, bom: false };
  if (oddNul === 0 && evenNul * 2 >= pairs) return { le: false, bom: false };
  return undefined;
}

function utf16Text(b: Buffer, form: Utf16): string {
  const body = b.subarray(form.bom ? 2 : 0, form.bom ? 2 + ((b.length - 2) & ~1) : b.length & ~1);
  return (form.le ? body : Buffer.from(body).swap16()).toString("utf16le");
}

function utf16Bytes(text: string, form: Utf16, tail: Buffer): Buffer {
  const body = Buffer.from(text, "utf16le");
  if (!form.le) body.swap16();
  const bom = form.bom ? Buffer.from(form.le ? [0xff, 0xfe] : [0xfe, 0xff]) : Buffer.alloc(0);
  return Buffer.concat([bom, body, tail]);
}

const refuse = (why: string, cause?: unknown): RegateError => new RegateError("MASK_LINEAGE_UNKNOWN", why, cause === undefined ? undefined : { cause });

/**
 * `bytes` masked as the text they hold: UTF-8, UTF-16 or compressed text, passed through `mask` and written
 * back in the same form. `bytes` itself when the text is unchanged, undefined when they hold no text, null
 * when `mask` nulls it. Throws RegateError for text that cannot be read whole.
 */
export function maskTextBytes(bytes: Buffer, mask: (text: string) => string | null, layers = 0): Buffer | null | undefined {
  if (bytes.length === 0) return undefined;
  if (isUtf8(bytes)) {
    const text = bytes.toString("utf8");
    if (READABLE.test(text)) {
      const masked = mask(text);
      return masked === null ? null : masked === text ? bytes : Buffer.from(masked, "utf8");
    }
  }
  const packed = bytes.length >= 2 ? compression(bytes[0]!, bytes[1]!) : undefined;
  if (packed !== undefined) return maskCompressed(bytes, packed, mask, layers);
  const form = utf16(bytes);
  if (form === undefined) return undefined;
  const text = utf16Text(bytes, form);
  if (!READABLE.test(text)) return undefined;
  const masked = mask(text);
  if (masked === null) return null;
  if (masked === text) return bytes;
  // An odd last byte (text cut mid-unit) is kept as it came.
  const tail = (bytes.length - (form.bom ? 2 : 0)) % 2 === 1 ? bytes.subarray(bytes.length - 1) : Buffer.alloc(0);
  return utf16Bytes(masked, form, tail);
}

function inflate(kind: Compression, bytes: Buffer, opts: { finishFlush?: number; maxOutputLength?: number }): Buffer {
  return kind === "gzip" ? gunzipSync(bytes, opts) : inflateSync(bytes, opts);
}

function maskCompressed(bytes: Buffer, kind: Compression, mask: (text: string) => string | null, layers: number): Buffer | null | undefined {
  // The first compressed bytes say whether the stream holds text: a binary archive is not inflated whole.
  // (Deflate expands at most about 1000 times, so the probe's output stays small.)
  let probe: Buffer;
  try {
    probe = inflate(kind, bytes.subarray(0, PROBE_BYTES), { finishFlush: constants.Z_SYNC_FLUSH });
  } catch {
    // Not a stream a reader could inflate: binary that only starts like one.
    return undefined;
  }
  if (!textLike(probe, layers + 1)) return undefined;
  if (layers >= MAX_COMPRESSED_LAYERS) throw refuse("text is compressed more times than regate reads");
  let whole: Buffer;
  try {
    whole = inflate(kind, bytes, { maxOutputLength: MAX_INFLATED });
  } catch (err) {
    throw refuse("compressed text inflates past what regate masks, or breaks off", err);
  }
  const masked = maskTextBytes(whole, mask, layers + 1);
  if (masked === undefined) throw refuse("compressed text holds bytes regate cannot read as text");
  if (masked === null) return null;
  if (masked === whole) return bytes;
  return kind === "gzip" ? gzipSync(masked) : deflateSync(masked);
}

/**
 * Whether `prefix`, the start of some bytes (possibly cut mid-character), reads as text in a form regate
 * decodes: what decides, for a string too large to decode, whether it is refused or passed as binary.
 */
export function textLike(prefix: Buffer, layers = 0): boolean {
  if (prefix.length === 0) return false;
  for (let cut = 0; cut <= 3 && cut < prefix.length; cut++) {
    const head = prefix.subarray(0, prefix.length - cut);
    if (!isUtf8(head)) continue;
    if (READABLE.test(head.toString("utf8"))) return true;
    break;
  }
  const packed = prefix.length >= 2 ? compression(prefix[0]!, prefix[1]!) : undefined;
  if (packed !== undefined) {
    // Compressed deeper than regate reads: text-like, so that it is refused rather than passed.
    if (layers > MAX_COMPRESSED_LAYERS) return true;
    try {
      return textLike(inflate(packed, prefix.subarray(0, PROBE_BYTES), { finishFlush: constants.Z_SYNC_FLUSH }), layers + 1);
    } catch {
      return false;
    }
  }
  const form = utf16(prefix);
  return form !== undefined && READABLE.test(utf16Text(prefix, form).replace(/[\ud800-\udbff]$/, ""));
}
