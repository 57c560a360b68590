/**
 * A count over a sliding window, kept in equal buckets: what was added more than a window ago no longer
 * counts. Buckets, not one timestamp per unit, because an hour of rows can be millions; the window is
 * therefore between (slots - 1) / slots and one whole window long.
 */
export class SlidingCount {
  readonly #counts: Float64Array;
  readonly #slotMs: number;
  /** Absolute index (time / slotMs) of the newest bucket. */
  #slot = -1;
  #total = 0;

  constructor(
    readonly windowMs: number,
    slots = 60,
  ) {
    this.#counts = new Float64Array(slots);
    this.#slotMs = windowMs / slots;
  }

  #advance(now: number): void {
    const cur = Math.floor(now / this.#slotMs);
    // A clock that went back keeps the newest bucket: nothing expires early.
    if (cur <= this.#slot) return;
    const n = this.#counts.length;
    if (this.#slot < 0 || cur - this.#slot >= n) {
      this.#counts.fill(0);
      this.#total = 0;
    } else {
      for (let i = this.#slot + 1; i <= cur; i++) {
        const k = i % n;
        this.#total -= this.#counts[k]!;
        this.#counts[k] = 0;
      }
    }
    this.#slot = cur;
  }

  total(now: number): number {
    this.#advance(now);
    return this.#total;
  }

  add(amount: number, now: number): void {
    this.#advance(now);
    this.#counts[this.#slot % this.#counts.length]! += amount;
    this.#total += amount;
  }

  /** Takes back up to `amount` from the newest buckets (a lease given back unspent). */
  remove(amount: number, now: number): void {
    this.#advance(now);
    const n = this.#counts.length;
    for (let i = this.#slot; i > this.#slot - n && amount > 0; i--) {
      const k = ((i % n) + n) % n;
      const take = Math.min(amount, this.#counts[k]!);
      this.#counts[k] = this.#counts[k]! - take;
      this.#total -= take;
      amount -= take;
    }
  }

  /** Milliseconds until at least `free` of what is counted now has left the window (0 if it already fits). */
  refillMs(free: number, now: number): number {
    this.#advance(now);
    if (free <= 0) return 0;
    const n = this.#counts.length;
    let freed = 0;
    for (let i = this.#slot - n + 1; i <= this.#slot; i++) {
      freed += this.#counts[((i % n) + n) % n]!;
      // Bucket i leaves the window when the newest bucket is i + n.
      if (freed >= free) return Math.max(0, (i + n) * this.#slotMs - now);
    }
    return this.windowMs;
  }

  get empty(): boolean {
    return this.#total <= 0;
  }
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
