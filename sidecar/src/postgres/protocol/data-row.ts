import { RegateError } from "../../errors.js";

/**
 * A masked column's new value: bytes, a string (written as UTF-8), null for SQL NULL, or undefined to
 * keep the value as it is.
 */
export type Replacement = Buffer | string | null | undefined;

/**
 * `replace(column, raw, start, length)` gets where a masked column's value lies in the row (length -1
 * for SQL NULL) and reads only what it needs from it; a strategy that does not look at the value (a
 * redaction) costs no copy at all.
 */
export type ReplaceValue = (column: number, raw: Buffer, start: number, length: number) => Replacement;

// Scratch space for the changed columns of the row being rewritten (rewriting is synchronous and not
// re-entered): where each length field starts, where its value ends, the new value and its size.
let at: number[] = [];
let ends: number[] = [];
let values: (Buffer | string | null)[] = [];
let sizes: number[] = [];

const int32 = (b: Buffer, o: number): number => (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;

function putInt32(b: Buffer, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Bytes `from`..`to` of `src` into `dst` at `w`; rows are small, and a loop beats the Buffer API's checks there. */
function copyRange(src: Buffer, from: number, to: number, dst: Buffer, w: number): number {
  const n = to - from;
  if (n > 64) dst.set(src.subarray(from, to), w);
  else for (let i = 0; i < n; i++) dst[w + i] = src[from + i]!;
  return n;
}

/** UTF-8 size of a string; -1 - size when it is not all ASCII (written through the Buffer API then). */
function utf8Size(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return -1 - Buffer.byteLength(s, "utf8");
  return s.length;
}

/**
 * Rewrites the masked columns of one DataRow into one new buffer. Nothing is decoded or sliced for the
 * other columns: the bytes between changed values are copied as runs.
 */
export function rewriteDataRow(raw: Buffer, masked: { has(column: number): boolean }, replace: ReplaceValue): Buffer {
  // Bounds first: a short or negative header must be 08P01, never a RangeError (found by fuzzing).
  if (raw.length < 7) throw new RegateError("PROTOCOL_VIOLATION", "DataRow is shorter than its header");
  const n = (raw[5]! << 8) | raw[6]!;
  if (n & 0x8000) throw new RegateError("PROTOCOL_VIOLATION", "negative DataRow column count");
  let changed = 0;
  let delta = 0;
  let off = 7;
  for (let i = 0; i < n; i++) {
    if (off + 4 > raw.length) throw new RegateError("PROTOCOL_VIOLATION", "DataRow is shorter than its columns");
    const lengthAt = off;
    const len = int32(raw, off);
    off += 4;
    if (len < -1) throw new RegateError("PROTOCOL_VIOLATION", "invalid DataRow value length");
    if (len > 0) {
      if (off + len > raw.length) throw new RegateError("PROTOCOL_VIOLATION", "DataRow is shorter than its columns");
      off += len;
    }
    if (!masked.has(i)) continue;
    const value = replace(i, raw, off - Math.max(len, 0), len);
    if (value === undefined) continue;
    let size: number;
    if (value === null) size = -1;
    else if (typeof value === "string") size = utf8Size(value);
    else size = value.length;
    at[changed] = lengthAt;
    ends[changed] = off;
    values[changed] = value;
    sizes[changed] = size;
    changed++;
    delta += (size < -1 ? -1 - size : Math.max(size, 0)) - Math.max(len, 0);
  }
  if (off !== raw.length) throw new RegateError("PROTOCOL_VIOLATION", "DataRow has trailing bytes");
  if (changed === 0) return raw;
  const out = Buffer.allocUnsafe(raw.length + delta);
  let from = 0;
  let w = 0;
  for (let c = 0; c < changed; c++) {
    w += copyRange(raw, from, at[c]!, out, w);
    const value = values[c]!;
    const size = sizes[c]!;
    if (value === null) {
      putInt32(out, w, -1);
      w += 4;
    } else if (typeof value === "string") {
      const bytes = size < -1 ? -1 - size : size;
      putInt32(out, w, bytes);
      w += 4;
      if (size >= 0) for (let i = 0; i < bytes; i++) out[w + i] = value.charCodeAt(i);
      else out.write(value, w, "utf8");
      w += bytes;
    } else {
      putInt32(out, w, size);
      w += 4;
      w += copyRange(value, 0, size, out, w);
    }
    values[c] = null;
    from = ends[c]!;
  }
  copyRange(raw, from, raw.length, out, w);
  putInt32(out, 1, out.length - 1);
  if (at.length > 1024) [at, ends, values, sizes] = [[], [], [], []];
  return out;
}
