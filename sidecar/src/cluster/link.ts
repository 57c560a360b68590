import { CALL_TIMEOUT_MS, isOurs, type PrimaryOp, type ToPrimary, type ToWorker, type WorkerOp } from "./messages.js";

type Handler = (body: any) => Promise<unknown> | unknown;

/** A worker's end of the IPC channel: asks the primary, and answers what the primary asks. */
export class WorkerLink {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #handlers = new Map<WorkerOp, Handler>();

  constructor(readonly slot: number) {
    process.on("message", (m: unknown) => {
      if (isOurs<ToWorker>(m)) this.#receive(m);
    });
  }

  #send(m: ToPrimary): void {
    // A worker whose primary is gone exits on "disconnect" (cli/run.ts); until then sends are dropped.
    if (process.connected) process.send!(m);
  }

  ready(): void {
    this.#send({ rg: 1, t: "ready", slot: this.slot });
  }

  request<T>(op: PrimaryOp, body: unknown = {}, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`the cluster primary did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#send({ rg: 1, t: "req", id, op, body });
    });
  }

  handle(op: WorkerOp, fn: Handler): void {
    this.#handlers.set(op, fn);
  }

  #receive(m: ToWorker): void {
    if (m.t === "res") {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.body);
      else p.reject(new Error(m.error ?? "cluster request failed"));
      return;
    }
    const fn = this.#handlers.get(m.op);
    if (!fn) {
      // Still starting: the primary counts this worker as unanswered.
      this.#send({ rg: 1, t: "reply", id: m.id, ok: false, error: `worker ${this.slot} is not ready for ${m.op}` });
      return;
    }
    Promise.resolve()
      .then(() => fn(m.body))
      .then(
        (body) => this.#send({ rg: 1, t: "reply", id: m.id, ok: true, body }),
        (err: unknown) => this.#send({ rg: 1, t: "reply", id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
  }
}
