import { RegateError } from "../errors.js";
import type { Lock, LockStore } from "../locks/index.js";
import type { WorkerLink } from "./link.js";

/**
 * `incident.locks.store: postgres` across workers. The table is the store, as for replicas; but the workers
 * are one regate behind one listener, so a lock must hold on every worker once the admin API answers, as it
 * does in one process (and as memory locks do, lock-store.ts). Other replicas learn of a lock by NOTIFY,
 * which a slow, stalled or reconnecting LISTEN connection delays: here the worker that stored it has the
 * primary give it to every worker (each adopts it into its copy of the table) before add() resolves.
 */
export class ClusterSharedLockStore implements LockStore {
  constructor(
    private readonly inner: LockStore & { adopt(lock: Lock): void },
    private readonly link: WorkerLink,
  ) {
    link.handle("locks.adopt", (body: { lock: Lock }) => (inner.adopt(body.lock), true));
  }

  snapshot(): readonly Lock[] {
    return this.inner.snapshot();
  }

  async add(lock: Lock): Promise<void> {
    await this.inner.add(lock);
    try {
      await this.link.request("locks.share", { lock });
    } catch (err) {
      // Stored, so it reaches every worker through NOTIFY; but the operator must not read "locked everywhere now".
      throw new RegateError("CLUSTER_UNAVAILABLE", `lock ${lock.id} is stored, but the other workers did not confirm it (${err instanceof Error ? err.message : String(err)}); they read it from the table shortly`, { cause: err });
    }
  }

  remove(id: string): Promise<boolean> {
    // A removal that reaches a worker late refuses a little longer: nothing runs that the lock stopped.
    return this.inner.remove(id);
  }

  onAdded(listener: (locks: Lock[]) => void): void {
    this.inner.onAdded(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
