// A join of JSON values by where they sit (leak-json.ts names the place: a path, or a depth and key name): the
// text of the last value at each place, as far as it could start a form, waits for the next value there. Only
// places whose last value could start a form are remembered, each as a small record (ViewState).

import { fastBytes } from "./leak-bytes.js";
import { decide } from "./leak-carry.js";
import type { Needles } from "./leak-match.js";
import { ViewLayer, type ViewSink, type ViewState } from "./leak-view.js";

/**
 * Places remembered at most (about 200 bytes each). Past this the one remembered longest is forgotten; a
 * candidate it held back is overwritten first, so a body cannot flood places to get one let go whole. A
 * shorter one is lost: a form cut across more than this many other places with a tail that could start it
 * is missed.
 */
const MAX_PLACES = 1024;

/**
 * Slots of the filter in front of the places, made once more than FILTER_FROM places are remembered (a small
 * response does not pay for it): how many remembered places have a hash ending in each slot's bits. A value
 * whose slot is empty has no state, without a Map lookup.
 */
const FILTER_SLOTS = 256;
const FILTER_FROM = 16;

export class PathJoin {
  readonly #states = new Map<number, ViewState>();
  /** See FILTER_SLOTS. */
  #filter: Uint16Array | undefined;
  /** States in #states that hold bytes back (holdFrom finite). */
  #holding = 0;
  /** Reads the value under way from its place's state, until that state is settled. */
  #scratch: ViewLayer | undefined;
  /**
   * The place's state while it is a text candidate alone, not yet loaded into #scratch: the value's first byte
   * nearly always ends it (see decide, leak-carry.ts), and then it never is.
   */
  #unloaded: ViewState | undefined;
  readonly #fast: Uint8Array;
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
    this.#fast = fastBytes(needles);
    this.#sink = sink;
    this.#scrub = scrub;
    this.#minText = minText;
    this.#minHex = minHex;
  }

  /** Whether `place` may have a state (false: it has none). */
  mayHold(place: number): boolean {
    if (this.#filter === undefined) return this.#states.size > 0;
    return this.#filter[place & (FILTER_SLOTS - 1)] !== 0;
  }

  /** A value starts at `place`. */
  start(place: number): void {
    this.#place = place;
    this.#active = true;
    const st = this.mayHold(place) ? this.#states.get(place) : undefined;
    this.#old = st;
    this.#reading = st !== undefined;
    if (!st) return;
    this.#unloaded = st;
    if (st.pn !== 0 || st.hex !== 0 || st.zero) this.#load();
  }

  /** The value under way is read byte by byte (its place's state may run on into it). */
  get reading(): boolean {
    return this.#reading;
  }

  /** Original bytes of the value under way; clean right at its last byte, it reads no more of it. */
  read(buf: Uint8Array, i: number, k: number, base: number): void {
    if (!this.#reading) return;
    const st = this.#unloaded;
    if (st) {
      const settled = this.#scratch === undefined || this.#scratch.settled;
      const r = decide(this.#needles.text, this.#fast, buf, i, k, st.text, settled);
      if (r < 0) {
        this.#unloaded = undefined;
        this.#reading = false;
        return;
      }
      if (r >= k) return;
      this.#load();
      i = r;
    }
    const scratch = this.#scratch!;
    if (scratch.feedUntilClean(buf, i, k, base) < k || scratch.clean) this.#reading = false;
  }

  /**
   * The value ended. Unless the place's own state still reads it, the value is contiguous in `main` (a first
   * layer that read everything) and what main read stands for what the place would have read.
   */
  end(main: ViewLayer): void {
    if (!this.#active) return;
    this.#active = false;
    if (this.#unloaded) this.#load();
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
    if (this.#filter) this.#filter[this.#place & (FILTER_SLOTS - 1)]!++;
    else if (this.#states.size > FILTER_FROM) {
      this.#filter = new Uint16Array(FILTER_SLOTS);
      for (const p of this.#states.keys()) this.#filter[p & (FILTER_SLOTS - 1)]!++;
    }
    if (this.#states.size > MAX_PLACES) this.#evict(this.#states.keys().next().value!);
  }

  /** The join is not used again (see ViewLayer.release). */
  release(): void {
    this.#scratch?.release();
  }

  holdFrom(): number {
    if (this.#unloaded) this.#load();
    let at = this.#reading ? this.#scratch!.holdFrom(this.#minText, this.#minHex) : Infinity;
    if (this.#holding > 0) for (const st of this.#states.values()) at = Math.min(at, st.holdFrom);
    return at;
  }

  /** Candidates that started before `before`, about to go out under LeakGuard's bound: overwritten now. */
  scrubBefore(before: number): void {
    if (this.#unloaded) this.#load();
    if (this.#reading) this.#scratch!.scrubCandidates(this.#minText, this.#minHex, before);
    if (this.#holding === 0) return;
    for (const st of this.#states.values()) if (st.holdFrom < before) this.#scrubState(st);
  }

  #load(): void {
    (this.#scratch ??= new ViewLayer(this.#needles, this.#sink, 1)).load(this.#unloaded!);
    this.#unloaded = undefined;
  }

  #scrubState(st: ViewState): void {
    for (let s = 0; s < 2 * st.sn; s += 2) this.#scrub(st.sources[s]!, st.sources[s + 1]!);
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
    if (this.#filter) this.#filter[place & (FILTER_SLOTS - 1)]!--;
  }
}
