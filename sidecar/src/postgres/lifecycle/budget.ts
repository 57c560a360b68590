/** Per-agent limits; 0 means no limit. */
export interface BudgetLimits {
  rows_per_statement: number;
  bytes_per_statement: number;
  rows_per_session: number;
  bytes_per_session: number;
  statements_per_minute: number;
}

/** What the policy sees as `input.budget`: the limits and what this session has used of them. */
export interface BudgetInput {
  limits: BudgetLimits;
  used: { session_rows: number; session_bytes: number; statements_last_minute: number };
}

const MINUTE_MS = 60_000;

/**
 * One session's use of its budgets. Rows and bytes are counted as they are forwarded; statements
 * per minute over a sliding window of decision times.
 */
export class BudgetTracker {
  #rows = 0;
  #bytes = 0;
  /** Decision times (ms) within the last minute, oldest first. */
  readonly #recent: number[] = [];

  constructor(readonly limits: BudgetLimits) {}

  get enabled(): boolean {
    const l = this.limits;
    return l.rows_per_statement + l.bytes_per_statement + l.rows_per_session + l.bytes_per_session + l.statements_per_minute > 0;
  }

  input(now = Date.now()): BudgetInput {
    this.#expire(now);
    return { limits: this.limits, used: { session_rows: this.#rows, session_bytes: this.#bytes, statements_last_minute: this.#recent.length } };
  }

  /**
   * Counts the `statements` of one message (a Query may carry many, and each runs); returns the refusal
   * when they do not all fit in what is left of the per-minute budget. None is counted then: none runs.
   */
  admit(now = Date.now(), statements = 1): string | undefined {
    const limit = this.limits.statements_per_minute;
    if (limit === 0) return undefined;
    this.#expire(now);
    const n = Math.max(1, statements);
    if (this.#recent.length + n > limit) {
      if (n > limit) return `budget exceeded: statements_per_minute (${limit}); this message carries ${n} statements, more than a minute allows`;
      // The window must drop enough old entries for all n to fit: the refill is when the last of those expires.
      const freeing = this.#recent[Math.min(this.#recent.length - 1, this.#recent.length + n - limit - 1)]!;
      const refill = Math.max(1, Math.ceil((freeing + MINUTE_MS - now) / 1000));
      return `budget exceeded: statements_per_minute (${limit}); it refills in ${refill}s`;
    }
    for (let i = 0; i < n; i++) this.#recent.push(now);
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
    return undefined;
  }

  #expire(now: number): void {
    while (this.#recent.length > 0 && this.#recent[0]! <= now - MINUTE_MS) this.#recent.shift();
  }
}

export const NO_LIMITS: BudgetLimits = Object.freeze({ rows_per_statement: 0, bytes_per_statement: 0, rows_per_session: 0, bytes_per_session: 0, statements_per_minute: 0 });
