import type { Lock, LockStore } from "../locks/index.js";
import type { WorkerLink } from "./link.js";

/**
 * `incident.locks.store: memory` across workers: the primary holds the one list, every worker a copy.
 * A change goes to the primary, which applies it to every worker before `add`/`remove` resolve, so
 * once the admin API answers, no worker admits what the lock stops; each worker then ends its own
 * matching sessions (LockService's onAdded). A worker that (re)starts reads the list before it listens.
 */
export class ClusterLockStore implements LockStore {
  #locks: readonly Lock[] = [];
  readonly #listeners: ((locks: Lock[]) => void)[] = [];

  constructor(private readonly link: WorkerLink) {
    link.handle("locks.added", (body: { locks: Lock[] }) => this.#added(body.locks));
    link.handle("locks.removed", (body: { id: string }) => {
      this.#locks = this.#locks.filter((l) => l.id !== body.id);
      return true;
    });
  }

  async start(): Promise<this> {
    this.#locks = await this.link.request<Lock[]>("locks.snapshot");
    return this;
  }

  #added(locks: Lock[]): boolean {
    const fresh = locks.filter((l) => !this.#locks.some((h) => h.id === l.id));
    if (!fresh.length) return true;
    // Copy on write: readers on the decision path hold a stable array.
    this.#locks = [...this.#locks, ...fresh];
    for (const l of this.#listeners) l(fresh);
    return true;
  }

  snapshot(): readonly Lock[] {
    return this.#locks;
  }

  async add(lock: Lock): Promise<void> {
    await this.link.request("locks.add", { lock });
  }

  async remove(id: string): Promise<boolean> {
    return this.link.request<boolean>("locks.remove", { id });
  }

  onAdded(listener: (locks: Lock[]) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {}
}
