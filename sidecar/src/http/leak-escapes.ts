// The escapes a client decodes in a credential spelled back to it: JSON, JavaScript, Python and C backslash
// escapes (\uXXXX with surrogate pairs joined, \u{X…}, \xHH, octal \NNN, \n and kin), percent-encoding (%HH in either case, %uXXXX) and
// HTML character references (numeric, and the named ones a text encoder uses for a token's characters), and
// quoted-printable's soft line break ("=" ending a line, which a mail client joins to the next; its `=XX` bytes
// are read by the hex search, leak-bytes.ts, not decoded here: see softBreak); also a number as an object key,
// read as nothing (indexKey), and a non-ASCII character a reader sees as ASCII or not at all (utf8Char). Each
// decodes from a small buffer of the bytes seen so far, and says when it needs more (leak-view.ts).

import { AS_ITSELF, fold, foldedByte, foldedLength } from "./leak-unicode.js";

const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const SEMI = 0x3b;
const EQUALS = 0x3d;
const CR = 0x0d;
const LF = 0x0a;
const QUOTE = 0x22;
const COLON = 0x3a;

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

const LETTER = new Uint8Array(256);
for (let i = 0; i < 26; i++) LETTER[0x41 + i] = LETTER[0x61 + i] = 1;

/** Escapes whose one letter stands for a control character (JSON, JavaScript, C). */
const SIMPLE: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b };

/** The named HTML entities a text encoder uses for characters a token can contain. */
const ENTITIES: ReadonlyMap<string, number> = new Map([
  ["amp", 0x26], ["quot", 0x22], ["apos", 0x27], ["lt", 0x3c], ["gt", 0x3e], ["sol", 0x2f], ["plus", 0x2b],
  ["equals", 0x3d], ["colon", 0x3a], ["period", 0x2e], ["lowbar", 0x5f], ["hyphen", 0x2d], ["dash", 0x2d], ["num", 0x23],
]);
const LONGEST_ENTITY = 8;

/** decodeEscape: the bytes so far may still become an escape. */
export const INCOMPLETE = -1;
/** decodeEscape: no escape starts here; the first byte stands for itself. */
export const INVALID = 0;
/** What the last escape decoded to (decoders write here: no allocation per escape). */
export const DECODED: number[] = [];

