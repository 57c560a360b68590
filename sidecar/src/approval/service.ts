import { randomBytes } from "node:crypto";
import type { Decision } from "../decision/index.js";
import type { Logger } from "../log.js";
import type { SessionHooks } from "../postgres/index.js";
import { agentRow } from "./own.js";
import { mayVote, type ReviewerIdentity } from "./ballot.js";
import { GrantStore } from "./grants.js";
import { allow, deny, requested, stillPending } from "./outcomes.js";
import { postgresHold } from "./postgres-hold.js";
import { termsOf, type Terms } from "./terms.js";
import type { ApprovalServiceOptions, ApprovalSubject, HoldControl } from "./options.js";
import type { ActResult, Approval, ApprovalStatus } from "./types.js";

export type { ApprovalServiceOptions, ApprovalSubject, HoldControl } from "./options.js";

interface Waiter {
  subject: ApprovalSubject;
  resolve(d: Decision): void;
  timer: NodeJS.Timeout;
  decision: Decision;
}

interface Entry {
  approval: Approval;
  terms: Terms;
  decision: Decision;
  timer: NodeJS.Timeout;
  waiter?: Waiter;
}

/**
 * Approvals of requests the policy marks `approve`. A request is held for a reviewer (hold mode, at most
 * hold_max_seconds) or answered at once (defer mode, and a hold that reached its maximum); an approval
 * given while nobody is held becomes a one-shot grant for the identical re-run (same SHA-256). In
 * memory: one replica. Every transition is logged as an approval event.
 */
export class ApprovalService {
  readonly #opts: ApprovalServiceOptions;
  readonly #log: Logger;
  readonly #pending = new Map<string, Entry>();
  /** Pending approval id by digest: a re-run of a pending request joins it instead of asking twice. */
  readonly #byHash = new Map<string, string>();
  readonly #grants = new GrantStore();
  readonly #history: Approval[] = [];
  readonly #agents: Set<string>;

  constructor(opts: ApprovalServiceOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#agents = new Set(opts.agents ?? []);
  }

  get reviewUrl(): string {
    return this.#opts.reviewUrl;
  }

  /** The session hooks that wire this service into the Postgres path. */
  hooks(): SessionHooks {
    return {
      hold: (session, statement, decision, control) => this.hold(session, statement, decision, control),
      ownApprovals: (session) => this.own(session.principal.subject).map(agentRow),
    };
  }

