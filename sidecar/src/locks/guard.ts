import type { DecideOptions, Decider, Decision, PolicyInput, Veto } from "../decision/index.js";
import type { LockService } from "./service.js";

/**
 * The decider adapters call, with locks in front: a statement or HTTP request of a locked agent is
 * refused with LOCKED. The policy still runs and the refusal is logged as the decision, as budgets
 * and other adapter vetoes are, so the decision log shows what the lock stopped.
 */
export class LockGuard implements Decider {
  constructor(
    private readonly inner: Decider,
    private readonly locks: LockService,
  ) {}

  decide(input: PolicyInput, options?: DecideOptions): Decision {
    this.locks.remember(input.session.principal);
    const lock = this.locks.find(input.session.principal, input.session.id);
    if (!lock) return this.inner.decide(input, options);
    const refusal: Veto = { reason: this.locks.refusal(lock).message.replace(/^regate: /, ""), error_code: "LOCKED" };
    return this.inner.decide(input, { ...options, veto: () => refusal });
  }

  congested(): boolean {
    return this.inner.congested?.() ?? false;
  }
}
