/** Expiry timers of the approvals this replica created (a postgres store also sweeps). */
export class ExpiryTimers {
  readonly #timers = new Map<string, NodeJS.Timeout>();

  /** Silence is never consent: `expire` ends the approval `id` after `ms`. */
  start(id: string, ms: number, expire: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(id);
      expire();
    }, ms);
    t.unref?.();
    this.#timers.set(id, t);
  }

  /** The approval ended some other way: its timer is not needed. */
  stop(id: string): void {
    const t = this.#timers.get(id);
    if (t) clearTimeout(t);
    this.#timers.delete(id);
  }

  stopAll(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
  }
}
