import { randomBytes } from "node:crypto";
import { nextStep, type Principal } from "../decision/index.js";
import { RegateError } from "../errors.js";
import type { Logger } from "../log.js";
import { describeTarget, isLive, matches, sameName, tokenId, type Lock, type LockStore, type LockTarget } from "./types.js";

/** What a lock acts on when it is created: the live sessions and the held approvals of this process. */
export interface LockEnforcer {
  /** Live sessions of this process. */
  sessions(): { id: string; principal: Principal }[];
  /** Cancels what runs upstream, then ends the session with a FATAL giving `reason`. */
  endSession(id: string, reason: string, lock: Lock): Promise<boolean>;
  /** Withdraws the held approvals `select` picks; returns how many. */
  withdrawApprovals?(select: (a: { principal: string; session_id: string }) => boolean, by: string): number;
  /**
   * Ends the HTTP exchanges in flight of this process that the lock stops (refused if their response has
   * not started, cut if it has; the upstream aborted) and closes those agents' idle connections.
   */
  endExchanges?(lock: Lock): { requests: string[]; connections: number };
}

/** What one new lock ended in this process (metrics). */
export interface LockEnded {
  sessions: number;
  requests: number;
}

export interface NewLock {
  target: LockTarget;
  message: string;
  /** Seconds from now; absent: until removed. */
  ttl_seconds?: number;
}

/**
 * Locks stop an agent without a restart: a new lock ends the matching live sessions (FATAL naming its
 * message) and withdraws their held approvals; while it is live, new connections, statements and
 * HTTP requests that it matches are refused. Expiry and removal let the agent back in.
 */
export class LockService {
  readonly #store: LockStore;
  readonly #log: Logger;
  #enforcer: LockEnforcer | undefined;
  /** Told how many sessions and HTTP requests each new lock ended here (metrics). */
  onEnded: ((ended: LockEnded) => void) | undefined;
  /**
   * The groups and credential ids each agent has been seen with (every decision passes here): a held
   * approval records only the agent's subject, and a group or token lock must still withdraw it.
   */
  readonly #seen = new Map<string, { groups: Set<string>; tokens: Set<string> }>();
  readonly #remembered = new WeakSet<Principal>();

  constructor(store: LockStore, log: Logger) {
    this.#store = store;
    this.#log = log;
    // Locks made by another replica arrive here too: each process ends its own sessions.
    store.onAdded((locks) => {
      for (const lock of locks) if (isLive(lock)) void this.#enforce(lock);
    });
  }

  /** Wired once the listeners exist (app.ts): sessions and approvals live there. */
  attach(enforcer: LockEnforcer): void {
    this.#enforcer = enforcer;
  }

  list(now = Date.now()): Lock[] {
    return this.#store.snapshot().filter((l) => isLive(l, now));
  }

  /** The first live lock that stops this principal (or session); on every decision, so cheap when none. */
  find(principal: Principal, sessionId?: string, now?: number): Lock | undefined {
    const locks = this.#store.snapshot();
    if (locks.length === 0) return undefined;
    const at = now ?? Date.now();
    for (const l of locks) if (matches(l, principal, sessionId) && isLive(l, at)) return l;
    return undefined;
  }

  /** Notes the agent's groups and credential id, once per principal object (one per authentication). */
  remember(p: Principal): void {
    // A principal object is built once per authentication and never changed: seen once is enough.
    if (this.#remembered.has(p)) return;
    this.#remembered.add(p);
    let seen = this.#seen.get(p.subject);
    if (!seen) this.#seen.set(p.subject, (seen = { groups: new Set(), tokens: new Set() }));
    for (const g of p.groups) seen.groups.add(g);
    const token = tokenId(p);
    if (token !== undefined && !seen.tokens.has(token)) {
      seen.tokens.add(token);
      // JWT ids come and go: keep the recent ones.
      if (seen.tokens.size > 256) seen.tokens.delete(seen.tokens.values().next().value!);
    }
  }

  /** Whether an agent known only by its subject may be one this lock stops (errs towards yes). */
  #mayMatch(lock: Lock, subject: string): boolean {
    const t = lock.target;
    if ("principal" in t) return sameName(t, t.principal, subject);
    const seen = this.#seen.get(subject);
    // Not seen by this process (it restarted, or the agent used another replica): a shared store's approval
    // given before the lock may still be its, and would run once the lock is lifted. Taken to match: a grant
    // ended wrongly costs a reviewer one more approve, one left wrongly runs a write the lock stopped.
    if (!seen) return true;
    if ("group" in t) return [...seen.groups].some((g) => sameName(t, t.group, g));
    if ("token" in t) return seen.tokens.has(t.token);
    return false;
  }

