// What the parts of a decoding layer (leak-view.ts: the escape under way, the text and hex searches) share:
// where what they find goes, the record a layer's state is kept in while it is not being fed, and the memory
// block they live in.

/** Where a layer's bytes came from and where what it finds goes. */
export interface ViewSink {
  /** Overwrites the original bytes [start, end) (offsets in the whole stream) of a form found. */
  overwrite(start: number, end: number): void;
}

/** A layer's state, kept apart while it is not being fed (a JSON path's text between two of its values). */
export interface ViewState {
  text: number;
  hex: number;
  zero: boolean;
  zeroStart: number;
  zeroEnd: number;
  /** The bytes of an unfinished escape: `pending[0, pn)`. */
  pn: number;
  pending: number[];
  /**
   * `sources[0, 2 * sn)`: start and end of each pending byte, then of each byte of the text candidate, then of
   * the hex one. (The arrays are reused from save to save: only counted entries are meaningful.)
   */
  sn: number;
  sources: number[];
  /** Where this state holds bytes back from under the joined-piece thresholds (see LeakGuard). */
  holdFrom: number;
}

export function emptyState(): ViewState {
  return { text: 0, hex: 0, zero: false, zeroStart: 0, zeroEnd: 0, pn: 0, pending: [], sn: 0, sources: [], holdFrom: Infinity };
}

/**
 * Memory blocks of layers whose guard has ended, by length, for the next guard: a response's layers would
 * otherwise cost more to allocate and collect than to run over a small body.
 */
const POOL = new Map<number, Float64Array[]>();
const POOLED_PER_SIZE = 64;

export function takeBlock(length: number): Float64Array {
  return POOL.get(length)?.pop() ?? new Float64Array(length);
}

/** `mem` is not used again by whoever took it. */
export function giveBlock(mem: Float64Array): void {
  let free = POOL.get(mem.length);
  if (!free) POOL.set(mem.length, (free = []));
  if (free.length < POOLED_PER_SIZE) free.push(mem);
}
