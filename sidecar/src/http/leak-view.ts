// The route credential can come back spelled so that a byte search misses it but a client's decoder does
// not: JSON \u escapes, percent-encoding in either hex case, HTML entities (leak-escapes.ts), hex in either
// case and with separators, base64 wrapped at any width or split by spaces, a secret cut across server-sent
// events or JSON values (leak-guard.ts joins those). A ViewLayer reads bytes as such a client would (escapes
// decoded, whitespace dropped) one at a time, carrying its state from chunk to chunk, and looks for the forms
// in what it reads (leak-match.ts). It remembers where each byte it read came from, so that a form is
// overwritten where it was really spelled ("*" for each original byte: lengths and framing stay true), and so
// that a guard knows from where bytes must be held back while a form could still be completing. Whitespace
// never lengthens what it remembers: it is dropped, so a spelling cannot be stretched out of reach by padding.

import { DECODED, decodeEscape, INCOMPLETE, INVALID } from "./leak-escapes.js";
import type { Needles } from "./leak-match.js";

/** Where a layer's bytes came from and where what it finds goes. */
export interface ViewSink {
  /** Overwrites the original bytes [start, end) (offsets in the whole stream) of a form found. */
  overwrite(start: number, end: number): void;
}

const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const AMP = 0x26;

/** ASCII whitespace: dropped, since base64 and hex are wrapped and spaced, and a client unwraps them. */
const WS = new Uint8Array(256);
for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) WS[c] = 1;

/** How a layer treats a byte: as itself, dropped, or as the start of an escape. */
const PLAIN = 0;
const DROP = 1;
const ESCAPE = 2;
const CLS = new Uint8Array(256);
for (let c = 0; c < 256; c++) CLS[c] = WS[c] === 1 ? DROP : c === BACKSLASH || c === PERCENT || c === AMP ? ESCAPE : PLAIN;

/**
 * How the hex search reads a byte: a hex digit (folded to lower case), a separator it reads through (`75:70`,
 * `0x75, 0x70`, `75-70`, `75.70`, `75|70`; whitespace is dropped before), or anything else, which ends a run of
 * hex. Quotes and brackets end it: hex pairs as JSON strings are joined as JSON values are (leak-json.ts).
 */
const HEX_DIGIT = new Uint8Array(256);
for (const c of "0123456789abcdef") HEX_DIGIT[c.charCodeAt(0)] = HEX_DIGIT[c.toUpperCase().charCodeAt(0)] = c.charCodeAt(0);
const HEX_SEPARATOR = new Uint8Array(256);
for (const c of ":-,.;|/_") HEX_SEPARATOR[c.charCodeAt(0)] = 1;

/**
 * Bytes that change nothing while a layer has nothing under way: whitespace, and bytes that stand for
 * themselves and start no form (text or hex; a "0" at the root of the hex search starts nothing either, "0x"
 * or not). Per set of forms; a layer skips runs of them in a tight loop.
 */
const INERT = new WeakMap<Needles, Uint8Array>();

function inertBytes(needles: Needles): Uint8Array {
  let t = INERT.get(needles);
  if (!t) {
    t = new Uint8Array(256);
    for (let c = 0; c < 256; c++) {
      const d = HEX_DIGIT[c]!;
      t[c] = CLS[c] === DROP || (CLS[c] === PLAIN && needles.text.root[c] === 0 && (d === 0 || needles.hex.root[d] === 0)) ? 1 : 0;
    }
    INERT.set(needles, t);
  }
  return t;
}

/** Bytes an escape may take: \uD83D\uDE00 and &#x0010FFFF; are 12, with room for what ends them. */
const MAX_ESCAPE = 16;
/** Decoding passes at most: a value percent-encoded inside a JSON string inside a percent-encoded URL. */
export const MAX_LAYERS = 3;

