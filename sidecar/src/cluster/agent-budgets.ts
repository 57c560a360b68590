import { agentSpent, NO_AGENT_USE, tooManyStatements, type AgentBudget, type AgentBudgetBook, type AgentLimits, type AgentRefusal, type AgentUse } from "../postgres/lifecycle/agent-budget.js";
import type { LeaseAnswer, LeaseRequest } from "./agent-budgets-primary.js";

type Kind = "rows" | "bytes" | "statements";
type Kinds = Record<Kind, number>;
const KINDS = ["rows", "bytes", "statements"] as const;
const LIMIT: Record<Kind, keyof AgentLimits> = { rows: "agent_rows_per_hour", bytes: "agent_bytes_per_hour", statements: "agent_statements_per_minute" };

/** How long a worker waits for the primary to answer a lease before it refuses (fail closed). */
export const LEASE_TIMEOUT_MS = 3_000;
/** After the primary failed to answer, statements are refused this long before it is asked again. */
const RETRY_AFTER_FAILURE_MS = 1_000;

/** A lease is a small part of the limit, so a lease held by one worker and unspent takes little from another. */
export const leaseSize = (limit: number): number => Math.max(1, Math.ceil(limit / 32));

const zero = (): Kinds => ({ rows: 0, bytes: 0, statements: 0 });
const sameLimits = (x: AgentLimits, y: AgentLimits): boolean => KINDS.every((k) => x[LIMIT[k]] === y[LIMIT[k]]);

/** One agent's leases in this worker, shared by its sessions here. */
class Leases {
  open = 0;
  readonly allowance = zero();
  /** Spent ahead of a lease: charged with the next request. */
  readonly credit = zero();
  /** A kind the primary had none left of: refused until this time. */
  readonly spentUntil = zero();
  used: AgentUse = NO_AGENT_USE;
  pending: Promise<void> | undefined;
  /** The last request failed (the primary did not answer): refuse until one succeeds. */
  failed: string | undefined;
  failedAt = 0;
  /** While rows that ran ahead are being charged (sessions read nothing more upstream meanwhile). */
  settling: Promise<void> | undefined;

  constructor(
    readonly subject: string,
    readonly limits: AgentLimits,
  ) {}
}

/**
 * workers > 1: the agent's counters are the primary's (agent-budgets-primary.ts); each worker spends leases
 * of them, so the row and statement paths stay synchronous. A lease is topped up when half spent; a reply
 * the lease does not cover waits for the top-up (hold(): the session handles it and what follows once the
 * primary has answered), so an agent gets its limit however many connections it streams on. What still goes
 * ahead on credit (what masking added to a row) is charged with the next request. A primary that does not answer refuses (fail closed): statements
 * with CLUSTER_UNAVAILABLE, a result past its lease is cut.
 */
export class ClusterAgentBudgets implements AgentBudgetBook {
  readonly #agents = new Map<string, Leases>();

  constructor(private readonly request: (req: LeaseRequest) => Promise<LeaseAnswer>) {}

  open(subject: string, limits: AgentLimits): AgentBudget {
    let a = this.#agents.get(subject);
    // Each session gets its own copy of the limits; other values (a config change) start a book of their own.
    if (!a || !sameLimits(a.limits, limits)) {
      if (a) this.#agents.delete(subject);
      this.#agents.set(subject, (a = new Leases(subject, limits)));
    }
    a.open++;
    return this.#handle(a);
  }

