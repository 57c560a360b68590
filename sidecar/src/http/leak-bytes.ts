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
 * quoted-printable soft line break alone (leak-escapes.ts); any other "=" stands for itself.
 */
export const PLAIN = 0;
export const DROP = 1;
export const ESCAPE = 2;
export const CLS = new Uint8Array(256);
for (let c = 0; c < 256; c++) CLS[c] = WS[c] === 1 ? DROP : c === BACKSLASH || c === PERCENT || c === AMP || c === EQUALS ? ESCAPE : PLAIN;

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
      }
    }
    FAST.set(needles, fast);
  }
  return fast;
}
