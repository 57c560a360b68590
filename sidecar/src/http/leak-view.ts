// The route credential can come back spelled so that a byte search misses it but a client's decoder does
// not: JSON \u escapes, percent-encoding in either hex case, HTML entities, base64 wrapped at line width, a
// secret cut across server-sent events. This file builds the normalised view such a client would read, and
// remembers for each byte of it which bytes of the original produced it, so that a form found in the view
// can be overwritten where it really is ("*" for each original byte: lengths and framing stay true).

/** One decoding pass over some bytes: what a client would read, and where each byte of it came from. */
export interface View {
  readonly bytes: Buffer;
  /** Number of bytes in `bytes` that are used. */
  readonly length: number;
  /** For view byte i: the first input byte that produced it, and how many input bytes did (0 for one). */
  readonly from: Int32Array;
  readonly span: Uint8Array;
  /** Input bytes from here on were not decoded: an escape (or an SSE field name) may continue in the next chunk. */
  readonly pending: number;
  /** Something was decoded (not only dropped): another pass could find a second layer of encoding. */
  readonly decoded: boolean;
}

export interface ViewOptions {
  /** text/event-stream: field names ("data:", "id:", ...) at line starts are dropped, so events join up. */
  readonly sse: boolean;
  /** The input starts at the start of a line. */
  readonly lineStart: boolean;
  /** No more input will follow: an incomplete escape is read as the literal bytes it is. */
  readonly final: boolean;
}

const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const AMP = 0x26;
const SEMI = 0x3b;
const COLON = 0x3a;
const SPACE = 0x20;

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

/** ASCII whitespace: dropped, since base64 and hex are wrapped at line width and a client unwraps them. */
const WS = new Uint8Array(256);
for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, SPACE]) WS[c] = 1;

/** How decodeView treats a byte: as itself, dropped, dropped and starting a line, or as an escape's start. */
const PLAIN = 0;
const NEWLINE = 2;
const ESCAPE = 3;
const CLS = new Uint8Array(256);
for (let c = 0; c < 256; c++) CLS[c] = c === 0x0a || c === 0x0d ? NEWLINE : WS[c] === 1 ? 1 : c === BACKSLASH || c === PERCENT || c === AMP ? ESCAPE : PLAIN;

const LETTER = new Uint8Array(256);
for (let i = 0; i < 26; i++) LETTER[0x41 + i] = LETTER[0x61 + i] = 1;

/** Base64 (standard and URL-safe) and hex characters. */
const RUN = new Uint8Array(256);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_") RUN[ch.charCodeAt(0)] = 1;

/** Escapes whose one letter stands for a control character (JSON, JavaScript, C). */
const SIMPLE: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b };

/** The named HTML entities a text encoder uses for characters a token can contain. */
const ENTITIES: ReadonlyMap<string, number> = new Map([
  ["amp", 0x26], ["quot", 0x22], ["apos", 0x27], ["lt", 0x3c], ["gt", 0x3e], ["sol", 0x2f], ["plus", 0x2b],
  ["equals", 0x3d], ["colon", 0x3a], ["period", 0x2e], ["lowbar", 0x5f], ["hyphen", 0x2d], ["dash", 0x2d], ["num", 0x23],
]);
const LONGEST_ENTITY = 8;

/**
 * A shortest line of wrapped base64 or hex that makes a chunk take the decoded path (MIME wraps at 76, PEM
 * at 64). Narrower wrapping in a chunk with no escape character is checked by byte search alone.
 */
export const MIN_WRAPPED_LINE = 12;

/**
 * Whether `buf` needs the decoded view at all: it holds an escape character, or a line that ends in a run of
 * base64/hex long enough to be a wrapped line. Without these, the view is the input minus whitespace between
 * words, and the byte search over the input already covers every form. Native searches only, plus a look
 * at the bytes before each line break.
 */
export function needsView(buf: Uint8Array): boolean {
  if (buf.indexOf(BACKSLASH) >= 0 || buf.indexOf(PERCENT) >= 0 || buf.indexOf(AMP) >= 0) return true;
  for (const eol of [0x0a, 0x0d]) {
    for (let p = buf.indexOf(eol, MIN_WRAPPED_LINE); p >= 0; p = buf.indexOf(eol, p + 1)) {
      let k = 1;
      while (k <= MIN_WRAPPED_LINE && RUN[buf[p - k]!] === 1) k++;
      if (k > MIN_WRAPPED_LINE) return true;
    }
  }
  return false;
}

/** `cp` as UTF-8 (lone surrogates as their three-byte form, as a lenient decoder would). */
function utf8(cp: number, out: number[]): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

