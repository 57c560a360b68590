// The route credential can come back spelled so that a byte search misses it but a client's decoder does
// not: JSON \u escapes, percent-encoding in either hex case, HTML entities (leak-escapes.ts), hex in either
// case and with separators, base64 wrapped at any width or split by spaces, a secret cut across server-sent
// events or JSON values (leak-guard.ts, leak-joins.ts join those). A ViewLayer reads bytes as such a client
// would (escapes decoded, whitespace dropped), carrying its state from chunk to chunk: an escape under way is
// kept apart until it decodes (leak-pending.ts), and a text search (leak-text.ts) and a hex search
// (leak-hex.ts) look for the forms in what it reads. Each byte read keeps the stream offsets it came from, so
// that a form is overwritten where it was really spelled ("*" for each original byte: lengths and framing
// stay true), and so that a guard knows from where bytes must be held back while a form could still be
// completing. Whitespace is dropped, so a spelling cannot be stretched out of reach by padding.

import * as bytes from "./leak-bytes.js";
import * as escapes from "./leak-escapes.js";
import { HexSearch } from "./leak-hex.js";
import type { Needles } from "./leak-match.js";
import * as pending from "./leak-pending.js";
import type { PendingEscape } from "./leak-pending.js";
import { emptyState, giveBlock, takeBlock, type ViewSink, type ViewState } from "./leak-state.js";
import { TextSearch } from "./leak-text.js";

// Module-local copies of what hot code reads: V8 reads an imported binding from memory on every use.
const { fastBytes, CLS, DROP, ESCAPE, PLAIN, REMEMBER_AFTER } = bytes;
const { DECODED, itselfLength } = escapes;
const { AS_IS, MAX_ESCAPE, WAIT } = pending;
const QUOTE = 0x22;
const COMMA = 0x2c;

export type { ViewSink, ViewState } from "./leak-state.js";

/** Decoding passes at most: a value percent-encoded inside a JSON string inside a percent-encoded URL. */
export const MAX_LAYERS = 3;

/**
 * One decoding pass with the searches over its output. A layer that decodes an escape passes what it read to
 * a next layer (up to MAX_LAYERS), which finds forms encoded twice. Fed one byte at a time with the range of
 * stream offsets it stands for (`feedRun` for a run of original bytes).
 */
export class ViewLayer {
  readonly #needles: Needles;
  readonly #fast: Uint8Array;
  readonly #sink: ViewSink;
  readonly #level: number;
  readonly #maxLevel: number;
  /** The text search's ring length (see leak-text.ts): a power of two longer than a form and an escape. */
  readonly #size: number;
  /** One block (one allocation) for the text search's ring, the hex search's and the escape under way. */
  readonly #mem: Float64Array;
  readonly #text: TextSearch;
  readonly #hex: HexSearch;
  readonly #pending: PendingEscape;
  /**
   * Bytes still to be remembered whatever they are: an escape character was read. The text search's own loop
   * skips bytes that start nothing, which a next layer would read the same way, unless they may end an escape.
   */
  #afterEscape = 0;
  /**
   * The next layer, reading this one's output while `#awake`. It sleeps once this layer has read a ring's
   * worth of bytes without decoding any and it is clean: it would read them as this layer does. It wakes at
   * the next decoded byte, reading the ring first.
   */
  #next: ViewLayer | undefined;
  #awake = false;
  #quiet = 0;
  #released = false;

