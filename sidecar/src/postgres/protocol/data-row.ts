import { RegateError } from "../../errors.js";
import { Backend } from "./codes.js";

/**
 * Rewrites selected columns of one DataRow. Only the masked columns are decoded; the others are
 * copied as bytes. `replace(i, value)` gets the raw value (null for SQL NULL) and returns the new
 * value (null for SQL NULL).
 */
export function rewriteDataRow(raw: Buffer, masked: { has(column: number): boolean }, replace: (column: number, value: Buffer | null) => Buffer | null): Buffer {
  // Bounds first: a short or negative header must be 08P01, never a RangeError (found by fuzzing).
  if (raw.length < 7) throw new RegateError("PROTOCOL_VIOLATION", "DataRow is shorter than its header");
  const n = raw.readInt16BE(5);
  if (n < 0) throw new RegateError("PROTOCOL_VIOLATION", "negative DataRow column count");
  const values: (Buffer | null)[] = new Array(n);
  let off = 7;
  let size = 2;
  for (let i = 0; i < n; i++) {
    if (off + 4 > raw.length) throw new RegateError("PROTOCOL_VIOLATION", "DataRow is shorter than its columns");
    const len = raw.readInt32BE(off);
    off += 4;
    if (len < -1) throw new RegateError("PROTOCOL_VIOLATION", "invalid DataRow value length");
    let v: Buffer | null = null;
    if (len >= 0) {
      if (off + len > raw.length) throw new RegateError("PROTOCOL_VIOLATION", "DataRow is shorter than its columns");
      v = raw.subarray(off, off + len);
      off += len;
    }
    if (masked.has(i)) v = replace(i, v);
    values[i] = v;
    size += 4 + (v ? v.length : 0);
  }
  if (off !== raw.length) throw new RegateError("PROTOCOL_VIOLATION", "DataRow has trailing bytes");
  const out = Buffer.allocUnsafe(5 + size);
  out[0] = Backend.DataRow;
  out.writeInt32BE(4 + size, 1);
  out.writeInt16BE(n, 5);
  let w = 7;
  for (const v of values) {
    if (v === null) {
      out.writeInt32BE(-1, w);
      w += 4;
    } else {
      out.writeInt32BE(v.length, w);
      w += 4;
      w += v.copy(out, w);
    }
  }
  return out;
}
