// How a decoding layer (leak-view.ts) takes each byte it reads: as itself, dropped, or as the start of an
// escape; as a hex digit or separator; and, per set of forms, whether the text search's own loop can skip the
// byte or step alone, without the layer's general path (leak-text.ts, TextSearch.run).

import type { Needles } from "./leak-match.js";
import { DROPPED, INERT, INLINE } from "./leak-text.js";

const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const AMP = 0x26;
const EQUALS = 0x3d;

/** ASCII whitespace: dropped, since base64 and hex are wrapped and spaced, and a client unwraps them. */
export const WS = new Uint8Array(256);
for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) WS[c] = 1;

/**
 * How a layer treats a byte: as itself, dropped, or as the start of an escape. "=" starts one for the
 * quoted-printable soft line break alone (leak-escapes.ts); any other "=" stands for itself. A quote may start
 * an index key (`"0":`) and a UTF-8 lead byte a character that folds to ASCII or to nothing (leak-escapes.ts).
 * ASCII control characters other than whitespace are dropped: a reader does not see them (the masks drop them
 * too, mask/text-views.ts), so `s\x01k...` reads as `sk...`.
 */
export const PLAIN = 0;
export const DROP = 1;
export const ESCAPE = 2;
export const CLS = new Uint8Array(256);
const QUOTE = 0x22;
/**
 * The UTF-8 lead bytes of the characters that read as ASCII or as nothing (leak-unicode.ts; leak-unicode.test.ts
 * derives this list from every code point): other characters (accented Latin, CJK) stand for themselves
 * without being decoded.
 */
export const FOLDING_LEADS = [0xc2, 0xc4, 0xc5, 0xc7, 0xca, 0xcb, 0xcd, 0xd8, 0xe1, 0xe2, 0xe3, 0xea, 0xef, 0xf0, 0xf3] as const;
const FOLDING = new Uint8Array(256);
for (const c of FOLDING_LEADS) FOLDING[c] = 1;
const invisibleControl = (c: number): boolean => (c < 0x20 || c === 0x7f) && WS[c] === 0;
for (let c = 0; c < 256; c++) {
  CLS[c] = WS[c] === 1 || invisibleControl(c) ? DROP : c === BACKSLASH || c === PERCENT || c === AMP || c === EQUALS || c === QUOTE || FOLDING[c] === 1 ? ESCAPE : PLAIN;
}

/**
 * The escape characters after which a layer remembers every byte for a while (leak-view.ts, #afterEscape):
 * those that start an escape a next layer could read from bytes this one passed as they are. A quote or a
 * UTF-8 lead byte read as itself is not one: JSON has a quote in every string, and every non-ASCII character
 * starts with a lead byte, and neither makes what follows it an escape to a next layer.
 */
export const REMEMBER_AFTER = new Uint8Array(256);
for (const c of [BACKSLASH, PERCENT, AMP, EQUALS]) REMEMBER_AFTER[c] = 1;

/**
 * How the hex search reads a byte: a hex digit (folded to lower case), a separator it reads through (`75:70`,
 * `0x75, 0x70`, `75-70`, `75.70`, `75|70`, and quoted-printable's `=75=70`; whitespace is dropped before), or
 * anything else, which ends a run of hex. Quotes and brackets end it: hex pairs as JSON strings are joined as
 * JSON values are (leak-joins.ts). A separator only joins digits: text that is no run of hex is not changed by
 * it, so "=" in base64 padding or a query string overwrites nothing unless the digits around it spell the
 * credential's hex.
 */
export const HEX_DIGIT = new Uint8Array(256);
for (const c of "0123456789abcdef") HEX_DIGIT[c.charCodeAt(0)] = HEX_DIGIT[c.toUpperCase().charCodeAt(0)] = c.charCodeAt(0);
export const HEX_SEPARATOR = new Uint8Array(256);
for (const c of ":-,.;|/_=") HEX_SEPARATOR[c.charCodeAt(0)] = 1;

const FAST = new WeakMap<Needles, Uint8Array>();

/** For TextSearch.run, per set of forms: INERT, INLINE, DROPPED (leak-text.ts). */
export function fastBytes(needles: Needles): Uint8Array {
  let fast = FAST.get(needles);
  if (!fast) {
    fast = new Uint8Array(256);
    for (let c = 0; c < 256; c++) {
      const d = HEX_DIGIT[c]!;
      if (CLS[c] === DROP) fast[c] = INERT | DROPPED;
      else if (CLS[c] === PLAIN) {
        const hex = d !== 0 && (d === 0x30 || needles.hex.root[d] !== 0);
        const inert = needles.text.root[c] === 0 && (d === 0 || needles.hex.root[d] === 0);
        fast[c] = (inert ? INERT : 0) | (hex ? 0 : INLINE);
      } else if (c === QUOTE && needles.text.root[c] === 0) {
        // An index key is read as nothing only between the bytes of a candidate; before one starts, what it
        // holds starts nothing: skipped as an inert byte is (JSON has a quote at every string's ends).
        fast[c] = INERT;
      }
    }
    FAST.set(needles, fast);
  }
  return fast;
}