/** `cp` as UTF-8 (lone surrogates as their three-byte form, as a lenient decoder would). */
function utf8(cp: number): void {
  if (cp < 0x80) DECODED.push(cp);
  else if (cp < 0x800) DECODED.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  else if (cp < 0x10000) DECODED.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  else DECODED.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

/** Where a layer keeps an unfinished escape: bytes at [o, o + n) of a Float64Array (see ViewLayer). */
export type Bytes = Float64Array;

/** The value of `n` hex digits at `at`, -1 when one is not a hex digit, -2 when the input ends first. */
function hexAt(src: Bytes, at: number, end: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    if (at + k >= end) return -2;
    const h = HEX[src[at + k]!]!;
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/**
 * A backslash escape at `o`: \uXXXX (surrogate pairs joined), \u{X…} (JavaScript), \xHH, octal \NNN (C,
 * Python, JavaScript's sloppy mode), \n and kin, or \<char> as that char.
 */
function backslash(src: Bytes, o: number, end: number): number {
  if (end < o + 2) return INCOMPLETE;
  const d = src[o + 1]!;
  if (d >= 0x30 && d <= 0x37) return octal(src, o, end);
  if (d === 0x75 /* u */ && end > o + 2 && src[o + 2] === 0x7b /* { */) return braced(src, o, end);
  if (d === 0x75 /* u */) {
    const cu = hexAt(src, o + 2, end, 4);
    if (cu === -2) return INCOMPLETE;
    if (cu >= 0) {
      if (cu >= 0xd800 && cu < 0xdc00) {
        if (end < o + 8) return INCOMPLETE;
        if (src[o + 6] === BACKSLASH && src[o + 7] === 0x75) {
          const lo = hexAt(src, o + 8, end, 4);
          if (lo === -2) return INCOMPLETE;
          if (lo >= 0xdc00 && lo < 0xe000) {
            utf8(0x10000 + ((cu - 0xd800) << 10) + (lo - 0xdc00));
            return 12;
          }
        }
      }
      utf8(cu);
      return 6;
    }
  } else if (d === 0x78 /* x */) {
    const v = hexAt(src, o + 2, end, 2);
    if (v === -2) return INCOMPLETE;
    if (v >= 0) {
      DECODED.push(v);
      return 4;
    }
  }
  DECODED.push(SIMPLE[d] ?? d);
  return 2;
}

/** Hex digits a \u{…} escape may have here: leading zeros beyond them do not fit an escape under way (MAX_ESCAPE). */
const BRACED_DIGITS = 12;

/** \u{X…}: 1 to BRACED_DIGITS hex digits, a code point up to U+10FFFF. */
function braced(src: Bytes, o: number, end: number): number {
  let v = 0;
  let j = o + 3;
  for (; j < end && j - (o + 3) < BRACED_DIGITS; j++) {
    const h = HEX[src[j]!]!;
    if (h < 0) break;
    v = v * 16 + h;
  }
  if (j >= end) return INCOMPLETE;
  if (j === o + 3 || src[j] !== 0x7d /* } */ || v > 0x10ffff) return INVALID;
  utf8(v);
  return j + 1 - o;
}

/** \N, \NN, \NNN in octal, at most \377 (a first digit over 3 takes one more digit only), as C and JavaScript read them. */
function octal(src: Bytes, o: number, end: number): number {
  const most = src[o + 1]! <= 0x33 ? 3 : 2;
  let v = 0;
  let j = o + 1;
  for (; j < end && j - (o + 1) < most; j++) {
    const c = src[j]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
  }
  if (j >= end && j - (o + 1) < most) return INCOMPLETE;
  DECODED.push(v);
  return j - o;
}

/** %HH in either case, and %uXXXX (JavaScript's old escape()). */
function percent(src: Bytes, o: number, end: number): number {
  if (end < o + 2) return INCOMPLETE;
  if (src[o + 1] === 0x75 /* u */) {
    const cu = hexAt(src, o + 2, end, 4);
    if (cu === -2) return INCOMPLETE;
    if (cu < 0) return INVALID;
    utf8(cu);
    return 6;
  }
  const v = hexAt(src, o + 1, end, 2);
  if (v === -2) return INCOMPLETE;
  if (v < 0) return INVALID;
  DECODED.push(v);
  return 3;
}

/** Spaces or tabs a soft line break may have before its line break (RFC 2045 6.7 (3): decoders drop them). */
const SOFT_BREAK_SPACE = 8;

/**
 * Quoted-printable's soft line break (RFC 2045 6.7 (5)): "=", maybe spaces or tabs, then CRLF or LF; it
 * decodes to nothing, so a credential wrapped that way is whole again, as a mail client reads it. Any other
 * "=" stands for itself: `=XX` is not decoded, because "=" is everywhere in text that is no quoted-printable
 * (`key=value`, base64 padding), and reading `=75` as "u" there would hide the hex or base64 form of the
 * credential that follows an "="; a fully encoded credential (`=75=70...`) is its hex, which the hex search
 * reads through "=". (A mail encoder leaves a token's ASCII as it is, but for "=" itself, as `=3D`.)
 */
function softBreak(src: Bytes, o: number, end: number): number {
  let j = o + 1;
  while (j < end && j - o <= SOFT_BREAK_SPACE && (src[j] === 0x20 || src[j] === 0x09)) j++;
  if (j >= end) return j - o <= SOFT_BREAK_SPACE ? INCOMPLETE : INVALID;
  if (src[j] === LF) return j + 1 - o;
  if (src[j] !== CR) return INVALID;
  if (j + 1 >= end) return INCOMPLETE;
  return src[j + 1] === LF ? j + 2 - o : INVALID;
}

/** &#NN; &#xHH; and a few named entities (the ";" may be missing, as browsers allow). */
function entity(src: Bytes, o: number, end: number): number {
  let j = o + 1;
  if (j >= end) return INCOMPLETE;
  let cp: number;
  if (src[j] === 0x23 /* # */) {
    j++;
    if (j >= end) return INCOMPLETE;
    const hex = src[j] === 0x78 || src[j] === 0x58;
    if (hex) j++;
    let v = 0;
    const start = j;
    for (; j < end && j - start < 8; j++) {
      const c = src[j]!;
      const h = hex ? HEX[c]! : c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
      if (h < 0) break;
      v = v * (hex ? 16 : 10) + h;
    }
    if (j >= end) return INCOMPLETE;
    if (j === start || v > 0x10ffff) return INVALID;
    cp = v;
  } else {
    const start = j;
    let name = "";
    while (j < end && j - start <= LONGEST_ENTITY && LETTER[src[j]!] === 1) name += String.fromCharCode(src[j++]! | 0x20);
    if (j >= end && j - start <= LONGEST_ENTITY) return INCOMPLETE;
    const v = ENTITIES.get(name);
    if (v === undefined) return INVALID;
    cp = v;
  }
  if (src[j] === SEMI) j++;
  utf8(cp);
  return j - o;
}

/** Digits of an index key at most: an array of ten million bytes is past any body regate reads. */
const INDEX_DIGITS = 7;
/** An index key with its blanks fits an escape under way (leak-pending.ts's MAX_ESCAPE). */
const MAX_INDEX_KEY = 15;

/**
 * An object key that is a number, `"12":` (blanks before the colon too): read as nothing. JSON.stringify
 * writes a Uint8Array as `{"0":115,"1":107,...}`, and a reader rebuilds the bytes from the values alone
 * (byte-arrays.ts reads them so for the masks); without its keys, the object reads `{115,107,...}`, where the
 * search finds the credential's bytes as decimal numbers, the form a byte array spells (scrub.ts).
 */
function indexKey(src: Bytes, o: number, end: number): number {
  let j = o + 1;
  while (j < end && j - o <= INDEX_DIGITS && src[j]! >= 0x30 && src[j]! <= 0x39) j++;
  if (j >= end) return j - o <= INDEX_DIGITS ? INCOMPLETE : INVALID;
  if (j === o + 1 || src[j] !== QUOTE) return INVALID;
  for (j++; j < end && j - o < MAX_INDEX_KEY; j++) {
    const c = src[j]!;
    if (c === COLON) return j + 1 - o;
    if (c !== 0x20 && c !== 0x09 && c !== LF && c !== CR) return INVALID;
  }
  return j - o < MAX_INDEX_KEY ? INCOMPLETE : INVALID;
}

/**
 * The UTF-8 character (shortest form, no surrogates) at `o`, of `n` bytes by its lead byte: its code point,
 * INCOMPLETE when the bytes known end first, INVALID when it is none.
 */
function codePointAt(src: ArrayLike<number>, o: number, end: number, n: number): number {
  if (end < o + n) {
    for (let k = o + 1; k < end; k++) if ((src[k]! & 0xc0) !== 0x80) return INVALID;
    return INCOMPLETE;
  }
  const lead = src[o]!;
  let cp = n === 2 ? lead & 0x1f : n === 3 ? lead & 0x0f : lead & 0x07;
  for (let k = 1; k < n; k++) {
    const b = src[o + k]!;
    if ((b & 0xc0) !== 0x80) return INVALID;
    cp = (cp << 6) | (b & 0x3f);
  }
  if ((n === 3 && cp < 0x800) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) return INVALID;
  return cp;
}

const utf8Length = (lead: number): number => (lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4);

/**
 * A UTF-8 character read as the ASCII a reader sees in it (leak-unicode.ts): a fullwidth letter as the letter,
 * an invisible character as nothing. One that reads otherwise stands for itself, as does a byte that starts
 * no valid character.
 */
function utf8Char(src: Bytes, o: number, end: number): number {
  const n = utf8Length(src[o]!);
  const cp = codePointAt(src, o, end, n);
  if (cp < 0) return cp;
  const v = fold(cp);
  if (v === AS_ITSELF) return INVALID;
  for (let k = 0; k < foldedLength(v); k++) DECODED.push(foldedByte(v, k));
  return n;
}

/**
 * For a layer reading original bytes: the length of the character at buf[o] when it is whole before `end` and
 * stands for itself (it can be read as plain bytes, without the escape machinery); else 0.
 */
export function itselfLength(buf: Uint8Array, o: number, end: number): number {
  const n = utf8Length(buf[o]!);
  const cp = codePointAt(buf, o, end, n);
  return cp >= 0 && fold(cp) === AS_ITSELF ? n : 0;
}

/** Decodes the escape at src[o] (bytes up to `end` are known) into DECODED; returns bytes used. */
export function decodeEscape(src: Bytes, o: number, end: number): number {
  DECODED.length = 0;
  const c = src[o]!;
  if (c >= 0xc2) return utf8Char(src, o, end);
  return c === BACKSLASH ? backslash(src, o, end) : c === PERCENT ? percent(src, o, end) : c === EQUALS ? softBreak(src, o, end) : c === QUOTE ? indexKey(src, o, end) : entity(src, o, end);
}
