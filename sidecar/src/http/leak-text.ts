// The text search of a decoding layer (leak-view.ts): the forms read as they are, over what the layer reads,
// and the bytes it read, ring-buffered as [byte, start, end] with the stream offsets each stands for (an escape
// decoded stands for all its bytes). The ring keeps a candidate's sources, to overwrite them when it completes
// or hold them back while it may, and what a next layer, woken at the first escape decoded, must read first.

import type { Automaton } from "./leak-match.js";
import type { ViewSink, ViewState } from "./leak-state.js";

/**
 * How `run` takes a byte, per set of forms (bits of the table leak-bytes.ts builds; here, where they are read,
 * since a constant imported from another module is read from memory on every use in a loop):
 * INERT: it changes nothing while the layer has nothing under way: whitespace, and bytes that stand for
 * themselves and start no form (text or hex; a "0" at the root of the hex search starts nothing either, "0x"
 * or not); skipped.
 * INLINE: it stands for itself and the hex search cannot take it: only the text search steps.
 * DROPPED: whitespace.
 * None of them: an escape character, or a digit the hex search takes: the layer's general path.
 */
export const DROPPED = 1;
export const INLINE = 2;
/** The highest bit: a byte is inert exactly when its entry is at least this (one compare in the skip loop). */
export const INERT = 4;

export class TextSearch {
  readonly #forms: Automaton;
  readonly #sink: ViewSink;
  readonly #mem: Float64Array;
  readonly #mask: number;
  /** The automaton's state: the candidate is the last depth[state] bytes read. */
  state = 0;
  /** Bytes read (remembered) so far; the ring holds the last mask + 1. */
  n = 0;

  /** The ring is mem[0, 3 * size), size a power of two longer than any form. */
  constructor(forms: Automaton, sink: ViewSink, mem: Float64Array, size: number) {
    this.#forms = forms;
    this.#sink = sink;
    this.#mem = mem;
    this.#mask = size - 1;
  }

  /** The last byte read (only while there is a candidate: bytes skipped before one are not remembered). */
  get last(): number {
    return this.#mem[3 * ((this.n - 1) & this.#mask)]!;
  }