  constructor(needles: Needles, sink: ViewSink, maxLevel = MAX_LAYERS, level = 1) {
    this.#needles = needles;
    this.#fast = fastBytes(needles);
    this.#sink = sink;
    this.#level = level;
    this.#maxLevel = maxLevel;
    let size = 32;
    while (size < needles.longest + MAX_ESCAPE + 4) size *= 2;
    this.#size = size;
    const mem = (this.#mem = takeBlock(5 * size + 3 * MAX_ESCAPE));
    this.#text = new TextSearch(needles.text, sink, mem, size);
    this.#hex = new HexSearch(needles.hex, sink, mem, 3 * size, size);
    this.#pending = new pending.PendingEscape(mem, 5 * size);
  }

  /** Gives this layer's memory (and its next layers') back for reuse: the layer is not used again. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    giveBlock(this.#mem);
    this.#next?.release();
  }

  /**
   * Original bytes buf[from, to), at stream offset `base` + index. The common case in the text search's own
   * loop: while nothing but a text candidate is under way, bytes that start nothing are skipped (not even
   * remembered), and a byte that stands for itself steps the text search alone.
   */
  feedRun(buf: Uint8Array, from: number, to: number, base: number): void {
    let i = from;
    while (i < to) {
      if (this.#textOnly()) {
        i = this.#text.run(buf, i, to, base, this.#fast);
        if (i >= to) return;
      }
      const c = buf[i]!;
      // A non-ASCII character that reads as itself (most do) goes as plain bytes, not through an escape.
      const n = c >= 0xc2 && CLS[c] === ESCAPE && this.#pending.size === 0 ? itselfLength(buf, i, to) : 0;
      if (n > 0) {
        for (const stop = i + n; i < stop; i++) this.#emit(buf[i]!, base + i, base + i + 1);
        continue;
      }
      this.feed(c, base + i, base + i + 1);
      i++;
    }
  }

  /** As feedRun, but stops once nothing read so far can be part of a form (returns where it stopped). */
  feedUntilClean(buf: Uint8Array, from: number, to: number, base: number): number {
    let i = from;
    while (i < to) {
      if (this.#textOnly()) {
        // As feedRun's common case: a text candidate alone, clean once it ends.
        i = this.#text.runCandidate(buf, i, to, base, this.#fast);
        if (i >= to || this.#text.state === 0) break;
      } else if (this.clean) break;
      this.feed(buf[i]!, base + i, base + i + 1);
      i++;
    }
    return i;
  }

  feed(c: number, start: number, end: number): void {
    if (this.#pending.size > 0) {
      this.#pending.push(c, start, end);
      this.#resolve(false);
      return;
    }
    const k = CLS[c];
    if (k === PLAIN) this.#emit(c, start, end);
    // An index key (leak-escapes.ts) matters only inside a text candidate, after the comma that ends a byte's
    // value: elsewhere it joins nothing, and reading every quote of a JSON body as a possible escape would
    // slow the view down.
    else if (k === ESCAPE) {
      if (c === QUOTE && (this.#text.state === 0 || this.#text.last !== COMMA)) this.#emit(c, start, end);
      else this.#pending.push(c, start, end);
    }
  }

  /** A "0" waiting to see whether an "x" follows is a digit: the caller knows what follows is no "x". */
  settleZero(): void {
    this.#hex.settleZero();
  }

  /** No more input: an unfinished escape is read as the bytes it is. */
  end(): void {
    this.#resolve(true);
    this.#hex.settleZero();
    if (this.#awake) this.#next!.end();
  }

  /** Nothing read so far can be part of a form: the state is the one a fresh layer has. */
  get clean(): boolean {
    return this.cleanHere && (!this.#awake || this.#next!.clean);
  }

  /** As `clean`, for this layer alone (what copyFrom and save take over). */
  get cleanHere(): boolean {
    return this.#text.state === 0 && this.#hex.state === 0 && !this.#hex.zero && this.#pending.size === 0;
  }

  /**
   * The first stream offset of what may still turn into a form: a text candidate at least `minText` bytes
   * long, a hex one at least `minHex` digits long, or (when both are 1) an unfinished escape. Infinity when none.
   */
  holdFrom(minText: number, minHex: number): number {
    const eager = minText <= 1 && minHex <= 1;
    let at = Math.min(this.#text.holdFrom(minText), this.#hex.holdFrom(minHex, eager));
    if (eager && this.#pending.size > 0) at = Math.min(at, this.#pending.from);
    if (this.#awake) at = Math.min(at, this.#next!.holdFrom(minText, minHex));
    return at;
  }

  /**
   * Overwrites the bytes of candidates at least `minText` / `minHex` long, now, before they go out unfinished
   * (a guard that must let go of bytes before `before`, see LeakGuard). The search state is kept: if the form
   * completes, the rest is overwritten too.
   */
  scrubCandidates(minText: number, minHex: number, before: number): void {
    this.#text.scrub(minText, before);
    this.#hex.scrub(minHex, before);
    if (this.#awake) this.#next!.scrubCandidates(minText, minHex, before);
  }

  /** A join takes over what this layer read: reset when this is `clean`, else made if need be and copied. */
  carryInto(join: ViewLayer | undefined, clean = this.clean): ViewLayer | undefined {
    if (!clean) (join ??= new ViewLayer(this.#needles, this.#sink)).copyFrom(this);
    else join?.reset();
    return join;
  }

  /**
   * When a text candidate is all this layer holds (no escape under way, no hex candidate or "0", no next layer
   * awake), all that copyFrom would take from it: the candidate into `into` (see TextSearch.snapshot), and the
   * text search's state returned. Else -1.
   */
  snapshotText(into: number[]): number {
    const h = this.#hex;
    if (this.#pending.size !== 0 || h.state !== 0 || h.zero || this.#awake) return -1;
    this.#text.snapshot(into);
    return this.#text.state;
  }

  /** What copyFrom makes of a layer whose snapshotText returned `state`, given the candidate it wrote. */
  copyText(state: number, from: readonly number[]): void {
    this.#text.restore(state, from);
    this.#hex.reset();
    this.#pending.reset();
    this.#sleep();
  }

  /** No escape character read lately: a byte that stands for itself steps the text search alone. */
  get settled(): boolean {
    return this.#afterEscape === 0;
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
    this.#text.copyFrom(o.#text);
    this.#hex.copyFrom(o.#hex);
    this.#pending.copyFrom(o.#pending);
    if (o.#awake && this.#level < this.#maxLevel) {
      this.#next ??= new ViewLayer(this.#needles, this.#sink, this.#maxLevel, this.#level + 1);
      this.#next.copyFrom(o.#next!);
      this.#awake = true;
      this.#quiet = o.#quiet;
    } else this.#sleep();
  }

  reset(): void {
    this.#text.state = 0;
    this.#hex.reset();
    this.#pending.reset();
    this.#afterEscape = 0;
    this.#sleep();
  }

  /** This layer's state (not its next layers') as a record, into `into` if given; `min*` as for holdFrom. */
  save(minText: number, minHex: number, into?: ViewState): ViewState {
    const st = into ?? emptyState();
    st.sn = this.#hex.save(st, this.#text.save(st, this.#pending.save(st))) >> 1;
    st.holdFrom = this.holdFrom(minText, minHex);
    return st;
  }

  load(st: ViewState): void {
    this.#hex.load(st, this.#text.load(st, this.#pending.load(st)));
  }

  /**
   * Nothing under way but (maybe) a text candidate: the text search's own loop can take plain bytes. (A method:
   * V8 does not inline a private getter.)
   */
  #textOnly(): boolean {
    return this.#pending.size === 0 && this.#hex.state === 0 && !this.#hex.zero && !this.#awake && this.#afterEscape === 0;
  }

  #sleep(): void {
    if (!this.#awake) return;
    this.#awake = false;
    this.#next!.reset();
  }

  /** Decodes what is pending as far as it can: an escape, or a byte that turned out to stand for itself. */
  #resolve(final: boolean): void {
    const p = this.#pending;
    for (;;) {
      const r = p.next(final);
      if (r === WAIT) return;
      if (r === AS_IS) this.#emit(p.byte, p.start, p.end);
      else this.#emitDecoded(p.start, p.end);
    }
  }

  /** DECODED read out, each byte standing for the whole escape; decoded whitespace is dropped too. */
  #emitDecoded(start: number, end: number): void {
    // Copied out first: the next layer decodes too, into the same DECODED.
    const n = DECODED.length;
    const b0 = DECODED[0]!, b1 = DECODED[1]!, b2 = DECODED[2]!, b3 = DECODED[3]!;
    // Decoded whitespace (and control characters) are dropped: the next layer has nothing new to read.
    let visible = false;
    for (let k = 0; k < n; k++) visible ||= CLS[k === 0 ? b0 : k === 1 ? b1 : k === 2 ? b2 : b3] !== DROP;
    if (visible && this.#level < this.#maxLevel) {
      this.#quiet = 0;
      if (!this.#awake) {
        // The next layer reads this one's output; what came before is in the ring.
        const next = (this.#next ??= new ViewLayer(this.#needles, this.#sink, this.#maxLevel, this.#level + 1));
        next.reset();
        this.#awake = true;
        this.#text.replay(next, this.#size);
      }
    }
    for (let k = 0; k < n; k++) {
      const b = k === 0 ? b0 : k === 1 ? b1 : k === 2 ? b2 : b3;
      if (CLS[b] !== DROP) this.#emit(b, start, end);
    }
  }

  /** A byte this layer read: searched for, remembered, and passed to the next layer. */
  #emit(c: number, start: number, end: number): void {
    if (REMEMBER_AFTER[c] === 1) this.#afterEscape = MAX_ESCAPE;
    else if (this.#afterEscape > 0) this.#afterEscape--;
    this.#text.read(c, start, end);
    this.#hex.read(c, start, end);
    if (this.#awake) {
      const next = this.#next!;
      next.feed(c, start, end);
      if (++this.#quiet >= this.#size && next.clean) {
        this.#awake = false;
        next.reset();
      }
    }
  }
}