  #handle(a: Leases): AgentBudget {
    let released = false;
    // Until what ran ahead is charged and answered: the next read then meets what the primary has left.
    const settle = (): Promise<void> =>
      (a.settling ??= (async () => {
        while (a.pending || (a.credit.rows + a.credit.bytes > 0 && !a.failed)) await (a.pending ?? this.#topUp(a, 0));
      })().finally(() => {
        a.settling = undefined;
      }));
    return {
      get waiting() {
        // After the primary failed to answer there is nothing to wait for (rows past the lease are cut, #fits):
        // an already-settled promise per row would pause and resume the session for nothing.
        return a.credit.rows + a.credit.bytes > 0 && (a.pending || !a.failed) ? settle() : undefined;
      },
      ready: (n) => this.#ready(a, n),
      hold: (bytes, now) => this.#hold(a, bytes, now),
      admit: (n, now) => this.#admit(a, n, now),
      row: (bytes, now) => this.#row(a, bytes, now),
      used: () => a.used,
      release: () => {
        if (released) return;
        released = true;
        if (--a.open > 0) return;
        if (this.#agents.get(a.subject) === a) this.#agents.delete(a.subject);
        this.#giveBack(a);
      },
    };
  }

  /** The agent's last session here ended: give the unspent leases back and charge what ran ahead; nobody waits. */
  #giveBack(a: Leases): void {
    if (a.pending) return; // done once it is answered (#topUp), with what it grants
    const give = { ...a.allowance };
    const charge = { ...a.credit };
    if (give.rows + give.bytes + give.statements + charge.rows + charge.bytes === 0) return;
    a.allowance.rows = a.allowance.bytes = a.allowance.statements = 0;
    a.credit.rows = a.credit.bytes = a.credit.statements = 0;
    void this.#send(a, zero(), zero(), give, charge).catch(() => undefined);
  }

