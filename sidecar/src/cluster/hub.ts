import type { Worker } from "node:cluster";
import { CALL_TIMEOUT_MS, type ToWorker, type WorkerOp } from "./messages.js";

interface Pending {
  slot: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** The primary's view of its workers by slot, and calls to them that a dead worker cannot leave hanging. */
export class Hub {
  readonly #bySlot = new Map<number, Worker>();
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  set(slot: number, w: Worker): void {
    this.#bySlot.set(slot, w);
  }

  /** The worker in `slot` exited: its calls fail now, not at their timeout. */
  gone(slot: number, w: Worker): void {
    if (this.#bySlot.get(slot) === w) this.#bySlot.delete(slot);
    for (const [id, p] of this.#pending) {
      if (p.slot !== slot) continue;
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new Error(`worker ${slot} exited`));
    }
  }

  get(slot: number): Worker | undefined {
    return this.#bySlot.get(slot);
  }

  slots(): number[] {
    return [...this.#bySlot.keys()].sort((a, b) => a - b);
  }

  send(w: Worker, m: ToWorker): void {
    if (w.isConnected()) w.send(m);
  }

  call<T>(slot: number, op: WorkerOp, body: unknown, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    const w = this.#bySlot.get(slot);
    if (!w || !w.isConnected()) return Promise.reject(new Error(`worker ${slot} is not running`));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`worker ${slot} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { slot, resolve: resolve as (v: unknown) => void, reject, timer });
      w.send({ rg: 1, t: "call", id, op, body } satisfies ToWorker);
    });
  }

  /** Asks every running worker; each answer or failure by slot. */
  async callAll<T>(op: WorkerOp, body: unknown = {}, timeoutMs = CALL_TIMEOUT_MS): Promise<{ slot: number; ok: boolean; body?: T; error?: string }[]> {
    // Sent to every worker before this returns: calls made one after the other arrive in that order.
    return Promise.all(
      this.slots().map((slot) =>
        this.call<T>(slot, op, body, timeoutMs).then(
          (b) => ({ slot, ok: true, body: b }),
          (err: Error) => ({ slot, ok: false, error: err.message }),
        ),
      ),
    );
  }

  /** A worker's `reply` to one of our calls. */
  replied(id: number, ok: boolean, body: unknown, error: string | undefined): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (ok) p.resolve(body);
    else p.reject(new Error(error ?? "worker call failed"));
  }
}
