// The hex search of a decoding layer (leak-view.ts): the hex forms of the credential over what the layer
// reads, digits in either case, read through separators (`75:70`, `0x75, 0x70`, `75-70`) and "0x" prefixes.
// It remembers the stream offsets of the digits of its candidate, to overwrite them when it completes or hold
// them back while it may.

import * as bytes from "./leak-bytes.js";
import type { Automaton } from "./leak-match.js";
import type { ViewSink, ViewState } from "./leak-state.js";

// Module-local copies of what hot code reads: V8 reads an imported binding from memory on every use.
const { HEX_DIGIT, HEX_SEPARATOR } = bytes;

const ZERO = 0x30;

export class HexSearch {
  readonly #forms: Automaton;
  readonly #sink: ViewSink;
  readonly #mem: Float64Array;
  /** The digits' sources, ring-buffered as [start, end] in mem[#at, #at + 2 * size). */
  readonly #at: number;
  readonly #mask: number;
  /** The automaton's state: the candidate is the last depth[state] digits (read it, do not set it). */
  state = 0;
  #n = 0;
  /** A "0" seen: a digit, or the start of a "0x" prefix, decided by the next byte (read it, do not set it). */
  zero = false;
  #zeroStart = 0;
  #zeroEnd = 0;

  constructor(forms: Automaton, sink: ViewSink, mem: Float64Array, at: number, size: number) {
    this.#forms = forms;
    this.#sink = sink;
    this.#mem = mem;
    this.#at = at;
    this.#mask = size - 1;
  }

  /** A byte the layer read, standing for stream offsets [start, end). */
  read(c: number, start: number, end: number): void {
    if (this.zero) {
      this.zero = false;
      // "0x" before hex digits is a prefix, not part of the value.
      if (c === 0x78 || c === 0x58) return;
      this.#digit(ZERO, this.#zeroStart, this.#zeroEnd);
    }
    const d = HEX_DIGIT[c]!;
    if (d !== 0) {
      if (d === ZERO) {
        this.zero = true;
        this.#zeroStart = start;
        this.#zeroEnd = end;
      } else this.#digit(d, start, end);
    } else if (this.state !== 0 && HEX_SEPARATOR[c] === 0) this.state = 0;
  }

  /** A "0" waiting to see whether an "x" follows is a digit: the caller knows what follows is no "x". */
  settleZero(): void {
    if (!this.zero) return;
    this.zero = false;
    this.#digit(ZERO, this.#zeroStart, this.#zeroEnd);
  }

  /** Where a candidate of at least `min` digits starts, or (`eager`) a "0" waiting; Infinity when none. */
  holdFrom(min: number, eager: boolean): number {
    const d = this.#forms.depth[this.state]!;
    let at = d > 0 && d >= min ? this.#startOf(this.#n - d) : Infinity;
    if (this.zero && eager) at = Math.min(at, this.#zeroStart);
    return at;
  }

  /** A candidate of at least `min` digits that started before `before` is overwritten now (see ViewLayer). */
  scrub(min: number, before: number): void {
    const d = this.#forms.depth[this.state]!;
    if (d > 0 && d >= min && this.#startOf(this.#n - d) < before) this.#overwrite(d);
  }

  reset(): void {
    this.state = 0;
    this.zero = false;
  }

  copyFrom(o: HexSearch): void {
    this.state = o.state;
    this.zero = o.zero;
    this.#zeroStart = o.#zeroStart;
    this.#zeroEnd = o.#zeroEnd;
    const d = this.#forms.depth[o.state]!;
    const m = this.#mem;
    const om = o.#mem;
    for (let k = 0; k < d; k++) {
      const from = o.#at + 2 * ((o.#n - d + k) & o.#mask);
      m[this.#at + 2 * k] = om[from]!;
      m[this.#at + 2 * k + 1] = om[from + 1]!;
    }
    this.#n = d;
  }

  /** The candidate's sources into st.sources from `s`; returns where they end. */
  save(st: ViewState, s: number): number {
    const d = this.#forms.depth[this.state]!;
    const m = this.#mem;
    for (let k = 0; k < d; k++) {
      const r = this.#at + 2 * ((this.#n - d + k) & this.#mask);
      st.sources[s++] = m[r]!;
      st.sources[s++] = m[r + 1]!;
    }
    st.hex = this.state;
    st.zero = this.zero;
    st.zeroStart = this.#zeroStart;
    st.zeroEnd = this.#zeroEnd;
    return s;
  }

  load(st: ViewState, s: number): number {
    this.state = st.hex;
    this.zero = st.zero;
    this.#zeroStart = st.zeroStart;
    this.#zeroEnd = st.zeroEnd;
    const d = this.#forms.depth[st.hex]!;
    const m = this.#mem;
    for (let k = 0; k < d; k++) {
      m[this.#at + 2 * k] = st.sources[s++]!;
      m[this.#at + 2 * k + 1] = st.sources[s++]!;
    }
    this.#n = d;
    return s;
  }

  #digit(d: number, start: number, end: number): void {
    const h = this.#forms.step(this.state, d);
    this.state = h;
    if (h === 0) return;
    const r = this.#at + 2 * (this.#n++ & this.#mask);
    this.#mem[r] = start;
    this.#mem[r + 1] = end;
    const hit = this.#forms.match[h]!;
    if (hit > 0) this.#overwrite(hit);
  }

  #startOf(q: number): number {
    return this.#mem[this.#at + 2 * (q & this.#mask)]!;
  }

  #overwrite(len: number): void {
    for (let k = 1; k <= len; k++) {
      const r = this.#at + 2 * ((this.#n - k) & this.#mask);
      this.#sink.overwrite(this.#mem[r]!, this.#mem[r + 1]!);
    }
  }
}