/** A layer's state, kept apart while it is not being fed (a JSON path's text between two of its values). */
export interface ViewState {
  text: number;
  hex: number;
  zero: boolean;
  zeroStart: number;
  zeroEnd: number;
  pending: number[];
  /** Start and end of each pending byte, then of each byte of the text candidate, then of the hex one. */
  sources: number[];
  /** Where this state holds bytes back from under the joined-piece thresholds (see LeakGuard). */
  holdFrom: number;
}

/**
 * Memory blocks of layers whose guard has ended, by length, for the next guard: a response's layers would
 * otherwise cost more to allocate and collect than to run over a small body.
 */
const POOL = new Map<number, Float64Array[]>();
const POOLED_PER_SIZE = 64;

/**
 * One decoding pass with the search over its output. A layer that decodes an escape passes what it read to a
 * next layer (up to MAX_LAYERS), which finds forms encoded twice. Fed one byte at a time with the range of
 * stream offsets it stands for (`feedRun` for a run of original bytes).
 */
export class ViewLayer {
  readonly #needles: Needles;
  readonly #inert: Uint8Array;
  readonly #sink: ViewSink;
  readonly #level: number;
  readonly #maxLevel: number;
  readonly #size: number;
  readonly #mask: number;
  /**
   * One block (one allocation): bytes read, ring-buffered as [byte, start, end], from #hexAt the hex search's
   * digits as [start, end], from #pendingAt an unfinished escape's bytes, then their starts, then their ends.
   * The ring keeps a candidate's sources and what a next layer, made at the first escape decoded, must read
   * first: every byte read except those that start and end nothing (no candidate before or after them, none
   * within MAX_ESCAPE bytes after an escape character, not hex), which a next layer would read the same way.
   */
  readonly #mem: Float64Array;
  readonly #hexAt: number;
  readonly #pendingAt: number;
  #n = 0;
  #text = 0;
  #hex = 0;
  #hn = 0;
  /** A "0" seen in the hex search: a digit, or the start of a "0x" prefix (decided by the next byte). */
  #zero = false;
  #zeroStart = 0;
  #zeroEnd = 0;
  #pn = 0;
  /** Bytes still to be remembered whatever they are: an escape character was read (see #mem). */
  #afterEscape = 0;
  /**
   * The next layer, reading this one's output while `#awake`. It sleeps once this layer has read a ring's
   * worth of bytes without decoding any and it is clean: it would read them as this layer does. It wakes at
   * the next decoded byte, reading the ring first (see #mem).
   */
  #next: ViewLayer | undefined;
  #awake = false;
  #quiet = 0;
  #released = false;

  constructor(needles: Needles, sink: ViewSink, maxLevel = MAX_LAYERS, level = 1) {
    this.#needles = needles;
    this.#inert = inertBytes(needles);
    this.#sink = sink;
    this.#level = level;
    this.#maxLevel = maxLevel;
    let size = 32;
    while (size < needles.longest + MAX_ESCAPE + 4) size *= 2;
    this.#size = size;
    this.#mask = size - 1;
    this.#hexAt = 3 * size;
    this.#pendingAt = 5 * size;
    this.#mem = POOL.get(5 * size + 3 * MAX_ESCAPE)?.pop() ?? new Float64Array(5 * size + 3 * MAX_ESCAPE);
  }

