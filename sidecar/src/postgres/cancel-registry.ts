import { timingSafeEqual } from "node:crypto";

interface Entry {
  key: Buffer;
  upstream: { pid: number; key: Buffer; onCancel?: () => boolean };
}

/**
 * regate hands each agent its own BackendKeyData and keeps the upstream's to itself; a
 * CancelRequest is honoured only with the exact key regate issued.
 */
export class CancelRegistry {
  readonly #byPid = new Map<number, Entry>();

  register(pid: number, key: Buffer, upstream: { pid: number; key: Buffer; onCancel?: () => boolean }): () => void {
    this.#byPid.set(pid, { key, upstream });
    return () => this.#byPid.delete(pid);
  }

  has(pid: number): boolean {
    return this.#byPid.has(pid);
  }

  lookup(pid: number, key: Buffer): { pid: number; key: Buffer; onCancel?: () => boolean } | undefined {
    const e = this.#byPid.get(pid);
    if (!e || e.key.length !== key.length || !timingSafeEqual(e.key, key)) return undefined;
    return e.upstream;
  }
}