  /** A byte read, standing for stream offsets [start, end): remembered, searched for, a form overwritten. */
  read(c: number, start: number, end: number): void {
    const r = 3 * (this.n++ & this.#mask);
    const m = this.#mem;
    m[r] = c;
    m[r + 1] = start;
    m[r + 2] = end;
    const t = this.#forms.step(this.state, c);
    this.state = t;
    if (t !== 0) {
      const hit = this.#forms.match[t]!;
      if (hit > 0) this.#overwrite(hit);
    }
  }

  /**
   * Original bytes from buf[from] (stream offset `base` + index) for as long as they stand for themselves and
   * only this search takes them (`fast`, see leak-bytes.ts): while there is no candidate, bytes that start
   * nothing are skipped (not even remembered), whitespace is dropped. Returns the index of the first byte
   * that needs the layer's general path, or `to`.
   */
  run(buf: Uint8Array, from: number, to: number, base: number, fast: Uint8Array): number {
    const m = this.#mem;
    const mask = this.#mask;
    const forms = this.#forms;
    const { root, dense, width, byteClass, denseStates, match } = forms;
    let n = this.n;
    let t = this.state;
    let i = from;
    for (; i < to; i++) {
      if (t === 0) {
        while (i < to && fast[buf[i]!]! >= INERT) i++;
        if (i >= to) break;
      }
      const c = buf[i]!;
      const k = fast[c]!;
      if ((k & INLINE) === 0) {
        if ((k & DROPPED) !== 0) continue;
        break;
      }
      t = t === 0 ? root[c]! : t < denseStates ? dense[t * width + byteClass[c]!]! : forms.step(t, c);
      const r = 3 * (n++ & mask);
      m[r] = c;
      m[r + 1] = base + i;
      m[r + 2] = base + i + 1;
      if (t !== 0 && match[t]! > 0) {
        this.n = n;
        this.#overwrite(match[t]!);
      }
    }
    this.n = n;
    this.state = t;
    return i;
  }

  /**
   * As `run`, but only while a candidate is under way: returns where it ended (the state is 0 there), or the
   * index of the first byte that needs the layer's general path, or `to`.
   */
  runCandidate(buf: Uint8Array, from: number, to: number, base: number, fast: Uint8Array): number {
    let i = from;
    for (; i < to && this.state !== 0; i++) {
      const c = buf[i]!;
      const k = fast[c]!;
      if ((k & INLINE) !== 0) this.read(c, base + i, base + i + 1);
      else if ((k & DROPPED) === 0) break;
    }
    return i;
  }

  /** The last `size` bytes remembered, in order, for a next layer to read first. */
  replay(into: { feed(c: number, start: number, end: number): void }, size: number): void {
    const m = this.#mem;
    for (let q = Math.max(0, this.n - size); q < this.n; q++) {
      const r = 3 * (q & this.#mask);
      into.feed(m[r]!, m[r + 1]!, m[r + 2]!);
    }
  }

  /** Where a candidate of at least `min` bytes starts (Infinity when none). */
  holdFrom(min: number): number {
    const d = this.#forms.depth[this.state]!;
    return d > 0 && d >= min ? this.#startOf(this.n - d) : Infinity;
  }

  /** A candidate of at least `min` bytes that started before `before` is overwritten now (see ViewLayer). */
  scrub(min: number, before: number): void {
    const d = this.#forms.depth[this.state]!;
    if (d > 0 && d >= min && this.#startOf(this.n - d) < before) this.#overwrite(d);
  }

  copyFrom(o: TextSearch): void {
    this.state = o.state;
    const d = this.#forms.depth[o.state]!;
    const m = this.#mem;
    const om = o.#mem;
    for (let k = 0; k < d; k++) {
      const from = 3 * ((o.n - d + k) & o.#mask);
      m[3 * k] = om[from]!;
      m[3 * k + 1] = om[from + 1]!;
      m[3 * k + 2] = om[from + 2]!;
    }
    this.n = d;
  }

  /** The candidate as [byte, start, end] for each of its bytes into `into` (see `restore`, leak-carry.ts). */
  snapshot(into: number[]): void {
    const d = this.#forms.depth[this.state]!;
    const m = this.#mem;
    for (let k = 0; k < 3 * d; k += 3) {
      const r = 3 * ((this.n - d + k / 3) & this.#mask);
      into[k] = m[r]!;
      into[k + 1] = m[r + 1]!;
      into[k + 2] = m[r + 2]!;
    }
  }

  /** As copyFrom from a search whose state was `state` and whose candidate `snapshot` wrote into `from`. */
  restore(state: number, from: readonly number[]): void {
    this.state = state;
    const d = this.#forms.depth[state]!;
    for (let k = 0; k < 3 * d; k++) this.#mem[k] = from[k]!;
    this.n = d;
  }

  /** The candidate's sources into st.sources from `s`; returns where they end. */
  save(st: ViewState, s: number): number {
    const d = this.#forms.depth[this.state]!;
    const m = this.#mem;
    for (let k = 0; k < d; k++) {
      const r = 3 * ((this.n - d + k) & this.#mask);
      st.sources[s++] = m[r + 1]!;
      st.sources[s++] = m[r + 2]!;
    }
    st.text = this.state;
    return s;
  }

  /** As save wrote it (only the sources: a layer loaded so wakes no next layer). */
  load(st: ViewState, s: number): number {
    this.state = st.text;
    const d = this.#forms.depth[st.text]!;
    const m = this.#mem;
    for (let k = 0; k < d; k++) {
      m[3 * k + 1] = st.sources[s++]!;
      m[3 * k + 2] = st.sources[s++]!;
    }
    this.n = d;
    return s;
  }

  #startOf(q: number): number {
    return this.#mem[3 * (q & this.#mask) + 1]!;
  }

  #overwrite(len: number): void {
    for (let k = 1; k <= len; k++) {
      const r = 3 * ((this.n - k) & this.#mask);
      this.#sink.overwrite(this.#mem[r + 1]!, this.#mem[r + 2]!);
    }
  }
}
