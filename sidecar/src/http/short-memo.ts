// A bounded memo of a pure function of a short text: what a gateway works out from a request's path
// again and again (agents call the same endpoints in loops) is worked out once per distinct path.

/**
 * Results of `fn` for texts up to `maxChars` long, at most `maxEntries` of them; when full it starts
 * over (no order to keep per hit). Longer texts are computed every time, so the memo holds at most
 * maxChars × maxEntries characters of keys. `fn` must be pure and its results must not be changed by
 * callers (they are shared): the memo freezes plain-object results to make that hold.
 */
export class ShortMemo<T> {
  readonly #map = new Map<string, T>();
  readonly #fn: (text: string) => T;
  readonly #maxChars: number;
  readonly #maxEntries: number;

  constructor(fn: (text: string) => T, maxChars = 256, maxEntries = 1024) {
    this.#fn = fn;
    this.#maxChars = maxChars;
    this.#maxEntries = maxEntries;
  }

  get(text: string): T {
    if (text.length > this.#maxChars) return this.#fn(text);
    let v = this.#map.get(text);
    if (v === undefined) {
      v = this.#fn(text);
      if (this.#map.size >= this.#maxEntries) this.#map.clear();
      this.#map.set(text, deepFreeze(v));
    }
    return v;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