  /** The refusal a locked agent sees (connection, statement or request); `detail` is the next step. */
  refusal(lock: Lock): RegateError {
    return new RegateError("LOCKED", lockedText(lock), { detail: LOCKED_NEXT_STEP });
  }

  async add(req: NewLock, by: string): Promise<Lock> {
    const now = Date.now();
    const lock: Lock = {
      id: `lk_${randomBytes(8).toString("hex")}`,
      target: req.target,
      message: req.message,
      created_at: new Date(now).toISOString(),
      created_by: by,
      ...(req.ttl_seconds !== undefined ? { expires_at: new Date(now + req.ttl_seconds * 1000).toISOString() } : {}),
    };
    this.#log.warn({ event: "lock_created", lock_id: lock.id, target: lock.target, message: lock.message, by, expires_at: lock.expires_at }, "lock created");
    // The store calls onAdded (here and on other replicas), which ends the sessions.
    await this.#store.add(lock);
    return lock;
  }

  async remove(id: string, by: string): Promise<boolean> {
    const removed = await this.#store.remove(id);
    if (removed) this.#log.warn({ event: "lock_removed", lock_id: id, by }, "lock removed");
    return removed;
  }

  close(): Promise<void> {
    return this.#store.close();
  }

  async #enforce(lock: Lock): Promise<void> {
    const e = this.#enforcer;
    if (!e) return;
    try {
      const live = e.sessions();
      // The agents of live sessions are known for what they are, whether or not a decision has seen them yet.
      for (const s of live) this.remember(s.principal);
      const hit = live.filter((s) => matches(lock, s.principal, s.id));
      const ids = new Set(hit.map((s) => s.id));
      const target = lock.target;
      // Withdraw first, so the approval history says it was the lock, not the hang-up that follows.
      const withdrawn =
        e.withdrawApprovals?.((a) => ids.has(a.session_id) || ("session" in target ? a.session_id === target.session : this.#mayMatch(lock, a.principal)), `lock ${lock.id}`) ?? 0;
      // Synchronous: no byte more of a stopped exchange is relayed once this returns.
      const http = e.endExchanges?.(lock) ?? { requests: [], connections: 0 };
      const reason = `agent locked (${lock.id}, ${describeTarget(target)}): ${lock.message}`;
      await Promise.all(hit.map((s) => e.endSession(s.id, reason, lock)));
      if (hit.length || http.requests.length) this.onEnded?.({ sessions: hit.length, requests: http.requests.length });
      this.#log.warn(
        {
          event: "lock_enforced",
          lock_id: lock.id,
          sessions_ended: [...ids],
          http_requests_ended: http.requests,
          http_connections_closed: http.connections,
          approvals_withdrawn: withdrawn,
        },
        "lock enforced on live sessions and HTTP requests",
      );
    } catch (err) {
      this.#log.error({ err, lock_id: lock.id }, "lock enforcement failed");
    }
  }
}

/** The next step of the error catalog's LOCKED (decision/next-step.ts), for refusals outside a decision. */
const LOCKED_NEXT_STEP = nextStep({ decision_id: "", outcome: "deny", reasons: [], mask: [], dry_run: false, revision: "", error_code: "LOCKED" });

export function lockedText(lock: Lock): string {
  return `regate: this agent is locked by an operator: ${lock.message} (lock ${lock.id}${lock.expires_at ? `, until ${lock.expires_at}` : ""})`;
}
