import { HOUR_MS, MINUTE_MS, SlidingCount } from "./sliding-count.js";

/** Limits on one agent (its subject) across all of its connections, on every worker; 0 means no limit. */
export interface AgentLimits {
  agent_rows_per_hour: number;
  agent_bytes_per_hour: number;
  agent_statements_per_minute: number;
}

/** What the agent has used of them, as `input.budget.used` shows it. */
export interface AgentUse {
  agent_rows_last_hour: number;
  agent_bytes_last_hour: number;
  agent_statements_last_minute: number;
}

export interface AgentRefusal {
  reason: string;
  error_code: "BUDGET_EXCEEDED" | "CLUSTER_UNAVAILABLE";
}

/** One session's handle on its agent's shared counters. Everything but ready() is synchronous. */
export interface AgentBudget {
  /** undefined when admit() can answer now; else what to wait for first (workers > 1: a lease on its way). */
  ready(statements: number): Promise<void> | undefined;
  /** Counts the statements of one message, or refuses them all (none is counted then). */
  admit(statements: number, now: number): AgentRefusal | undefined;
  /** Counts one forwarded row of `bytes`; returns the budget it would cross instead (it is not counted then). */
  row(bytes: number, now: number): string | undefined;
  /** Set while rows run ahead of a lease on its way: the session reads nothing more upstream until it settles. */
  readonly waiting: Promise<void> | undefined;
  /**
   * workers > 1: a promise when a counted reply of `bytes` is beyond what this worker holds of the agent's
   * budget and the primary has not said it is spent: the session handles it, and what follows, once that
   * settles (session.ts), so what an agent receives is what the primary granted, however many connections
   * it streams on. undefined: handle it now (row() counts or cuts it).
   */
  hold?(bytes: number, now: number): Promise<void> | undefined;
  used(now: number): AgentUse;
  /** The session ended. */
  release(): void;
}

/** Where sessions find their agent's counters: this process's (workers: 1) or the cluster primary's. */
export interface AgentBudgetBook {
  open(subject: string, limits: AgentLimits): AgentBudget;
}

export const agentLimited = (l: AgentLimits): boolean => l.agent_rows_per_hour + l.agent_bytes_per_hour + l.agent_statements_per_minute > 0;

export const NO_AGENT_USE: AgentUse = Object.freeze({ agent_rows_last_hour: 0, agent_bytes_last_hour: 0, agent_statements_last_minute: 0 });

/** One agent's windows: rows and bytes over a sliding hour, statements over a sliding minute. */
export class AgentWindows {
  readonly rows = new SlidingCount(HOUR_MS);
  readonly bytes = new SlidingCount(HOUR_MS);
  readonly statements = new SlidingCount(MINUTE_MS);

  used(now: number): AgentUse {
    return { agent_rows_last_hour: this.rows.total(now), agent_bytes_last_hour: this.bytes.total(now), agent_statements_last_minute: this.statements.total(now) };
  }

  empty(now: number): boolean {
    return this.rows.total(now) + this.bytes.total(now) + this.statements.total(now) <= 0;
  }
}

/** The budget text a cut or refusal names: which limit, that it spans the agent, and when it refills. */
export function agentSpent(name: keyof AgentLimits, limit: number, refillMs: number): string {
  return `${name} (${limit}, across all of this agent's connections); it refills in ${Math.max(1, Math.ceil(refillMs / 1000))}s`;
}

export function tooManyStatements(limit: number, n: number): AgentRefusal {
  return { reason: `budget exceeded: agent_statements_per_minute (${limit}); this message carries ${n} statements, more than a minute allows`, error_code: "BUDGET_EXCEEDED" };
}

const SWEEP_MS = MINUTE_MS;

/** workers: 1: the agents' windows live in this process; every session of a subject shares one. */
export class LocalAgentBudgets implements AgentBudgetBook {
  readonly #agents = new Map<string, { windows: AgentWindows; open: number }>();
  #sweptAt = 0;

  open(subject: string, limits: AgentLimits): AgentBudget {
    const now = Date.now();
    this.#sweep(now);
    let agent = this.#agents.get(subject);
    if (!agent) this.#agents.set(subject, (agent = { windows: new AgentWindows(), open: 0 }));
    agent.open++;
    let released = false;
    const w = agent.windows;
    const a = agent;
    return {
      waiting: undefined,
      ready: () => undefined,
      admit(statements, now) {
        const limit = limits.agent_statements_per_minute;
        if (limit === 0) return undefined;
        const n = Math.max(1, statements);
        if (n > limit) return tooManyStatements(limit, n);
        const over = w.statements.total(now) + n - limit;
        if (over > 0) return { reason: `budget exceeded: ${agentSpent("agent_statements_per_minute", limit, w.statements.refillMs(over, now))}`, error_code: "BUDGET_EXCEEDED" };
        w.statements.add(n, now);
        return undefined;
      },
      row(bytes, now) {
        const rows = limits.agent_rows_per_hour;
        if (rows > 0 && w.rows.total(now) + 1 > rows) return agentSpent("agent_rows_per_hour", rows, w.rows.refillMs(w.rows.total(now) + 1 - rows, now));
        const max = limits.agent_bytes_per_hour;
        if (max > 0 && w.bytes.total(now) + bytes > max) return agentSpent("agent_bytes_per_hour", max, w.bytes.refillMs(w.bytes.total(now) + bytes - max, now));
        w.rows.add(1, now);
        w.bytes.add(bytes, now);
        return undefined;
      },
      used: (now) => w.used(now),
      release() {
        if (released) return;
        released = true;
        a.open--;
      },
    };
  }

  /** Forgets agents with no session whose windows have emptied (nothing left to remember). */
  #sweep(now: number): void {
    if (now - this.#sweptAt < SWEEP_MS) return;
    this.#sweptAt = now;
    for (const [subject, a] of this.#agents) if (a.open === 0 && a.windows.empty(now)) this.#agents.delete(subject);
  }
}
