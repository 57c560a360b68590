import type { Decision } from "../decision/index.js";
import type { Logger } from "../log.js";
import type { SessionHooks } from "../postgres/index.js";
import { mayVote, reviewerIdentity, type ReviewerIdentity } from "./ballot.js";
import { ApprovalEvents } from "./events.js";
import { ExpiryTimers } from "./expiry-timers.js";
import { HeldClients, type Waiter } from "./held-clients.js";
import { MemoryApprovalStore } from "./memory-store.js";
import { allow, deny, requested, stillPending, storeUnavailable, tooManyPending } from "./outcomes.js";
import { postgresHold, postgresHooks } from "./postgres-hold.js";
import type { ApprovalStore } from "./store.js";
import { reviewUrlOf } from "./review-url.js";
import { termsOf } from "./terms.js";
import type { ApprovalServiceOptions, ApprovalSubject, HoldControl } from "./options.js";
import type { ActResult, Approval, ApprovalStatus } from "./types.js";
import { newApproval, settledDecision, what } from "./settle.js";
import { withoutHeldSecrets } from "./held-secrets.js";

export type { ApprovalServiceOptions, ApprovalSubject, HoldControl } from "./options.js";

/**
 * Approvals of requests the policy marks `approve`. A request is held for a reviewer (hold mode, at most
 * hold_max_seconds) or answered at once (defer mode, and a hold that reached its maximum); an approval
 * given while nobody is held becomes a one-shot grant for the identical re-run (same SHA-256). The
 * approvals live in a store (memory: one replica; postgres: shared by replicas); the clients held live
 * here, and are answered when their approval ends, whichever replica ended it. Every transition is
 * logged as an approval event by the replica that made it.
 */
export class ApprovalService {
  readonly #opts: ApprovalServiceOptions;
  readonly #log: Logger;
  readonly #store: ApprovalStore;
  readonly #held = new HeldClients();
  readonly #expiry = new ExpiryTimers();
  readonly #events: ApprovalEvents;
  readonly #agents: Set<string>;

  constructor(opts: ApprovalServiceOptions, store: ApprovalStore = new MemoryApprovalStore(opts.historySize)) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#store = store;
    this.#agents = new Set(opts.agents ?? []);
    this.#events = new ApprovalEvents(opts.log, opts.onEvent);
    // Another replica's transition: answer the client held here, if any.
    store.onChange((a) => void this.#settle(a));
    store.onSwept((a) => {
      this.#events.emit("info", a, `approval_${a.status}`, {});
      void this.#settle(a);
    });
  }