  /** Whether a statement lease must be asked for first; not again right after the primary failed to answer. */
  #short(a: Leases, n: number): boolean {
    const limit = a.limits.agent_statements_per_minute;
    const now = Date.now();
    if (a.failed && now - a.failedAt < RETRY_AFTER_FAILURE_MS) return false;
    return limit > 0 && n <= limit && a.allowance.statements < n && a.spentUntil.statements <= now;
  }

  /** The caller asks again once this settles (decide.ts): a request on its way may not ask for statements. */
  #ready(a: Leases, n: number): Promise<void> | undefined {
    return this.#short(a, n) ? this.#topUp(a, n) : undefined;
  }

  #admit(a: Leases, n: number, now: number): AgentRefusal | undefined {
    const limit = a.limits.agent_statements_per_minute;
    if (limit === 0) return undefined;
    if (n > limit) return tooManyStatements(limit, n);
    if (a.allowance.statements >= n) {
      a.allowance.statements -= n;
      this.#prefetch(a, now);
      return undefined;
    }
    if (a.spentUntil.statements > now) return { reason: `budget exceeded: ${agentSpent("agent_statements_per_minute", limit, a.spentUntil.statements - now)}`, error_code: "BUDGET_EXCEEDED" };
    return { reason: `agent budgets are kept by the cluster primary, which did not grant this statement in time${a.failed ? ` (${a.failed})` : ""}; retry`, error_code: "CLUSTER_UNAVAILABLE" };
  }

  /**
   * A reply the leases do not cover waits for the primary, rather than going ahead on credit: one socket read
   * carries thousands of narrow rows, and every connection of the agent would run one read ahead.
   */
  #hold(a: Leases, bytes: number, now: number): Promise<void> | undefined {
    if (!this.#lacks(a, "rows", 1, now) && !this.#lacks(a, "bytes", bytes, now)) return undefined;
    // The primary did not answer: row() cuts it, and asks again.
    if (a.failed && !a.pending) return undefined;
    return a.pending ?? this.#topUp(a, 0, bytes);
  }

  /** Whether spending `amount` of `kind` needs more than this worker holds, and the primary may still grant it. */
  #lacks(a: Leases, kind: Kind, amount: number, now: number): boolean {
    return a.limits[LIMIT[kind]] > 0 && a.allowance[kind] < amount && a.spentUntil[kind] <= now;
  }

  #row(a: Leases, bytes: number, now: number): string | undefined {
    const crossed = this.#fits(a, "rows", 1, now) ?? this.#fits(a, "bytes", bytes, now);
    if (crossed) return crossed;
    this.#spend(a, "rows", 1);
    this.#spend(a, "bytes", bytes);
    this.#prefetch(a, now);
    return undefined;
  }

  /** Why `amount` of `kind` may not be spent now, if it may not. */
  #fits(a: Leases, kind: Kind, amount: number, now: number): string | undefined {
    const limit = a.limits[LIMIT[kind]];
    if (limit === 0 || a.allowance[kind] >= amount) return undefined;
    if (a.spentUntil[kind] > now) return agentSpent(LIMIT[kind], limit, a.spentUntil[kind] - now);
    if (a.failed) {
      // Asked again, so the next statement finds out whether the primary is back.
      void this.#topUp(a, 0);
      return `${LIMIT[kind]} (${limit}, across all of this agent's connections), which could not be checked: ${a.failed}`;
    }
    // Ahead of the lease: on credit, with a top-up on its way (the session pauses for it: observe.ts).
    void this.#topUp(a, 0);
    return undefined;
  }

  #spend(a: Leases, kind: Kind, amount: number): void {
    if (a.limits[LIMIT[kind]] === 0) return;
    const own = Math.min(a.allowance[kind], amount);
    a.allowance[kind] -= own;
    a.credit[kind] += amount - own;
  }

  /** Asks for more before a lease runs out, so the hot path rarely finds it empty. */
  #prefetch(a: Leases, now: number): void {
    if (a.pending) return;
    for (const k of KINDS) {
      const limit = a.limits[LIMIT[k]];
      if (limit > 0 && a.allowance[k] * 2 < leaseSize(limit) && a.spentUntil[k] <= now) return void this.#topUp(a, 0);
    }
  }

  /**
   * One request at a time per agent; resolves (never rejects) once answered or failed. Sent once the
   * socket read being handled is done, so what ran ahead of the lease in it is charged before more is granted.
   */
  #topUp(a: Leases, statements: number, rowBytes = 0): Promise<void> {
    if (a.pending) return a.pending;
    a.pending = Promise.resolve()
      .then(() => this.#ask(a, statements, rowBytes))
      .finally(() => {
        a.pending = undefined;
        if (a.open === 0) return this.#giveBack(a);
        // What ran ahead meanwhile is charged now, and counted in what the agent has used.
        if (!a.failed && a.credit.rows + a.credit.bytes > 0) void this.#topUp(a, 0);
      });
    return a.pending;
  }

  /** `rowBytes`: a reply waits (#hold) that needs one row and this many bytes; a lease smaller than that row is not enough. */
  #ask(a: Leases, statements: number, rowBytes = 0): Promise<void> {
    const now = Date.now();
    const take = zero();
    const need = zero();
    for (const k of KINDS) {
      const limit = a.limits[LIMIT[k]];
      if (limit === 0 || a.spentUntil[k] > now) continue;
      const size = leaseSize(limit);
      const wanted = k === "statements" ? statements : k === "bytes" ? rowBytes : rowBytes > 0 ? 1 : 0;
      const want = Math.max(wanted - a.allowance[k], 0);
      if (a.allowance[k] * 2 < size || want > 0) take[k] = Math.max(size, want);
      need[k] = want;
    }
    const charge = { ...a.credit };
    a.credit.rows = a.credit.bytes = a.credit.statements = 0;
    return this.#send(a, take, need, zero(), charge).then(
      () => {
        a.failed = undefined;
      },
      (err: unknown) => {
        a.failed = err instanceof Error ? err.message : String(err);
        a.failedAt = Date.now();
        // Not charged: it is charged with the next request that gets through.
        for (const k of KINDS) a.credit[k] += charge[k];
      },
    );
  }

  async #send(a: Leases, take: Kinds, need: Kinds, give_back: Kinds, charge: Kinds): Promise<void> {
    const answer = await this.request({ subject: a.subject, limits: a.limits, charge, give_back, take, need });
    const now = Date.now();
    a.used = answer.used;
    for (const k of KINDS) {
      a.allowance[k] += answer.grant[k];
      // Beyond its lease, nothing is left until then: rows past it are cut, not run ahead on credit.
      a.spentUntil[k] = answer.refill_ms[k] > 0 ? now + answer.refill_ms[k] : 0;
    }
  }
}