  /** Gives this layer's memory (and its next layers') back for reuse: the layer is not used again. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    let free = POOL.get(this.#mem.length);
    if (!free) POOL.set(this.#mem.length, (free = []));
    if (free.length < POOLED_PER_SIZE) free.push(this.#mem);
    this.#next?.release();
  }

  /**
   * Original bytes buf[from, to), at stream offset `base` + index. The common case inline: with nothing under
   * way, bytes that start nothing are skipped (not even remembered, see #mem), and a byte that stands for
   * itself steps the text search alone.
   */
  feedRun(buf: Uint8Array, from: number, to: number, base: number): void {
    const m = this.#mem;
    const mask = this.#mask;
    const text = this.#needles.text;
    const inert = this.#inert;
    let n = this.#n;
    let t = this.#text;
    // True while the next byte needs more than the inline path: an unfinished escape or one just read, a hex
    // candidate, a next layer.
    let slow = this.#pn !== 0 || this.#hex !== 0 || this.#zero || this.#awake || this.#afterEscape > 0;
    for (let i = from; i < to; i++) {
      if (!slow) {
        if (t === 0) {
          while (i < to && inert[buf[i]!] === 1) i++;
          if (i >= to) break;
        }
        const c = buf[i]!;
        const k = CLS[c];
        if (k === DROP) continue;
        const d = HEX_DIGIT[c]!;
        if (k === PLAIN && (d === 0 || (d !== 0x30 && this.#needles.hex.root[d] === 0))) {
          t = t === 0 ? text.root[c]! : text.step(t, c);
          const r = 3 * (n++ & mask);
          m[r] = c;
          m[r + 1] = base + i;
          m[r + 2] = base + i + 1;
          if (t !== 0 && text.match[t]! > 0) {
            this.#n = n;
            this.#text = t;
            this.#overwriteRing(text.match[t]!);
          }
          continue;
        }
      }
      this.#n = n;
      this.#text = t;
      this.feed(buf[i]!, base + i, base + i + 1);
      n = this.#n;
      t = this.#text;
      slow = this.#pn !== 0 || this.#hex !== 0 || this.#zero || this.#awake || this.#afterEscape > 0;
    }
    this.#n = n;
    this.#text = t;
  }

  /** As feedRun, but stops once nothing read so far can be part of a form (returns where it stopped). */
  feedUntilClean(buf: Uint8Array, from: number, to: number, base: number): number {
    let i = from;
    while (i < to && !this.clean) {
      this.feed(buf[i]!, base + i, base + i + 1);
      i++;
    }
    return i;
  }

  feed(c: number, start: number, end: number): void {
    if (this.#pn > 0) {
      this.#push(c, start, end);
      this.#resolve(false);
      return;
    }
    const k = CLS[c];
    if (k === PLAIN) this.#emit(c, start, end);
    else if (k === ESCAPE) this.#push(c, start, end);
  }

  /** A "0" waiting to see whether an "x" follows is a digit: the caller knows what follows is no "x". */
  settleZero(): void {
    if (!this.#zero) return;
    this.#zero = false;
    this.#hexDigit(0x30, this.#zeroStart, this.#zeroEnd);
  }

  /** No more input: an unfinished escape is read as the bytes it is. */
  end(): void {
    this.#resolve(true);
    this.settleZero();
    if (this.#awake) this.#next!.end();
  }

  /** Nothing read so far can be part of a form: the state is the one a fresh layer has. */
  get clean(): boolean {
    return this.cleanHere && (!this.#awake || this.#next!.clean);
  }

  /** As `clean`, for this layer alone (what copyFrom and save take over). */
  get cleanHere(): boolean {
    return this.#text === 0 && this.#hex === 0 && !this.#zero && this.#pn === 0;
  }

  /**
   * The first stream offset of what may still turn into a form: a text candidate at least `minText` bytes
   * long, a hex one at least `minHex` digits long, or (when both are 1) an unfinished escape. Infinity when none.
   */
  holdFrom(minText: number, minHex: number): number {
    let at = Infinity;
    const eager = minText <= 1 && minHex <= 1;
    if (eager && this.#pn > 0) at = this.#mem[this.#pendingAt + MAX_ESCAPE]!;
    const dt = this.#needles.text.depth[this.#text]!;
    if (dt > 0 && dt >= minText) at = Math.min(at, this.#ringStart(this.#n - dt));
    const dh = this.#needles.hex.depth[this.#hex]!;
    if (dh > 0 && dh >= minHex) at = Math.min(at, this.#hexStart(this.#hn - dh));
    if (this.#zero && eager) at = Math.min(at, this.#zeroStart);
    if (this.#awake) at = Math.min(at, this.#next!.holdFrom(minText, minHex));
    return at;
  }

  /**
   * Overwrites the bytes of candidates at least `minText` / `minHex` long, now, before they go out unfinished
   * (a guard that must let go of bytes before `before`, see LeakGuard). The search state is kept: if the form
   * completes, the rest is overwritten too.
   */
  scrubCandidates(minText: number, minHex: number, before: number): void {
    const dt = this.#needles.text.depth[this.#text]!;
    if (dt > 0 && dt >= minText && this.#ringStart(this.#n - dt) < before) this.#overwriteRing(dt);
    const dh = this.#needles.hex.depth[this.#hex]!;
    if (dh > 0 && dh >= minHex && this.#hexStart(this.#hn - dh) < before) this.#overwriteHex(dh);
    if (this.#awake) this.#next!.scrubCandidates(minText, minHex, before);
  }

  /**
   * Takes over the state of `o` and of its next layers (as many as this one may have): what it read so far
   * stands for what this one read.
   */
  copyFrom(o: ViewLayer): void {
    if (o.clean) {
      this.reset();
      return;
    }
    this.#text = o.#text;
    this.#hex = o.#hex;
    this.#zero = o.#zero;
    this.#zeroStart = o.#zeroStart;
    this.#zeroEnd = o.#zeroEnd;
    this.#pn = o.#pn;
    const m = this.#mem;
    const om = o.#mem;
    for (let k = 0; k < o.#pn; k++) {
      m[this.#pendingAt + k] = om[o.#pendingAt + k]!;
      m[this.#pendingAt + MAX_ESCAPE + k] = om[o.#pendingAt + MAX_ESCAPE + k]!;
      m[this.#pendingAt + 2 * MAX_ESCAPE + k] = om[o.#pendingAt + 2 * MAX_ESCAPE + k]!;
    }
    const dt = this.#needles.text.depth[o.#text]!;
    for (let k = 0; k < dt; k++) {
      const from = 3 * ((o.#n - dt + k) & o.#mask);
      m[3 * k] = om[from]!;
      m[3 * k + 1] = om[from + 1]!;
      m[3 * k + 2] = om[from + 2]!;
    }
    this.#n = dt;
    const dh = this.#needles.hex.depth[o.#hex]!;
    for (let k = 0; k < dh; k++) {
      const from = o.#hexAt + 2 * ((o.#hn - dh + k) & o.#mask);
      m[this.#hexAt + 2 * k] = om[from]!;
      m[this.#hexAt + 2 * k + 1] = om[from + 1]!;
    }
    this.#hn = dh;
    if (o.#awake && this.#level < this.#maxLevel) {
      this.#next ??= new ViewLayer(this.#needles, this.#sink, this.#maxLevel, this.#level + 1);
      this.#next.copyFrom(o.#next!);
      this.#awake = true;
      this.#quiet = o.#quiet;
    } else this.#sleep();
  }

  reset(): void {
    this.#text = 0;
    this.#hex = 0;
    this.#zero = false;
    this.#pn = 0;
    this.#afterEscape = 0;
    this.#sleep();
  }

  #sleep(): void {
    if (!this.#awake) return;
    this.#awake = false;
    this.#next!.reset();
  }

  /**
   * This layer's state (not its next layers') as a small record, written into `into` when given;
   * `minText`/`minHex` as for holdFrom.
   */
  save(minText: number, minHex: number, into?: ViewState): ViewState {
    const dt = this.#needles.text.depth[this.#text]!;
    const dh = this.#needles.hex.depth[this.#hex]!;
    const st = into ?? { text: 0, hex: 0, zero: false, zeroStart: 0, zeroEnd: 0, pending: [], sources: [], holdFrom: Infinity };
    const { pending, sources } = st;
    const m = this.#mem;
    pending.length = sources.length = 0;
    for (let k = 0; k < this.#pn; k++) {
      pending.push(m[this.#pendingAt + k]!);
      sources.push(m[this.#pendingAt + MAX_ESCAPE + k]!, m[this.#pendingAt + 2 * MAX_ESCAPE + k]!);
    }
    for (let k = 0; k < dt; k++) {
      const r = 3 * ((this.#n - dt + k) & this.#mask);
      sources.push(m[r + 1]!, m[r + 2]!);
    }
    for (let k = 0; k < dh; k++) {
      const r = this.#hexAt + 2 * ((this.#hn - dh + k) & this.#mask);
      sources.push(m[r]!, m[r + 1]!);
    }
    st.text = this.#text;
    st.hex = this.#hex;
    st.zero = this.#zero;
    st.zeroStart = this.#zeroStart;
    st.zeroEnd = this.#zeroEnd;
    st.holdFrom = this.holdFrom(minText, minHex);
    return st;
  }

  load(st: ViewState): void {
    this.#text = st.text;
    this.#hex = st.hex;
    this.#zero = st.zero;
    this.#zeroStart = st.zeroStart;
    this.#zeroEnd = st.zeroEnd;
    this.#pn = st.pending.length;
    const m = this.#mem;
    let s = 0;
    for (let k = 0; k < this.#pn; k++) {
      m[this.#pendingAt + k] = st.pending[k]!;
      m[this.#pendingAt + MAX_ESCAPE + k] = st.sources[s++]!;
      m[this.#pendingAt + 2 * MAX_ESCAPE + k] = st.sources[s++]!;
    }
    const dt = this.#needles.text.depth[st.text]!;
    for (let k = 0; k < dt; k++) {
      m[3 * k + 1] = st.sources[s++]!;
      m[3 * k + 2] = st.sources[s++]!;
    }
    this.#n = dt;
    const dh = this.#needles.hex.depth[st.hex]!;
    for (let k = 0; k < dh; k++) {
      m[this.#hexAt + 2 * k] = st.sources[s++]!;
      m[this.#hexAt + 2 * k + 1] = st.sources[s++]!;
    }
    this.#hn = dh;
  }

  #ringStart(q: number): number {
    return this.#mem[3 * (q & this.#mask) + 1]!;
  }

  #hexStart(q: number): number {
    return this.#mem[this.#hexAt + 2 * (q & this.#mask)]!;
  }

  #push(c: number, start: number, end: number): void {
    const at = this.#pendingAt + this.#pn;
    this.#mem[at] = c;
    this.#mem[at + MAX_ESCAPE] = start;
    this.#mem[at + 2 * MAX_ESCAPE] = end;
    this.#pn++;
  }

  #shift(k: number): void {
    const m = this.#mem;
    const p = this.#pendingAt;
    const n = this.#pn - k;
    for (let q = 0; q < n; q++) {
      m[p + q] = m[p + q + k]!;
      m[p + MAX_ESCAPE + q] = m[p + MAX_ESCAPE + q + k]!;
      m[p + 2 * MAX_ESCAPE + q] = m[p + 2 * MAX_ESCAPE + q + k]!;
    }
    this.#pn = n;
  }

  /** Decodes what is pending as far as it can: an escape, or a byte that turned out to stand for itself. */
  #resolve(final: boolean): void {
    const m = this.#mem;
    const p = this.#pendingAt;
    while (this.#pn > 0) {
      const c = m[p]!;
      const k = CLS[c];
      if (k !== ESCAPE) {
        if (k === PLAIN) this.#emit(c, m[p + MAX_ESCAPE]!, m[p + 2 * MAX_ESCAPE]!);
        this.#shift(1);
        continue;
      }
      let used = decodeEscape(m, p, p + this.#pn);
      if (used === INCOMPLETE) {
        if (!final && this.#pn < MAX_ESCAPE) return;
        used = INVALID;
      }
      if (used === INVALID) {
        this.#emit(c, m[p + MAX_ESCAPE]!, m[p + 2 * MAX_ESCAPE]!);
        this.#shift(1);
        continue;
      }
      const start = m[p + MAX_ESCAPE]!;
      const end = m[p + 2 * MAX_ESCAPE + used - 1]!;
      this.#shift(used);
      this.#emitDecoded(start, end);
    }
  }

  /** DECODED read out, each byte standing for the whole escape; decoded whitespace is dropped too. */
  #emitDecoded(start: number, end: number): void {
    // Copied out first: the next layer decodes too, into the same DECODED.
    const n = DECODED.length;
    const b0 = DECODED[0]!, b1 = DECODED[1]!, b2 = DECODED[2]!, b3 = DECODED[3]!;
    // Decoded whitespace is dropped: the next layer has nothing new to read.
    let visible = false;
    for (let k = 0; k < n; k++) visible ||= WS[k === 0 ? b0 : k === 1 ? b1 : k === 2 ? b2 : b3] === 0;
    if (visible && this.#level < this.#maxLevel) {
      this.#quiet = 0;
      if (!this.#awake) {
        // The next layer reads this one's output; what came before is in the ring.
        const next = (this.#next ??= new ViewLayer(this.#needles, this.#sink, this.#maxLevel, this.#level + 1));
        next.reset();
        this.#awake = true;
        const m = this.#mem;
        for (let q = Math.max(0, this.#n - this.#size); q < this.#n; q++) {
          const r = 3 * (q & this.#mask);
          next.feed(m[r]!, m[r + 1]!, m[r + 2]!);
        }
      }
    }
    for (let k = 0; k < n; k++) {
      const b = k === 0 ? b0 : k === 1 ? b1 : k === 2 ? b2 : b3;
      if (WS[b] === 0) this.#emit(b, start, end);
    }
  }

  /** A byte this layer read: searched for, remembered, and passed to the next layer. */
  #emit(c: number, start: number, end: number): void {
    if (CLS[c] === ESCAPE) this.#afterEscape = MAX_ESCAPE;
    else if (this.#afterEscape > 0) this.#afterEscape--;
    const r = 3 * (this.#n++ & this.#mask);
    const m = this.#mem;
    m[r] = c;
    m[r + 1] = start;
    m[r + 2] = end;
    const text = this.#needles.text;
    const t = text.step(this.#text, c);
    this.#text = t;
    if (t !== 0) {
      const hit = text.match[t]!;
      if (hit > 0) this.#overwriteRing(hit);
    }
    this.#hexByte(c, start, end);
    if (this.#awake) {
      const next = this.#next!;
      next.feed(c, start, end);
      if (++this.#quiet >= this.#size && next.clean) {
        this.#awake = false;
        next.reset();
      }
    }
  }

  #hexByte(c: number, start: number, end: number): void {
    if (this.#zero) {
      this.#zero = false;
      // "0x" before hex digits is a prefix, not part of the value.
      if (c === 0x78 || c === 0x58) return;
      this.#hexDigit(0x30, this.#zeroStart, this.#zeroEnd);
    }
    const d = HEX_DIGIT[c]!;
    if (d !== 0) {
      if (d === 0x30) {
        this.#zero = true;
        this.#zeroStart = start;
        this.#zeroEnd = end;
      } else this.#hexDigit(d, start, end);
    } else if (this.#hex !== 0 && HEX_SEPARATOR[c] === 0) this.#hex = 0;
  }

  #hexDigit(d: number, start: number, end: number): void {
    const hex = this.#needles.hex;
    const h = hex.step(this.#hex, d);
    this.#hex = h;
    if (h === 0) return;
    const r = this.#hexAt + 2 * (this.#hn++ & this.#mask);
    this.#mem[r] = start;
    this.#mem[r + 1] = end;
    const hit = hex.match[h]!;
    if (hit > 0) this.#overwriteHex(hit);
  }

  #overwriteRing(m: number): void {
    for (let k = 1; k <= m; k++) {
      const r = 3 * ((this.#n - k) & this.#mask);
      this.#sink.overwrite(this.#mem[r + 1]!, this.#mem[r + 2]!);
    }
  }

  #overwriteHex(m: number): void {
    for (let k = 1; k <= m; k++) {
      const r = this.#hexAt + 2 * ((this.#hn - k) & this.#mask);
      this.#sink.overwrite(this.#mem[r]!, this.#mem[r + 1]!);
    }
  }
}
