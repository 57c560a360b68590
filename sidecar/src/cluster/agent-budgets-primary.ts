import { AgentWindows, type AgentLimits, type AgentUse } from "../postgres/lifecycle/agent-budget.js";

type Kinds = { rows: number; bytes: number; statements: number };

/** A worker's `budget.lease`: what it spent beyond its leases, gives back, and asks for. */
export interface LeaseRequest {
  subject: string;
  limits: AgentLimits;
  /** Spent ahead of a lease (rows that arrived in the same socket read): counted whatever is left. */
  charge: Kinds;
  /** Leased and never spent (the agent's last session on that worker ended). */
  give_back: Kinds;
  /** How much it would like. */
  take: Kinds;
  /** The least that would do (a Query of n statements needs n): the refill time is until that much fits. */
  need: Kinds;
}

export interface LeaseAnswer {
  grant: Kinds;
  used: AgentUse;
  /** Per kind: 0, or how long until `need` fits again beyond what was granted (the worker's lease is all there is). */
  refill_ms: Kinds;
}

const LIMIT: Record<keyof Kinds, keyof AgentLimits> = { rows: "agent_rows_per_hour", bytes: "agent_bytes_per_hour", statements: "agent_statements_per_minute" };
const KINDS = ["rows", "bytes", "statements"] as const;
const SWEEP_MS = 60_000;

/**
 * The primary's book of agent budgets (workers > 1): one set of windows per subject for the whole
 * cluster. A lease is counted as used when granted, so what all workers spend together never passes
 * the limit by more than what ran ahead of a lease; what is given back unspent is taken off again.
 */
export class AgentBudgetsPrimary {
  readonly #agents = new Map<string, AgentWindows>();
  #sweptAt = 0;

  lease(req: LeaseRequest, now = Date.now()): LeaseAnswer {
    this.#sweep(now);
    let w = this.#agents.get(req.subject);
    if (!w) this.#agents.set(req.subject, (w = new AgentWindows()));
    const grant: Kinds = { rows: 0, bytes: 0, statements: 0 };
    const refill: Kinds = { rows: 0, bytes: 0, statements: 0 };
    for (const k of KINDS) {
      const window = w[k];
      if (req.give_back[k] > 0) window.remove(req.give_back[k], now);
      if (req.charge[k] > 0) window.add(req.charge[k], now);
      const limit = req.limits[LIMIT[k]];
      if (limit <= 0) continue;
      const left = Math.max(0, limit - window.total(now));
      grant[k] = Math.min(req.take[k], left);
      // A Query of n statements cannot run on fewer: none is granted then.
      if (grant[k] < req.need[k]) grant[k] = 0;
      if (grant[k] > 0) window.add(grant[k], now);
      // Nothing left beyond what the worker now holds, asked for or not: it must not run ahead of its lease.
      const need = Math.max(1, req.need[k]);
      if (window.total(now) + need > limit) refill[k] = window.refillMs(window.total(now) + need - limit, now);
    }
    return { grant, used: w.used(now), refill_ms: refill };
  }

  #sweep(now: number): void {
    if (now - this.#sweptAt < SWEEP_MS) return;
    this.#sweptAt = now;
    for (const [subject, w] of this.#agents) if (w.empty(now)) this.#agents.delete(subject);
  }
}
