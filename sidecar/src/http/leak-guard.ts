// The second look scrub.ts takes at a response: the byte search finds the credential as written, this finds it
// as a client would read it once decoded (leak-view.ts), and overwrites the bytes that spell it ("*" each).
// Bodies stream through it: only a tail that could still turn into the credential is held back.

import { decodeView, isSpace, needsView, type View } from "./leak-view.js";

const STAR = 0x2a;
/** Decoding passes at most: a value percent-encoded inside a JSON string inside a percent-encoded URL. */
const MAX_LAYERS = 3;

/**
 * Where the longest suffix of `buf[from, end)` that is a proper prefix of a needle starts (`end` when none).
 * Only positions holding a needle's first byte are compared, so this costs a few native searches, not a
 * comparison per needle and length.
 */
export function prefixStart(buf: Buffer, end: number, needles: readonly Buffer[], from = 0): number {
  const b = buf.subarray(0, end);
  let best = end;
  for (const n of needles) {
    let i = Math.max(from, end - (n.length - 1));
    while (i < best) {
      i = b.indexOf(n[0]!, i);
      if (i < 0 || i >= best) break;
      if (b.compare(n, 0, end - i, i, end) === 0) {
        best = i;
        break;
      }
      i++;
    }
  }
  return best;
}

export interface Scan {
  /** The input, or a copy of it with the credential's bytes overwritten. */
  out: Buffer;
  /** Bytes before this may go out; from here on they wait for more input. */
  hold: number;
  found: boolean;
  /**
   * The first decoding pass left input undecoded (an escape or an SSE field name that may go on). When it did
   * not, whitespace appended to `buf` cannot change the result: every pass drops it (LeakGuard relies on this).
   */
  pending: boolean;
}

/**
 * Finds every needle in the decoded views of `buf` and overwrites its source bytes. `force` takes the decoded
 * path even when the cheap check says the bytes need no decoding (the previous chunk's tail is in `buf`).
 */
export function scanForLeaks(buf: Buffer, needles: readonly Buffer[], o: { sse: boolean; lineStart: boolean; final: boolean; force: boolean }): Scan {
  if (needles.length === 0) return { out: buf, hold: buf.length, found: false, pending: false };
  if (!o.sse && !o.force && !needsView(buf)) {
    // Every needle is also a byte-search form, so none is here; only the tail may start one. Whitespace after
    // it does not end it: base64 goes on after a line break.
    if (o.final) return { out: buf, hold: buf.length, found: false, pending: false };
    let end = buf.length;
    while (end > 0 && isSpace(buf[end - 1]!)) end--;
    const at = prefixStart(buf, end, needles);
    return { out: buf, hold: at === end ? buf.length : at, found: false, pending: false };
  }
  const layers: View[] = [];
  let input: Uint8Array = buf;
  for (let k = 0; k < MAX_LAYERS; k++) {
    const v = decodeView(input, { sse: o.sse && k === 0, lineStart: k === 0 ? o.lineStart : true, final: o.final });
    layers.push(v);
    if (!v.decoded || !hasEscape(v)) break;
    input = v.bytes.subarray(0, v.length);
  }
  /** The input position where byte `idx` of layer `k` (or, at its length, its undecoded tail) starts. */
  const source = (k: number, idx: number): number => {
    const v = layers[k]!;
    const p = idx < v.length ? v.from[idx]! : v.pending;
    return k === 0 ? p : source(k - 1, p);
  };
  let out = buf;
  let found = false;
  const overwrite = (k: number, a: number, b: number): void => {
    const v = layers[k]!;
    for (let q = a; q < b; q++) {
      const s = v.from[q]!;
      const e = s + (v.span[q] || 1);
      if (k === 0) out.fill(STAR, s, e);
      else overwrite(k - 1, s, e);
    }
  };
  let hold = buf.length;
  for (let k = 0; k < layers.length; k++) {
    const v = layers[k]!;
    const view = v.bytes.subarray(0, v.length);
    for (const n of needles) {
      for (let at = view.indexOf(n); at >= 0; at = view.indexOf(n, at + n.length)) {
        if (!found) out = Buffer.from(buf);
        found = true;
        overwrite(k, at, at + n.length);
      }
    }
    if (!o.final) {
      hold = Math.min(hold, source(k, v.length));
      const at = prefixStart(v.bytes, v.length, needles);
      if (at < v.length) hold = Math.min(hold, source(k, at));
    }
  }
  return { out, hold, found, pending: layers[0]!.pending < buf.length };
}

