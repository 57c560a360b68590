// A join of JSON values by where they sit (leak-json.ts names the place: a path, or a depth and key name): the
// text of the last value at each place, as far as it could start a form, waits for the next value there. Only
// places whose last value could start a form are remembered, each as a small record (ViewState).

import type { Needles } from "./leak-match.js";
import { ViewLayer, type ViewSink, type ViewState } from "./leak-view.js";

/**
 * Places remembered at most (about 200 bytes each). Past this the one remembered longest is forgotten; a
 * candidate it held back is overwritten first, so a body cannot flood places to get one let go whole. A
 * shorter one is lost: a form cut across more than this many other places with a tail that could start it
 * is missed.
 */
const MAX_PLACES = 1024;

export class PathJoin {
  readonly #states = new Map<number, ViewState>();
  /** States in #states that hold bytes back (holdFrom finite). */
  #holding = 0;
  /** Reads the value under way from its place's state, until that state is settled. */
  #scratch: ViewLayer | undefined;
  readonly #needles: Needles;
  readonly #sink: ViewSink;
  readonly #minText: number;
  readonly #minHex: number;
  readonly #scrub: (start: number, end: number) => void;
  #place = 0;
  /** The state of the place of the value under way, as it was when the value started. */
  #old: ViewState | undefined;
  #active = false;
  #reading = false;

  /**
   * `minText`/`minHex`: how much of a form a place must have seen before it holds bytes back (see
   * LeakGuard); `scrub` overwrites bytes without counting a find.
   */
  constructor(needles: Needles, sink: ViewSink, scrub: (start: number, end: number) => void, minText: number, minHex: number) {
    this.#needles = needles;
    this.#sink = sink;
    this.#scrub = scrub;
    this.#minText = minText;
    this.#minHex = minHex;
  }

  /** A value starts at `place`. */
  start(place: number): void {
    this.#place = place;
    this.#active = true;
    const st = this.#states.size > 0 ? this.#states.get(place) : undefined;
    this.#old = st;
    this.#reading = st !== undefined;
    if (st) (this.#scratch ??= new ViewLayer(this.#needles, this.#sink, 1)).load(st);
  }

  /** The value under way is read byte by byte (its place's state may run on into it). */
  get reading(): boolean {
    return this.#reading;
  }

  /** Original bytes of the value under way. */
  read(buf: Uint8Array, i: number, k: number, base: number): void {
    if (this.#reading && this.#scratch!.feedUntilClean(buf, i, k, base) < k) this.#reading = false;
  }

  /**
   * The value ended. Unless the place's own state still reads it, the value is contiguous in `main` (a first
   * layer that read everything) and what main read stands for what the place would have read.
   */
  end(main: ViewLayer): void {
    if (!this.#active) return;
    this.#active = false;
    const from = this.#reading ? this.#scratch! : main;
    this.#reading = false;
    const old = this.#old;
    this.#old = undefined;
    if (from.cleanHere) {
      if (old) this.#forget(this.#place);
      return;
    }
    if (old?.holdFrom !== undefined && old.holdFrom !== Infinity) this.#holding--;
    const st = from.save(this.#minText, this.#minHex, old);
    if (st.holdFrom !== Infinity) this.#holding++;
    if (old) return;
    this.#states.set(this.#place, st);
    if (this.#states.size > MAX_PLACES) this.#evict(this.#states.keys().next().value!);
  }

  /** The join is not used again (see ViewLayer.release). */
  release(): void {
    this.#scratch?.release();
  }

  holdFrom(): number {
    let at = this.#reading ? this.#scratch!.holdFrom(this.#minText, this.#minHex) : Infinity;
    if (this.#holding > 0) for (const st of this.#states.values()) at = Math.min(at, st.holdFrom);
    return at;
  }

  /** Candidates that started before `before`, about to go out under LeakGuard's bound: overwritten now. */
  scrubBefore(before: number): void {
    if (this.#reading) this.#scratch!.scrubCandidates(this.#minText, this.#minHex, before);
    if (this.#holding === 0) return;
    for (const st of this.#states.values()) if (st.holdFrom < before) this.#scrubState(st);
  }

  #scrubState(st: ViewState): void {
    for (let s = 0; s < st.sources.length; s += 2) this.#scrub(st.sources[s]!, st.sources[s + 1]!);
  }

  #evict(place: number): void {
    const st = this.#states.get(place)!;
    if (st.holdFrom !== Infinity) this.#scrubState(st);
    this.#forget(place);
  }

  #forget(place: number): void {
    const st = this.#states.get(place);
    if (!st) return;
    if (st.holdFrom !== Infinity) this.#holding--;
    this.#states.delete(place);
  }
}