  get reviewUrl(): string {
    return reviewUrlOf(this.#opts.reviewUrl);
  }

  /** The session hooks that wire this service into the Postgres path. */
  hooks(): SessionHooks {
    return postgresHooks(this);
  }

  /** The Postgres `hold` hook: a statement the policy marks `approve`. */
  hold(...[session, statement, decision, control]: Parameters<NonNullable<SessionHooks["hold"]>>): Promise<Decision> {
    return postgresHold(this, this.#opts, session, statement, decision, control);
  }

  list(status?: ApprovalStatus): Approval[] {
    const all = this.#store.list();
    return status ? all.filter((a) => a.status === status) : all;
  }

  /** The approvals `principal` asked for, newest first (what an agent may see of approvals). */
  own(principal: string): Approval[] {
    return this.list().filter((a) => a.principal === principal);
  }

  get(id: string): Approval | undefined {
    return this.#store.get(id);
  }

  /** One approval read from the store itself (shared: also one another replica made a moment ago). */
  read(id: string): Promise<Approval | undefined> {
    return this.#store.read(id);
  }

  /**
   * One reviewer's approving vote. `sha256` must be the digest the reviewer saw. With the quorum reached, a
   * held request runs if it still hashes the same; with nobody held, the identical re-run may run once.
   */
  async approve(id: string, reviewer: string | ReviewerIdentity, sha256: string, comment?: string): Promise<ActResult> {
    const r = reviewerIdentity(reviewer, this.#opts.reviewers);
    const a = await this.#store.read(id);
    if (!a) return { ok: false, error: "not_found" };
    if (a.status !== "pending") return { ok: false, error: "not_pending" };
    if (sha256 !== a.sha256) {
      this.#events.emit("warn", a, "approval_hash_mismatch", { reviewer: r.name, offered_sha256: sha256 });
      return { ok: false, error: "hash_mismatch" };
    }
    const refused = mayVote(a, r, this.#agents) ?? (a.votes.some((v) => v.reviewer === r.name) ? "already_voted" : undefined);
    if (refused) {
      this.#events.emit("warn", a, "approval_vote_refused", { reviewer: r.name, error: refused });
      return { ok: false, error: refused };
    }
    if (a.reason_required && !comment?.trim()) return { ok: false, error: "reason_required" };
    const voted = await this.#store.vote(id, { reviewer: r.name, at: new Date().toISOString(), ...(comment ? { comment } : {}) });
    if (!voted.ok) {
      if (voted.error === "already_voted") this.#events.emit("warn", a, "approval_vote_refused", { reviewer: r.name, error: voted.error });
      return voted;
    }
    const v = voted.approval;
    if (v.status === "pending") {
      this.#events.emit("info", v, "approval_vote", { reviewer: r.name, comment, votes: v.votes.length, min: v.min });
      return { ok: true, approval: v };
    }
    this.#expiry.stop(v.id);
    this.#events.emit("info", v, "approval_approved", { reviewer: r.name, comment });
    if (v.grant_expires_at) this.#events.emit("info", v, "approval_granted", { grant_expires_at: v.grant_expires_at });
    await this.#settle(v);
    return { ok: true, approval: this.#store.get(id) ?? v };
  }

  /** A refusal: one is enough, whatever the quorum. */
  async refuse(id: string, reviewer: string | ReviewerIdentity, comment: string): Promise<ActResult> {
    const r = reviewerIdentity(reviewer, this.#opts.reviewers);
    if (!comment.trim()) return { ok: false, error: "reason_required" };
    const a = await this.#store.read(id);
    if (!a) return { ok: false, error: "not_found" };
    if (a.status !== "pending") return { ok: false, error: "not_pending" };
    const refused = mayVote(a, r, this.#agents);
    if (refused) {
      this.#events.emit("warn", a, "approval_vote_refused", { reviewer: r.name, error: refused });
      return { ok: false, error: refused };
    }
    const done = await this.#end(id, "refused", r.name, comment);
    return done ? { ok: true, approval: done } : { ok: false, error: "not_pending" };
  }

  /**
   * Ends every pending approval that `filter` selects as withdrawn by `by` (e.g. a lock on the
   * principal): its held statement is refused as a client's withdrawal is. Returns how many it selected.
   */
  withdraw(filter: (a: Approval) => boolean, by: string): number {
    const hit = this.list("pending").filter(filter);
    for (const a of hit) void this.#end(a.id, "withdrawn", undefined, by);
    // An approval given while nobody waited is a grant for the identical re-run: a lock ends it too, or
    // the locked agent's statement would run once the lock is lifted, on a reviewer's word given before it.
    const now = Date.now();
    const grants = this.list("approved").filter((a) => a.grant_expires_at && !a.used_at && Date.parse(a.grant_expires_at) > now && filter(a));
    for (const a of grants) void this.#revokeGrant(a, by);
    return hit.length + grants.length;
  }

  async #revokeGrant(a: Approval, by: string): Promise<void> {
    const revoked = await this.#store.revokeGrant(a.id).catch((err: unknown) => {
      this.#log.warn({ err, approval_id: a.id }, "revoking a grant failed");
      return undefined;
    });
    if (revoked) this.#events.emit("warn", revoked, "approval_grant_revoked", { by });
  }

  /** Ends the approvals whose clients this replica holds as withdrawn (shutdown); a memory store's all of them. */
  async close(): Promise<void> {
    const ids = this.#store.shared ? this.#held.ids() : this.list("pending").map((a) => a.id);
    await Promise.all(ids.map((id) => this.#end(id, "withdrawn", undefined, "shutdown")));
    this.#expiry.stopAll();
    await this.#store.close();
  }

  /**
   * The decision to enforce for a request the policy marks `approve`: allow (a grant for this digest, or
   * approved while held), or a refusal that says what happened and what to do next.
   */
  async request(subject: ApprovalSubject, decision: Decision, control: HoldControl): Promise<Decision> {
    try {
      return await this.#request(subject, decision, control);
    } catch (err) {
      // A shared store that cannot be reached: fail closed, the client's session goes on.
      this.#log.error({ err, session_id: subject.session_id, decision_id: decision.decision_id }, "approval store unavailable");
      return storeUnavailable(decision, subject.kind === "http" ? "request" : "statement");
    }
  }

  async #request(subject: ApprovalSubject, decision: Decision, control: HoldControl): Promise<Decision> {
    if (control.signal.aborted) return deny(decision, "APPROVAL_WITHDRAWN", "the approval request was withdrawn");
    const kind = subject.kind === "http" ? "request" : "statement";
    const granted = await this.#store.takeGrant(subject.sha256, subject.objects);
    if (granted) {
      this.#events.emit("info", granted, "approval_used", { session_id_used: subject.session_id, decision_id_used: decision.decision_id });
      return allow(decision);
    }
    const terms = termsOf(decision, { timeoutSeconds: this.#opts.timeoutSeconds, holdMaxSeconds: this.#opts.holdMaxSeconds ?? 45, grantSeconds: this.#opts.grantSeconds ?? 600 });
    const holdSeconds = Math.min(terms.holdSeconds, control.capSeconds ?? Infinity);
    const existing = await this.#store.pendingFor(subject.sha256);
    if (existing) {
      const left = (Date.parse(existing.expires_at) - Date.now()) / 1000;
      const hold = Math.min(holdSeconds, left);
      if (terms.mode === "defer" || this.#held.has(existing.id) || hold <= 0) return this.#stillPending(existing, decision, kind);
      // Waiting first, so that an answer arriving while the hold is recorded is not missed.
      const held = this.#wait(existing, subject, decision, control, hold);
      const marked = await this.#store.hold(existing.id, true).catch(() => ({ changed: false, approval: undefined }));
      if (!marked.changed) {
        // Held elsewhere (another replica's client), or it ended meanwhile.
        const w = this.#held.get(existing.id);
        if (w?.decision === decision) {
          this.#held.remove(existing.id, w);
          return marked.approval && marked.approval.status !== "pending" ? settledDecision(marked.approval, decision, this.reviewUrl) : this.#stillPending(existing, decision, kind);
        }
      } else control.held?.(existing, hold);
      return held;
    }
    const crowded = this.#crowded(subject.principal, decision, kind);
    if (crowded) return crowded;
    const a = withoutHeldSecrets(newApproval(subject, decision, terms), this.#opts.secrets?.() ?? []);
    const holding = terms.mode !== "defer" && holdSeconds > 0;
    const held = holding ? this.#wait(a, subject, decision, control, holdSeconds) : undefined;
    try {
      await this.#store.create(a, { min: terms.min, grantSeconds: terms.grantSeconds }, holding);
    } catch (err) {
      if (held) this.#held.remove(a.id, this.#held.get(a.id));
      throw err;
    }
    // Silence is never consent: when the approval expires, a held client is refused.
    this.#expiry.start(a.id, terms.timeoutSeconds * 1000, () => void this.#end(a.id, "expired"));
    this.#events.emit("info", a, "approval_requested", { expires_at: a.expires_at, sha256: a.sha256, mode: terms.mode });
    try {
      this.#opts.onRequested?.(a);
    } catch (err) {
      this.#log.warn({ err, approval_id: a.id }, "approval notification failed");
    }
    if (!held) return requested(decision, a.id, a.expires_at, kind, this.reviewUrl);
    control.held?.(a, holdSeconds);
    return held;
  }

  /** A refusal when the principal already has as many approvals pending as it may: reviewers are not flooded. */
  #crowded(principal: string, decision: Decision, kind: "statement" | "request"): Decision | undefined {
    const max = this.#opts.maxPendingPerAgent ?? 20;
    let pending = 0;
    for (const a of this.list("pending")) if (a.principal === principal) pending++;
    if (pending < max) return undefined;
    this.#log.warn({ principal, pending, max, decision_id: decision.decision_id }, "approval refused: the agent has too many approvals pending");
    return tooManyPending(decision, pending, max, kind);
  }

  #stillPending(a: Approval, decision: Decision, kind: "statement" | "request"): Decision {
    this.#events.emit("info", a, "approval_still_pending", { decision_id_rerun: decision.decision_id });
    return stillPending(decision, a.id, a.expires_at, kind, this.reviewUrl);
  }

  /** Holds this replica's client for `a`; resolves with what to enforce. */
  #wait(a: Approval, subject: ApprovalSubject, decision: Decision, control: HoldControl, holdSeconds: number): Promise<Decision> {
    return this.#held.add(a, subject, decision, control, holdSeconds, {
      expire: () => void this.#end(a.id, "expired"),
      release: (w) => void this.#release(a, w, holdSeconds),
      withdraw: (by) => void this.#end(a.id, "withdrawn", undefined, by),
    });
  }

  async #release(a: Approval, w: Waiter, holdSeconds: number): Promise<void> {
    if (!this.#held.holds(a.id, w)) return;
    const after = await this.#store.hold(a.id, false).catch(() => ({ changed: false, approval: undefined }));
    if (!this.#held.holds(a.id, w)) return;
    if (after.approval && after.approval.status !== "pending") return void this.#settle(after.approval);
    this.#held.remove(a.id, w);
    this.#events.emit("info", a, "approval_deferred", { held_seconds: holdSeconds });
    w.resolve(stillPending(w.decision, a.id, a.expires_at, what(a), this.reviewUrl));
  }

  /** Answers the client held here for `a` once `a` has ended (by this replica or another). */
  async #settle(a: Approval): Promise<void> {
    if (a.status === "pending") return;
    this.#expiry.stop(a.id);
    const w = this.#held.get(a.id);
    if (!w) return;
    this.#held.remove(a.id, w);
    if (a.status !== "approved") return w.resolve(settledDecision(a, w.decision, this.reviewUrl));
    // The bytes about to be forwarded are the held ones; check they still hash to what was approved.
    const now = w.subject.current();
    if (now !== a.sha256) {
      this.#events.emit("error", a, "approval_statement_changed", { now_sha256: now });
      return w.resolve(deny(w.decision, "APPROVAL_MISMATCH", `approval ${a.id} does not match the held ${what(a)}; it was not run`));
    }
    // What its names resolve to, read again: another connection may have replaced a view or function while the reviewer read.
    const objects = w.subject.objectsNow ? await w.subject.objectsNow().catch(() => "unreadable") : undefined;
    if (objects !== a.objects) {
      this.#events.emit("error", a, "approval_objects_changed", { now_objects: objects });
      return w.resolve(deny(w.decision, "APPROVAL_MISMATCH", `approval ${a.id} was for other objects than the held ${what(a)} names now (a table, view or function it names changed since it was asked); it was not run; run it again to ask for a new approval`));
    }
    // Exactly once, even if two replicas believed they held it: the store's compare-and-set decides.
    const used = a.grant_expires_at ? await this.#store.takeGrant(a.sha256, a.objects).catch(() => undefined) : await this.#store.use(a.id).catch(() => undefined);
    w.resolve(used ? allow(w.decision) : deny(w.decision, "APPROVAL_WITHDRAWN", `approval ${a.id} was already used; the ${what(a)} was not run`));
  }

  /** pending -> status by this replica: logged here, then the held client (if here) is answered. */
  async #end(id: string, status: "refused" | "expired" | "withdrawn", reviewer?: string, comment?: string): Promise<Approval | undefined> {
    const a = await this.#store.finish(id, status, reviewer, comment).catch((err: unknown) => {
      this.#log.warn({ err, approval_id: id, status }, "approval transition failed");
      return undefined;
    });
    if (!a) {
      // Another replica or reviewer ended it first; its answer reaches a client held here through the store.
      const now = await this.#store.read(id).catch(() => undefined);
      if (now && now.status !== "pending") await this.#settle(now);
      return undefined;
    }
    this.#events.emit("info", a, `approval_${status}`, reviewer ? { reviewer, comment } : comment ? { by: comment } : {});
    await this.#settle(a);
    return a;
  }
}