  /** The Postgres `hold` hook: a statement the policy marks `approve`. */
  hold(...[session, statement, decision, control]: Parameters<NonNullable<SessionHooks["hold"]>>): Promise<Decision> {
    return postgresHold(this, this.#opts, session, statement, decision, control);
  }

  list(status?: ApprovalStatus): Approval[] {
    const all = [...[...this.#pending.values()].map((e) => e.approval), ...this.#history];
    return (status ? all.filter((a) => a.status === status) : all).sort((a, b) => b.requested_at.localeCompare(a.requested_at));
  }

  /** The approvals `principal` asked for, newest first (what an agent may see of approvals). */
  own(principal: string): Approval[] {
    return this.list().filter((a) => a.principal === principal);
  }

    get(id: string): Approval | undefined {
    return this.#pending.get(id)?.approval ?? this.#history.find((a) => a.id === id);
  }

  /**
   * One reviewer's approving vote. `sha256` must be the digest the reviewer saw. With the quorum reached, a
   * held request runs if it still hashes the same; with nobody held, the identical re-run may run once.
   */
  approve(id: string, reviewer: string | ReviewerIdentity, sha256: string, comment?: string): ActResult {
    const r = this.#identity(reviewer);
    const e = this.#pending.get(id);
    if (!e) return { ok: false, error: this.get(id) ? "not_pending" : "not_found" };
    const a = e.approval;
    if (sha256 !== a.sha256) {
      this.#event("warn", a, "approval_hash_mismatch", { reviewer: r.name, offered_sha256: sha256 });
      return { ok: false, error: "hash_mismatch" };
    }
    const refused = mayVote(a, r, this.#agents) ?? (a.votes.some((v) => v.reviewer === r.name) ? "already_voted" : undefined);
    if (refused) {
      this.#event("warn", a, "approval_vote_refused", { reviewer: r.name, error: refused });
      return { ok: false, error: refused };
    }
    if (e.terms.reasonRequired && !comment?.trim()) return { ok: false, error: "reason_required" };
    a.votes.push({ reviewer: r.name, at: new Date().toISOString(), ...(comment ? { comment } : {}) });
    if (a.votes.length < e.terms.min) {
      this.#event("info", a, "approval_vote", { reviewer: r.name, comment, votes: a.votes.length, min: e.terms.min });
      return { ok: true, approval: a };
    }
    const w = e.waiter;
    this.#finish(e, "approved", r.name, comment);
    if (w) {
      // The bytes about to be forwarded are the held ones; check they still hash to what was approved.
      const now = w.subject.current();
      if (now !== a.sha256) {
        this.#event("error", a, "approval_statement_changed", { now_sha256: now });
        w.resolve(deny(w.decision, "APPROVAL_MISMATCH", `approval ${id} does not match the held ${what(a)}; it was not run`));
      } else {
        a.used_at = new Date().toISOString();
        w.resolve(allow(w.decision));
      }
    } else {
      const until = Date.parse(a.decided_at!) + e.terms.grantSeconds * 1000;
      a.grant_expires_at = new Date(until).toISOString();
      this.#grants.put(a.sha256, a, until);
      this.#event("info", a, "approval_granted", { grant_expires_at: a.grant_expires_at });
    }
    return { ok: true, approval: a };
  }

  /** A refusal: one is enough, whatever the quorum. */
  refuse(id: string, reviewer: string | ReviewerIdentity, comment: string): ActResult {
    const r = this.#identity(reviewer);
    if (!comment.trim()) return { ok: false, error: "reason_required" };
    const e = this.#pending.get(id);
    if (!e) return { ok: false, error: this.get(id) ? "not_pending" : "not_found" };
    const refused = mayVote(e.approval, r, this.#agents);
    if (refused) {
      this.#event("warn", e.approval, "approval_vote_refused", { reviewer: r.name, error: refused });
      return { ok: false, error: refused };
    }
    const w = e.waiter;
    this.#finish(e, "refused", r.name, comment);
    w?.resolve(deny(w.decision, "APPROVAL_REFUSED", `approval ${id} refused by ${r.name}: ${comment}`));
    return { ok: true, approval: e.approval };
  }

  /**
   * Ends every pending approval that `filter` selects as withdrawn by `by` (e.g. a lock on the
   * principal): its held statement is refused as a client's withdrawal is. Returns how many ended.
   */
  withdraw(filter: (a: Approval) => boolean, by: string): number {
    let n = 0;
    for (const e of [...this.#pending.values()]) {
      if (!filter(e.approval)) continue;
      this.#withdraw(e, by);
      n++;
    }
    return n;
  }

  /** Ends every pending approval as withdrawn (shutdown). */
  close(): void {
    for (const e of [...this.#pending.values()]) this.#withdraw(e, "shutdown");
    this.#grants.clear();
  }

  /**
   * The decision to enforce for a request the policy marks `approve`: allow (a grant for this digest, or
   * approved while held), or a refusal that says what happened and what to do next.
   */
  async request(subject: ApprovalSubject, decision: Decision, control: HoldControl): Promise<Decision> {
    if (control.signal.aborted) return deny(decision, "APPROVAL_WITHDRAWN", "the approval request was withdrawn");
    const kind = subject.kind === "http" ? "request" : "statement";
    const granted = this.#grants.take(subject.sha256);
    if (granted) {
      granted.used_at = new Date().toISOString();
      this.#event("info", granted, "approval_used", { session_id_used: subject.session_id, decision_id_used: decision.decision_id });
      return allow(decision);
    }
    const terms = termsOf(decision, { timeoutSeconds: this.#opts.timeoutSeconds, holdMaxSeconds: this.#opts.holdMaxSeconds ?? 45, grantSeconds: this.#opts.grantSeconds ?? 600 });
    const holdSeconds = Math.min(terms.holdSeconds, control.capSeconds ?? Infinity);
    const existingId = this.#byHash.get(subject.sha256);
    const existing = existingId ? this.#pending.get(existingId) : undefined;
    if (existing) {
      const a = existing.approval;
      if (terms.mode === "defer" || existing.waiter || holdSeconds <= 0) {
        this.#event("info", a, "approval_still_pending", { decision_id_rerun: decision.decision_id });
        return stillPending(decision, a.id, a.expires_at, kind, this.#opts.reviewUrl);
      }
      return this.#hold(existing, subject, decision, control, holdSeconds);
    }
    const e = this.#create(subject, decision, terms);
    if (terms.mode === "defer" || holdSeconds <= 0) return requested(decision, e.approval.id, e.approval.expires_at, kind, this.#opts.reviewUrl);
    return this.#hold(e, subject, decision, control, holdSeconds);
  }

  #create(subject: ApprovalSubject, decision: Decision, terms: Terms): Entry {
    const now = Date.now();
    const approval: Approval = {
      id: `apr_${randomBytes(8).toString("hex")}`,
      status: "pending",
      kind: subject.kind,
      mode: terms.mode,
      decision_id: decision.decision_id,
      reason: decision.approve?.reason ?? decision.reasons.join("; "),
      approvers: terms.approvers,
      groups: terms.groups,
      min: terms.min,
      reason_required: terms.reasonRequired,
      votes: [],
      principal: subject.principal,
      target: subject.target,
      session_id: subject.session_id,
      statement: subject.statement,
      sha256: subject.sha256,
      in_transaction: subject.in_transaction,
      requested_at: new Date(now).toISOString(),
      expires_at: new Date(now + terms.timeoutSeconds * 1000).toISOString(),
    };
    const e: Entry = {
      approval,
      terms,
      decision,
      // Silence is never consent: when the approval expires, a held client is refused.
      timer: setTimeout(() => {
        if (!this.#pending.has(approval.id)) return;
        const w = e.waiter;
        this.#finish(e, "expired");
        w?.resolve(deny(w.decision, "APPROVAL_EXPIRED", `approval ${approval.id} expired after ${terms.timeoutSeconds}s without a reviewer's answer; the ${what(approval)} was not run`));
      }, terms.timeoutSeconds * 1000),
    };
    e.timer.unref?.();
    this.#pending.set(approval.id, e);
    this.#byHash.set(approval.sha256, approval.id);
    this.#event("info", approval, "approval_requested", { expires_at: approval.expires_at, sha256: approval.sha256, mode: terms.mode });
    try {
      this.#opts.onRequested?.(approval);
    } catch (err) {
      this.#log.warn({ err, approval_id: approval.id }, "approval notification failed");
    }
    return e;
  }

  #hold(e: Entry, subject: ApprovalSubject, decision: Decision, control: HoldControl, holdSeconds: number): Promise<Decision> {
    const a = e.approval;
    return new Promise<Decision>((resolve) => {
      const w: Waiter = {
        subject,
        decision,
        resolve: (d) => {
          clearTimeout(w.timer);
          if (e.waiter === w) delete e.waiter;
          resolve(d);
        },
        // The hold's maximum: the client is answered, the approval stays pending for a re-run.
        timer: setTimeout(() => {
          if (e.waiter !== w) return;
          this.#event("info", a, "approval_deferred", { held_seconds: holdSeconds });
          w.resolve(stillPending(decision, a.id, a.expires_at, what(a), this.#opts.reviewUrl));
        }, holdSeconds * 1000),
      };
      e.waiter = w;
      control.signal.addEventListener("abort", () => e.waiter === w && this.#withdraw(e, "client"), { once: true });
      control.held?.(a, holdSeconds);
    });
  }

  #identity(r: string | ReviewerIdentity): ReviewerIdentity {
    return typeof r === "string" ? { name: r, groups: this.#opts.reviewers?.find((x) => x.name === r)?.groups ?? [] } : r;
  }

  #withdraw(e: Entry, by: string): void {
    if (!this.#pending.has(e.approval.id)) return;
    const w = e.waiter;
    this.#finish(e, "withdrawn", undefined, by);
    w?.resolve(deny(w.decision, "APPROVAL_WITHDRAWN", `approval ${e.approval.id} withdrawn; the ${what(e.approval)} was not run`));
  }

  #finish(e: Entry, status: Exclude<ApprovalStatus, "pending">, reviewer?: string, comment?: string): void {
    clearTimeout(e.timer);
    const a = e.approval;
    this.#pending.delete(a.id);
    if (this.#byHash.get(a.sha256) === a.id) this.#byHash.delete(a.sha256);
    a.status = status;
    a.decided_at = new Date().toISOString();
    if (reviewer) a.reviewer = reviewer;
    if (comment) a.comment = comment;
    this.#history.unshift(a);
    if (this.#history.length > (this.#opts.historySize ?? 1000)) this.#history.pop();
    this.#event("info", a, `approval_${status}`, reviewer ? { reviewer, comment } : comment ? { by: comment } : {});
  }

  #event(level: "info" | "warn" | "error", a: Approval, event: string, extra: Record<string, unknown>): void {
    this.#log[level]({ event, approval_id: a.id, decision_id: a.decision_id, session_id: a.session_id, principal: a.principal, target: a.target, ...extra }, event.replace(/_/g, " "));
    try {
      this.#opts.onEvent?.(event, a);
    } catch (err) {
      this.#log.warn({ err, approval_id: a.id, event }, "approval event listener failed");
    }
  }
}


function what(a: Approval): "statement" | "request" {
  return a.kind === "http" ? "request" : "statement";
}
