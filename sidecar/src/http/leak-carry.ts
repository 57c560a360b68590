// A text candidate a join carries into the next JSON piece, kept as a few numbers instead of a copy of the
// view it came from. Nearly always the piece's first byte ends it (a value that ends in a byte that could
// start the credential, followed by one that cannot go on with it): then the join is left as it was, clean,
// and no view was copied or fed. Otherwise the join is given the candidate, exactly as copying the view would
// have given it, and reads on as it would have.

import { fastBytes } from "./leak-bytes.js";
import type { Automaton, Needles } from "./leak-match.js";
import * as text from "./leak-text.js";
import { ViewLayer, type ViewSink } from "./leak-view.js";

// Module-local copies of what hot code reads: V8 reads an imported binding from memory on every use.
const { DROPPED, INLINE } = text;

export class Carry {
  readonly #forms: Automaton;
  readonly #fast: Uint8Array;
  /** The text search's state for the candidate (0: none carried), and its bytes as [byte, start, end]. */
  #state = 0;
  readonly #bytes: number[] = [];

  constructor(needles: Needles) {
    this.#forms = needles.text;
    this.#fast = fastBytes(needles);
  }

  get live(): boolean {
    return this.#state !== 0;
  }

  /**
   * Takes over the text candidate `from` holds when that is all it holds and it is shorter than `max` (a
   * longer one may have to be held back: the view holds it). False when not: the caller copies the view.
   */
  take(from: ViewLayer, max: number): boolean {
    const state = from.snapshotText(this.#bytes);
    if (state <= 0 || this.#forms.depth[state]! >= max) return false;
    this.#state = state;
    return true;
  }

  drop(): void {
    this.#state = 0;
  }

  /** Gives the candidate to `join`, as copying the view it came from would have (and carries nothing more). */
  give(join: ViewLayer): void {
    join.copyText(this.#state, this.#bytes);
    this.#state = 0;
  }

  /** The join reads buf[i, k): see `decide`; the candidate is no longer carried once it ended. */
  read(buf: Uint8Array, i: number, k: number, settled: boolean): number {
    const r = decide(this.#forms, this.#fast, buf, i, k, this.#state, settled);
    if (r >= 0) return r;
    this.#state = 0;
    return ~r;
  }
}

/**
 * For a join that holds text candidate `state` and nothing else, about to read buf[i, k): whitespace is passed
 * (a view drops it). At the first other byte: if the join is `settled` (it would read a plain byte through
 * its text search alone) and the byte stands for itself and ends the candidate, the join would be clean again
 * past it: returns ~(the index past it). Else the index of that byte, unread: the join must be given its
 * state and read from there. `k` when only whitespace came.
 */
export function decide(forms: Automaton, fast: Uint8Array, buf: Uint8Array, i: number, k: number, state: number, settled: boolean): number {
  for (; i < k; i++) {
    const c = buf[i]!;
    const f = fast[c]!;
    if ((f & DROPPED) !== 0) continue;
    if (settled && (f & INLINE) !== 0 && forms.step(state, c) === 0) return ~(i + 1);
    return i;
  }
  return k;
}

/**
 * A join that reads the pieces of a JSON document in order (every string and number, or the values alone): a
 * view of its own while it holds something, or a carried candidate, or nothing. Made views are kept for the
 * next carry; a join that never carried anything beyond a first byte never makes one.
 */
export class PieceJoin {
  readonly #needles: Needles;
  readonly #sink: ViewSink;
  readonly #minText: number;
  readonly #minHex: number;
  readonly #carry: Carry;
  #view: ViewLayer | undefined;

  /** `minText`/`minHex`: how long a candidate must be to be held back (see LeakGuard). */
  constructor(needles: Needles, sink: ViewSink, minText: number, minHex: number) {
    this.#needles = needles;
    this.#sink = sink;
    this.#minText = minText;
    this.#minHex = minHex;
    this.#carry = new Carry(needles);
  }

  /** What it read so far could run on into the next piece: it reads that piece (`read`) until settled. */
  get holding(): boolean {
    return this.#carry.live || (this.#view !== undefined && !this.#view.clean);
  }

  /** Reads buf[i, k) of the piece under way; false once settled (it need read no more of the piece). */
  read(buf: Uint8Array, i: number, k: number, base: number): boolean {
    const carry = this.#carry;
    if (carry.live) {
      const j = carry.read(buf, i, k, this.#view === undefined || this.#view.settled);
      if (!carry.live) return false;
      if (j >= k) return true;
      carry.give((this.#view ??= new ViewLayer(this.#needles, this.#sink)));
      i = j;
    }
    // Clean right at the piece's last byte is settled too: it takes over what the first view read there.
    const view = this.#view!;
    return view.feedUntilClean(buf, i, k, base) >= k && !view.clean;
  }

  /**
   * A piece it did not read to the end (or whose end it did not need) ended: it takes over what the first
   * view read, which is contiguous there (`clean`: main.clean).
   */
  takeOver(main: ViewLayer, clean: boolean): void {
    if (clean) {
      this.#carry.drop();
      this.#view?.reset();
    } else if (!this.#carry.take(main, this.#minText)) {
      this.#carry.drop();
      this.#view = main.carryInto(this.#view, false);
    }
  }

  holdFrom(): number {
    // A carried candidate is shorter than minText: nothing to hold back.
    return this.#view ? this.#view.holdFrom(this.#minText, this.#minHex) : Infinity;
  }

  scrubCandidates(before: number): void {
    this.#view?.scrubCandidates(this.#minText, this.#minHex, before);
  }

  end(): void {
    this.#view?.end();
  }

  release(): void {
    this.#view?.release();
  }
}
