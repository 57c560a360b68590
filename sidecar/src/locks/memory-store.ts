import type { Lock, LockStore } from "./types.js";

/** Locks of this process only: the default, and what a single replica needs. */
export class MemoryLockStore implements LockStore {
  #locks: readonly Lock[] = [];
  readonly #listeners: ((locks: Lock[]) => void)[] = [];

  snapshot(): readonly Lock[] {
    return this.#locks;
  }

  async add(lock: Lock): Promise<void> {
    // Copy on write: readers on the decision path hold a stable array.
    this.#locks = [...this.#locks, lock];
    for (const l of this.#listeners) l([lock]);
  }

  async remove(id: string): Promise<boolean> {
    const before = this.#locks.length;
    this.#locks = this.#locks.filter((l) => l.id !== id);
    return this.#locks.length !== before;
  }

  onAdded(listener: (locks: Lock[]) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {}
}
