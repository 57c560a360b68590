import type { Decision } from "../decision/index.js";
import type { ApprovalSubject, HoldControl } from "./options.js";
import type { Approval } from "./types.js";

/** A client of this replica held for an approval. */
export interface Waiter {
  subject: ApprovalSubject;
  decision: Decision;
  resolve(d: Decision): void;
  timer?: NodeJS.Timeout;
}

/** What the service does when a hold ends before its approval does. */
export interface HoldEnds {
  /** The hold was as long as the approval's remaining life: the approval expires. */
  expire(): void;
  /** The hold reached its maximum: the client is answered, the approval stays pending for a re-run. */
  release(w: Waiter): void;
  /** The client (or the adapter, for an operator) withdrew; `by` says who. */
  withdraw(by: string): void;
}

/**
 * The clients this replica holds, at most one per approval. Only the bookkeeping lives here; what ending a
 * hold means (a store transition, an event) is the service's, through {@link HoldEnds}.
 */
export class HeldClients {
  readonly #waiters = new Map<string, Waiter>();

  has(id: string): boolean {
    return this.#waiters.has(id);
  }

  get(id: string): Waiter | undefined {
    return this.#waiters.get(id);
  }

  /** Is `w` still the client held for `id` (not answered, nor replaced)? */
  holds(id: string, w: Waiter): boolean {
    return this.#waiters.get(id) === w;
  }

  ids(): string[] {
    return [...this.#waiters.keys()];
  }

  /** Registers this replica's client as waiting for `a`; resolves with what to enforce. */
  add(a: Approval, subject: ApprovalSubject, decision: Decision, control: HoldControl, holdSeconds: number, ends: HoldEnds): Promise<Decision> {
    return new Promise<Decision>((resolve) => {
      const w: Waiter = { subject, decision, resolve };
      // The hold's maximum: the client is answered, the approval stays pending for a re-run (unless it
      // ended meanwhile: the store says so when it is released).
      // A hold as long as the approval's remaining life ends with its expiry, not a "still pending".
      const lifeMs = Date.parse(a.expires_at) - Date.now();
      w.timer = setTimeout(() => (holdSeconds * 1000 >= lifeMs ? ends.expire() : ends.release(w)), holdSeconds * 1000);
      this.#waiters.set(a.id, w);
      // Who withdrew it: the adapter may abort with a reason (an operator ending the session); else the client.
      const by = () => (typeof control.signal.reason === "string" ? control.signal.reason : "client");
      control.signal.addEventListener("abort", () => this.#waiters.get(a.id) === w && ends.withdraw(by()), { once: true });
    });
  }

  /** Stops holding `w` for `id` (it is answered by the caller); a no-op if `w` is no longer held. */
  remove(id: string, w: Waiter | undefined): void {
    if (!w || this.#waiters.get(id) !== w) return;
    clearTimeout(w.timer);
    this.#waiters.delete(id);
  }
}
