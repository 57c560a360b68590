import { timingSafeEqual } from "node:crypto";

/** The server backend a client's cancel key stands for; `onCancel` answers whether the cancel is to reach it. */
export interface CancelTarget {
  pid: number;
  key: Buffer;
  onCancel?: () => boolean;
}

interface Entry {
  key: Buffer;
  upstream: CancelTarget;
}

/**
 * regate hands each agent its own BackendKeyData and keeps the upstream's to itself; a
 * CancelRequest is honoured only with the exact key regate issued.
 */
export class CancelRegistry {
  readonly #byPid = new Map<number, Entry>();

  register(pid: number, key: Buffer, upstream: CancelTarget): () => void {
    this.#byPid.set(pid, { key, upstream });
    return () => this.#byPid.delete(pid);
  }

  has(pid: number): boolean {
    return this.#byPid.has(pid);
  }

  lookup(pid: number, key: Buffer): CancelTarget | undefined {
    const e = this.#byPid.get(pid);
    if (!e || e.key.length !== key.length || !timingSafeEqual(e.key, key)) return undefined;
    return e.upstream;
  }
}
