import { NO_AGENT_USE, type AgentBudget, type AgentLimits, type AgentRefusal, type AgentUse } from "./agent-budget.js";

/** Per-agent limits; 0 means no limit. The agent_ ones span all of the agent's connections (agent-budget.ts). */
export interface BudgetLimits extends AgentLimits {
  rows_per_statement: number;
  bytes_per_statement: number;
  rows_per_session: number;
  bytes_per_session: number;
  statements_per_minute: number;
  rows_changed_per_transaction: number;
}

/** What the policy sees as `input.budget`: the limits, what this session has used of them, and what the agent has. */
export interface BudgetInput {
  limits: BudgetLimits;
  used: { session_rows: number; session_bytes: number; statements_last_minute: number } & AgentUse;
}

const MINUTE_MS = 60_000;

/**
 * One session's use of its budgets. Rows and bytes are counted as they are forwarded; statements
 * per minute over a sliding window of decision times. The agent-wide ones are counted by `agent`,
 * shared with the agent's other sessions.
 */
export class BudgetTracker {
  #rows = 0;
  #bytes = 0;
  /** Decision times (ms) within the last minute, oldest first. */
  readonly #recent: number[] = [];

  constructor(
    readonly limits: BudgetLimits,
    readonly agent?: AgentBudget,
  ) {}

  get enabled(): boolean {
    const l = this.limits;
    return l.statements_per_minute + l.agent_statements_per_minute + l.rows_changed_per_transaction > 0 || this.rowsBudgeted;
  }

  /** Whether the rows a transaction changes are bounded (counted by the server after each group: transaction.ts). */
  get changesBudgeted(): boolean {
    return this.limits.rows_changed_per_transaction > 0;
  }

  /** Whether any row or byte limit is set (a result can then be cut mid-stream: transaction.ts). */
  get rowsBudgeted(): boolean {
    const l = this.limits;
    return l.rows_per_statement + l.bytes_per_statement + l.rows_per_session + l.bytes_per_session + l.agent_rows_per_hour + l.agent_bytes_per_hour > 0;
  }

  input(now = Date.now()): BudgetInput {
    this.#expire(now);
    return { limits: this.limits, used: { session_rows: this.#rows, session_bytes: this.#bytes, statements_last_minute: this.#recent.length, ...(this.agent ? this.agent.used(now) : NO_AGENT_USE) } };
  }

  /** undefined when admit() can answer now; else a promise to wait for first (an agent lease on its way). */
  ready(statements = 1): Promise<void> | undefined {
    return this.agent?.ready(Math.max(1, statements));
  }

  /**
   * Counts the `statements` of one message (a Query may carry many, and each runs); returns the refusal
   * when they do not all fit in what is left of the per-minute budgets, this session's or the agent's.
   * None is counted then: none runs.
   */
  admit(now = Date.now(), statements = 1): AgentRefusal | undefined {
    const limit = this.limits.statements_per_minute;
    const n = Math.max(1, statements);
    if (limit > 0) {
      this.#expire(now);
      if (this.#recent.length + n > limit) {
        if (n > limit) return { reason: `budget exceeded: statements_per_minute (${limit}); this message carries ${n} statements, more than a minute allows`, error_code: "BUDGET_EXCEEDED" };
        // The window must drop enough old entries for all n to fit: the refill is when the last of those expires.
        const freeing = this.#recent[Math.min(this.#recent.length - 1, this.#recent.length + n - limit - 1)]!;
        const refill = Math.max(1, Math.ceil((freeing + MINUTE_MS - now) / 1000));
        return { reason: `budget exceeded: statements_per_minute (${limit}); it refills in ${refill}s`, error_code: "BUDGET_EXCEEDED" };
      }
    }
    const agent = this.agent?.admit(n, now);
    if (agent) return agent;
    if (limit > 0) for (let i = 0; i < n; i++) this.#recent.push(now);
    return undefined;
  }

  /**
   * Counts one forwarded row of `bytes` for a statement that has so far returned `statementRows` rows
   * and `statementBytes` bytes (this row included); returns the budget it crossed, if any.
   */
  row(bytes: number, statementRows: number, statementBytes: number): string | undefined {
    this.#rows++;
    this.#bytes += bytes;
    const l = this.limits;
    if (l.rows_per_statement > 0 && statementRows > l.rows_per_statement) return `rows_per_statement (${l.rows_per_statement})`;
    if (l.bytes_per_statement > 0 && statementBytes > l.bytes_per_statement) return `bytes_per_statement (${l.bytes_per_statement})`;
    if (l.rows_per_session > 0 && this.#rows > l.rows_per_session) return `rows_per_session (${l.rows_per_session})`;
    if (l.bytes_per_session > 0 && this.#bytes > l.bytes_per_session) return `bytes_per_session (${l.bytes_per_session})`;
    return this.agent?.row(bytes, Date.now());
  }

  #expire(now: number): void {
    while (this.#recent.length > 0 && this.#recent[0]! <= now - MINUTE_MS) this.#recent.shift();
  }
}

export const NO_LIMITS: BudgetLimits = Object.freeze({
  rows_per_statement: 0,
  bytes_per_statement: 0,
  rows_per_session: 0,
  bytes_per_session: 0,
  statements_per_minute: 0,
  agent_rows_per_hour: 0,
  agent_bytes_per_hour: 0,
  agent_statements_per_minute: 0,
  rows_changed_per_transaction: 0,
});
