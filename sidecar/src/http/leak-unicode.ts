// A non-ASCII character a reader sees as ASCII, or does not see at all: fullwidth `ｓｋ＿ｌｉｖｅ` reads as
// `sk_live`, a zero-width space or soft hyphen between the credential's characters is invisible. The masks read
// text that way (mask/text-views.ts: NFKC code point by code point, invisible characters dropped); the leak
// view (leak-escapes.ts) reads a character through the same decoder, remembered per code point.

import { decodeLayer } from "../mask/text-views.js";

/** fold(): the character stands for itself (its reading is not ASCII, or it is unchanged). */
export const AS_ITSELF = -1;

/** What a code point reads as, packed (see pack); 0: not looked up yet. BMP in a table, the rest in a map. */
const BMP = new Int32Array(0x10000);
const ASTRAL = new Map<number, number>();

/** Readings longer than this stand for themselves (a layer passes on at most four decoded bytes at once). */
const MAX_FOLDED = 3;

/** 1 + length << 21 + up to three 7-bit characters; AS_ITSELF for none. Never 0. */
function pack(cp: number): number {
  const view = decodeLayer(String.fromCodePoint(cp));
  if (view === undefined) return AS_ITSELF;
  const t = view.text;
  if (t.length > MAX_FOLDED || !/^[\x00-\x7f]*$/.test(t)) return AS_ITSELF;
  let v = 1 + (t.length << 21);
  for (let k = 0; k < t.length; k++) v += t.charCodeAt(k) << (7 * k);
  return v;
}

/** The ASCII `cp` reads as, packed: AS_ITSELF, or (see foldedLength / foldedByte) zero to three bytes. */
export function fold(cp: number): number {
  if (cp < 0x10000) {
    let v = BMP[cp]!;
    if (v === 0) v = BMP[cp] = pack(cp);
    return v;
  }
  let v = ASTRAL.get(cp);
  if (v === undefined) ASTRAL.set(cp, (v = pack(cp)));
  return v;
}

export const foldedLength = (v: number): number => (v - 1) >>> 21;
export const foldedByte = (v: number, k: number): number => ((v - 1) >>> (7 * k)) & 0x7f;
