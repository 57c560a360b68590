// The escape under way in a decoding layer (leak-view.ts): from an escape character on, bytes wait here until
// they decode (leak-escapes.ts) or prove to stand for themselves, each with the stream offsets it came from.
// The layer takes what is settled one step at a time (`next`).

import * as bytes from "./leak-bytes.js";
import * as escapes from "./leak-escapes.js";
import type { ViewState } from "./leak-state.js";

// Module-local copies of what hot code reads: V8 reads an imported binding from memory on every use.
const { CLS, ESCAPE, PLAIN } = bytes;
const { decodeEscape, INCOMPLETE, INVALID } = escapes;

/** Bytes an escape may take: \uD83D\uDE00 and &#x0010FFFF; are 12, with room for what ends them. */
export const MAX_ESCAPE = 16;

/** What `next` settled: nothing (more input needed, or nothing pending), a byte as itself, or an escape. */
export const WAIT = 0;
export const AS_IS = 1;
export const DECODED_ESCAPE = 2;

export class PendingEscape {
  readonly #mem: Float64Array;
  /** mem[#at, +MAX_ESCAPE): the bytes; then their starts, then their ends. */
  readonly #at: number;
  /** Bytes waiting (read it, do not set it). */
  size = 0;
  /** What `next` settled: the byte (AS_IS) and the stream offsets it stands for (DECODED: in DECODED). */
  byte = 0;
  start = 0;
  end = 0;

  constructor(mem: Float64Array, at: number) {
    this.#mem = mem;
    this.#at = at;
  }

  /** Where the first byte waiting came from (only while some is). */
  get from(): number {
    return this.#mem[this.#at + MAX_ESCAPE]!;
  }

  push(c: number, start: number, end: number): void {
    const at = this.#at + this.size;
    this.#mem[at] = c;
    this.#mem[at + MAX_ESCAPE] = start;
    this.#mem[at + 2 * MAX_ESCAPE] = end;
    this.size++;
  }

  /**
   * Settles the first bytes waiting: a byte that turned out to stand for itself (AS_IS: `byte`, `start`,
   * `end`), or an escape decoded (DECODED_ESCAPE: its bytes in DECODED, standing for [start, end)); a byte
   * dropped (whitespace) is passed over. WAIT when nothing is left, or (unless `final`: no more input) the
   * escape needs more bytes.
   */
  next(final: boolean): number {
    const m = this.#mem;
    const p = this.#at;
    while (this.size > 0) {
      const c = m[p]!;
      const k = CLS[c];
      if (k !== ESCAPE) {
        this.#asIs(c);
        if (k === PLAIN) return AS_IS;
        continue;
      }
      let used = decodeEscape(m, p, p + this.size);
      if (used === INCOMPLETE) {
        if (!final && this.size < MAX_ESCAPE) return WAIT;
        used = INVALID;
      }
      if (used === INVALID) {
        this.#asIs(c);
        return AS_IS;
      }
      this.start = m[p + MAX_ESCAPE]!;
      this.end = m[p + 2 * MAX_ESCAPE + used - 1]!;
      this.#shift(used);
      return DECODED_ESCAPE;
    }
    return WAIT;
  }

  reset(): void {
    this.size = 0;
  }

  copyFrom(o: PendingEscape): void {
    const m = this.#mem;
    const om = o.#mem;
    for (let k = 0; k < o.size; k++) {
      m[this.#at + k] = om[o.#at + k]!;
      m[this.#at + MAX_ESCAPE + k] = om[o.#at + MAX_ESCAPE + k]!;
      m[this.#at + 2 * MAX_ESCAPE + k] = om[o.#at + 2 * MAX_ESCAPE + k]!;
    }
    this.size = o.size;
  }

  /** The bytes into st.pending, their sources into st.sources from 0; returns where those end. */
  save(st: ViewState): number {
    const m = this.#mem;
    let s = 0;
    for (let k = 0; k < this.size; k++) {
      st.pending[k] = m[this.#at + k]!;
      st.sources[s++] = m[this.#at + MAX_ESCAPE + k]!;
      st.sources[s++] = m[this.#at + 2 * MAX_ESCAPE + k]!;
    }
    st.pn = this.size;
    return s;
  }

  load(st: ViewState): number {
    const m = this.#mem;
    let s = 0;
    for (let k = 0; k < st.pn; k++) {
      m[this.#at + k] = st.pending[k]!;
      m[this.#at + MAX_ESCAPE + k] = st.sources[s++]!;
      m[this.#at + 2 * MAX_ESCAPE + k] = st.sources[s++]!;
    }
    this.size = st.pn;
    return s;
  }

  /** The first byte, as itself. */
  #asIs(c: number): void {
    this.byte = c;
    this.start = this.#mem[this.#at + MAX_ESCAPE]!;
    this.end = this.#mem[this.#at + 2 * MAX_ESCAPE]!;
    this.#shift(1);
  }

  #shift(k: number): void {
    const m = this.#mem;
    const p = this.#at;
    const n = this.size - k;
    for (let q = 0; q < n; q++) {
      m[p + q] = m[p + q + k]!;
      m[p + MAX_ESCAPE + q] = m[p + MAX_ESCAPE + q + k]!;
      m[p + 2 * MAX_ESCAPE + q] = m[p + 2 * MAX_ESCAPE + q + k]!;
    }
    this.size = n;
  }
}