/** The value of `n` hex digits at `at`, -1 when one is not a hex digit, -2 when the input ends first. */
function hexAt(src: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    if (at + k >= src.length) return -2;
    const h = HEX[src[at + k]!]!;
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

type Decoded = { bytes: number[]; used: number } | "incomplete" | undefined;

/** A backslash escape at `i`: \uXXXX (surrogate pairs joined), \xHH, \n and kin, or \<char> as that char. */
function backslash(src: Uint8Array, i: number): Decoded {
  if (i + 1 >= src.length) return "incomplete";
  const d = src[i + 1]!;
  const bytes: number[] = [];
  if (d === 0x75 /* u */) {
    const cu = hexAt(src, i + 2, 4);
    if (cu === -2) return "incomplete";
    if (cu >= 0) {
      if (cu >= 0xd800 && cu < 0xdc00 && src[i + 6] === BACKSLASH && src[i + 7] === 0x75) {
        const lo = hexAt(src, i + 8, 4);
        if (lo === -2) return "incomplete";
        if (lo >= 0xdc00 && lo < 0xe000) {
          utf8(0x10000 + ((cu - 0xd800) << 10) + (lo - 0xdc00), bytes);
          return { bytes, used: 12 };
        }
      } else if (cu >= 0xd800 && cu < 0xdc00 && i + 6 >= src.length) return "incomplete";
      utf8(cu, bytes);
      return { bytes, used: 6 };
    }
  } else if (d === 0x78 /* x */) {
    const v = hexAt(src, i + 2, 2);
    if (v === -2) return "incomplete";
    if (v >= 0) return { bytes: [v], used: 4 };
  }
  bytes.push(SIMPLE[d] ?? d);
  return { bytes, used: 2 };
}

/** %HH in either case, and %uXXXX (JavaScript's old escape()). */
function percent(src: Uint8Array, i: number): Decoded {
  if (src[i + 1] === 0x75 /* u */) {
    const cu = hexAt(src, i + 2, 4);
    if (cu === -2) return "incomplete";
    if (cu >= 0) {
      const bytes: number[] = [];
      utf8(cu, bytes);
      return { bytes, used: 6 };
    }
    return undefined;
  }
  const v = hexAt(src, i + 1, 2);
  if (v === -2) return "incomplete";
  return v >= 0 ? { bytes: [v], used: 3 } : undefined;
}

/** &#NN; &#xHH; and a few named entities (the ";" may be missing, as browsers allow). */
function entity(src: Uint8Array, i: number): Decoded {
  let j = i + 1;
  if (j >= src.length) return "incomplete";
  let cp = -1;
  if (src[j] === 0x23 /* # */) {
    j++;
    const hex = src[j] === 0x78 || src[j] === 0x58;
    if (hex) j++;
    let v = 0;
    const start = j;
    for (; j < src.length && j - start < 8; j++) {
      const c = src[j]!;
      const h = hex ? HEX[c]! : c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
      if (h < 0) break;
      v = v * (hex ? 16 : 10) + h;
    }
    if (j >= src.length) return "incomplete";
    if (j === start || v > 0x10ffff) return undefined;
    cp = v;
  } else {
    const start = j;
    while (j < src.length && j - start <= LONGEST_ENTITY && LETTER[src[j]!] === 1) j++;
    if (j >= src.length && j - start <= LONGEST_ENTITY) return "incomplete";
    const name = Buffer.from(src.subarray(start, j)).toString("latin1").toLowerCase();
    const v = ENTITIES.get(name);
    if (v === undefined) return undefined;
    cp = v;
  }
  if (src[j] === SEMI) j++;
  const bytes: number[] = [];
  utf8(cp, bytes);
  return { bytes, used: j - i };
}

/**
 * One pass: escapes decoded, whitespace dropped (decoded whitespace too), and for event streams the field
 * name at each line start dropped. Never longer than the input, since every escape is longer than its value.
 */
export function decodeView(src: Uint8Array, o: ViewOptions): View {
  const bytes = Buffer.allocUnsafe(src.length);
  const from = new Int32Array(src.length);
  const span = new Uint8Array(src.length);
  const len = src.length;
  let n = 0;
  let decoded = false;
  let lineStart = o.lineStart;
  let pending = len;
  let i = 0;
  while (i < len) {
    if (lineStart && o.sse) {
      lineStart = false;
      let j = i;
      while (j < len && j - i < 32 && LETTER[src[j]!] === 1) j++;
      if (j >= len && !o.final) {
        pending = i;
        lineStart = true;
        break;
      }
      if (src[j] === COLON) {
        if (j + 1 >= len && !o.final) {
          // "data:" at the end: whether a space follows is for the next chunk to say.
          pending = i;
          lineStart = true;
          break;
        }
        i = j + 1;
        if (src[i] === SPACE) i++;
        continue;
      }
    }
    // The common case first, in a tight loop: bytes that stand for themselves.
    let c = src[i]!;
    while (CLS[c] === PLAIN) {
      bytes[n] = c;
      from[n] = i;
      n++;
      if (++i >= len) break;
      c = src[i]!;
    }
    if (i >= len) break;
    const k = CLS[c];
    if (k !== ESCAPE) {
      if (k === NEWLINE) lineStart = true;
      i++;
      continue;
    }
    let d: Decoded = c === BACKSLASH ? backslash(src, i) : c === PERCENT ? percent(src, i) : entity(src, i);
    if (d === "incomplete") {
      if (!o.final) {
        pending = i;
        break;
      }
      d = undefined;
    }
    if (d === undefined) {
      bytes[n] = c;
      from[n] = i;
      n++;
      i++;
      continue;
    }
    decoded = true;
    for (const b of d.bytes) {
      if (WS[b] === 1) continue;
      bytes[n] = b;
      from[n] = i;
      span[n] = d.used;
      n++;
    }
    i += d.used;
  }
  return { bytes, length: n, from, span, pending, decoded };
}

/** True for ASCII whitespace. */
export function isSpace(c: number): boolean {
  return WS[c] === 1;
}