/** Whether a view holds a character that a further decoding pass would act on. */
function hasEscape(v: View): boolean {
  const b = v.bytes.subarray(0, v.length);
  return b.indexOf(0x5c) >= 0 || b.indexOf(0x25) >= 0 || b.indexOf(0x26) >= 0;
}

/**
 * Source bytes per byte of a form, at most: the longest escape (\uD83D\uDE00 for four bytes, &#x0010FFFF; for
 * one, %25 inside \u0025 for a layered one) with room left for the wrapping around it.
 */
const SPAN_PER_BYTE = 16;
/** Bytes beyond that for whitespace, line breaks and SSE field names between the parts of one spelling. */
const SPAN_ALLOWANCE = 1024;

/**
 * The most bytes a spelling of a form may span: `SPAN_PER_BYTE` per byte of the longest form plus the
 * allowance. A longer stretch is not read as the credential, so a tail held back for it can be let go; without
 * this bound, one byte that may start a form followed by endless whitespace held back the whole body.
 */
export function maxSpan(needles: readonly Buffer[]): number {
  let longest = 0;
  for (const n of needles) longest = Math.max(longest, n.length);
  return longest * SPAN_PER_BYTE + SPAN_ALLOWANCE;
}

/** The decoded check over a stream: feed chunks with `write`, then `end`; each returns what may go out. */
export class LeakGuard {
  readonly #needles: readonly Buffer[];
  readonly #sse: boolean;
  readonly #maxHeld: number;
  /** The held-back tail, in the pieces it came in (joined only when scanned again). */
  #carry: Buffer[] = [];
  #carried = 0;
  /**
   * The held tail was scanned and left nothing undecoded: only a possible start of a form holds it back, and
   * whitespace appended to it changes nothing, so whitespace is added without a rescan.
   */
  #settled = false;
  #lineStart = true;
  /** Set when a form of the credential was overwritten. */
  found = false;

  constructor(needles: readonly Buffer[], sse: boolean) {
    this.#needles = needles;
    this.#sse = sse;
    this.#maxHeld = maxSpan(needles);
  }

  /** Bytes held back now: never more than `maxSpan(needles)` once a write returns. */
  get held(): number {
    return this.#carried;
  }

  write(chunk: Buffer): Buffer {
    if (this.#settled && this.#carried + chunk.length <= this.#maxHeld && allSpace(chunk)) {
      // Each rescan would cost the whole tail: a stream of blank lines or spaces after a possible start of a
      // form would cost the square of its length.
      if (chunk.length > 0) this.#carry.push(chunk);
      this.#carried += chunk.length;
      return EMPTY;
    }
    return this.#scan(chunk, false);
  }

  end(chunk: Buffer = EMPTY): Buffer {
    return this.#scan(chunk, true);
  }

  #scan(chunk: Buffer, final: boolean): Buffer {
    const carried = this.#carried > 0;
    if (chunk.length > 0) this.#carry.push(chunk);
    const buf = this.#carry.length === 1 ? this.#carry[0]! : Buffer.concat(this.#carry);
    this.#carry = [];
    this.#carried = 0;
    this.#settled = false;
    if (buf.length === 0) return buf;
    const r = scanForLeaks(buf, this.#needles, { sse: this.#sse, lineStart: this.#lineStart, final, force: carried });
    if (r.found) this.found = true;
    let hold = r.hold;
    // A spelling longer than maxSpan is not the credential: what lies before the last maxSpan bytes goes out.
    if (r.out.length - hold > this.#maxHeld) hold = r.out.length - this.#maxHeld;
    if (hold < r.out.length) {
      const tail = Buffer.from(r.out.subarray(hold));
      this.#carry = [tail];
      this.#carried = tail.length;
      this.#settled = hold === r.hold && !r.pending;
      if (hold > 0) this.#lineStart = isLineEnd(r.out[hold - 1]!);
    } else {
      this.#lineStart = isLineEnd(r.out[r.out.length - 1]!);
    }
    return r.out.subarray(0, hold);
  }
}

const EMPTY = Buffer.alloc(0);

function allSpace(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (!isSpace(buf[i]!)) return false;
  return true;
}

function isLineEnd(c: number): boolean {
  return c === 0x0a || c === 0x0d;
}
