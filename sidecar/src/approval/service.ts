import { randomBytes } from "node:crypto";
import type { Decision, SessionInput } from "../decision/index.js";
import type { Logger } from "../log.js";
import type { SessionHooks, Statement } from "../postgres/index.js";
import { approvalHash } from "./hash.js";
import { noticeResponse } from "./notice.js";
import type { ActResult, Approval, ApprovalStatus } from "./types.js";

type HoldControl = Parameters<NonNullable<SessionHooks["hold"]>>[3];

export interface ApprovalServiceOptions {
  log: Logger;
  /** Used when the policy gives no approve.timeout_seconds. */
  timeoutSeconds: number;
  /** Inside a transaction block the timeout stays this far below the upstream's idle timeout. */
  idleMarginSeconds: number;
  /** The upstream's idle_in_transaction_session_timeout in ms (0 = off). */
  idleInTransactionMs: () => Promise<number>;
  /** Where reviewers act, named in the agent's notice. */
  reviewUrl: string;
  /** Told of every new pending approval (chat webhook); must not throw. */
  onRequested?: (a: Approval) => void;
  /** Finished approvals kept for the history list. */
  historySize?: number;
}

interface Waiter {
  approval: Approval;
  statement: Statement;
  resolve(d: Decision): void;
  timer: NodeJS.Timeout;
  decision: Decision;
}

/**
 * Holds statements the policy marks `approve` until a reviewer answers, the timeout passes or the
 * client withdraws. In memory: one replica. Every transition is logged as an approval event.
 */
export class ApprovalService {
  readonly #opts: ApprovalServiceOptions;
  readonly #log: Logger;
  readonly #pending = new Map<string, Waiter>();
  readonly #history: Approval[] = [];

  constructor(opts: ApprovalServiceOptions) {
    this.#opts = opts;
    this.#log = opts.log;
  }

  /** The session hooks that wire this service into the Postgres path. */
  hooks(): SessionHooks {
    return { hold: (session, statement, decision, control) => this.hold(session, statement, decision, control) };
  }

  list(status?: ApprovalStatus): Approval[] {
    const all = [...[...this.#pending.values()].map((w) => w.approval), ...this.#history];
    return (status ? all.filter((a) => a.status === status) : all).sort((a, b) => b.requested_at.localeCompare(a.requested_at));
  }

  get(id: string): Approval | undefined {
    return this.#pending.get(id)?.approval ?? this.#history.find((a) => a.id === id);
  }

  /** Approve: `sha256` must be the digest the reviewer saw; the statement then runs if it still hashes the same. */
  approve(id: string, reviewer: string, sha256: string, comment?: string): ActResult {
    const w = this.#pending.get(id);
    if (!w) return { ok: false, error: this.get(id) ? "not_pending" : "not_found" };
    if (sha256 !== w.approval.sha256) {
      this.#event("warn", w.approval, "approval_hash_mismatch", { reviewer, offered_sha256: sha256 });
      return { ok: false, error: "hash_mismatch" };
    }
    const { approval, statement, decision } = w;
    this.#finish(w, "approved", reviewer, comment);
    // The bytes about to be forwarded are the held ones; check they still hash to what was approved.
    const now = approvalHash(approval.principal, approval.target, statement.sql, statement.parameters);
    if (now !== approval.sha256) {
      this.#event("error", approval, "approval_statement_changed", { now_sha256: now });
      w.resolve(deny(decision, "APPROVAL_MISMATCH", `approval ${id} does not match the held statement; it was not run`));
    } else {
      w.resolve({ ...decision, outcome: "allow", reasons: [] });
    }
    return { ok: true, approval };
  }

  refuse(id: string, reviewer: string, comment: string): ActResult {
    if (!comment.trim()) return { ok: false, error: "reason_required" };
    const w = this.#pending.get(id);
    if (!w) return { ok: false, error: this.get(id) ? "not_pending" : "not_found" };
    this.#finish(w, "refused", reviewer, comment);
    w.resolve(deny(w.decision, "APPROVAL_REFUSED", `approval ${id} refused by ${reviewer}: ${comment}`));
    return { ok: true, approval: w.approval };
  }

  /**
   * Ends every pending approval that `filter` selects as withdrawn by `by` (e.g. a lock on the
   * principal): its held statement is refused as a client's withdrawal is. Returns how many ended.
   */
  withdraw(filter: (a: Approval) => boolean, by: string): number {
    let n = 0;
    for (const w of [...this.#pending.values()]) {
      if (!filter(w.approval)) continue;
      this.#withdraw(w, by);
      n++;
    }
    return n;
  }

  /** Ends every pending approval as withdrawn (shutdown). */
  close(): void {
    for (const w of [...this.#pending.values()]) this.#withdraw(w, "shutdown");
  }

  async hold(session: SessionInput, statement: Statement, decision: Decision, control: HoldControl): Promise<Decision> {
    if (control.signal.aborted) return deny(decision, "APPROVAL_WITHDRAWN", "the approval request was withdrawn");
    let seconds = decision.approve?.timeout_seconds && decision.approve.timeout_seconds > 0 ? decision.approve.timeout_seconds : this.#opts.timeoutSeconds;
    if (control.in_transaction) {
      const idleMs = await this.#opts.idleInTransactionMs().catch(() => 0);
      if (idleMs > 0) {
        const idle = idleMs / 1000;
        const cap = idle - this.#opts.idleMarginSeconds > 0 ? idle - this.#opts.idleMarginSeconds : idle / 2;
        seconds = Math.min(seconds, cap);
      }
      if (control.signal.aborted) return deny(decision, "APPROVAL_WITHDRAWN", "the approval request was withdrawn");
    }
    const now = Date.now();
    const approval: Approval = {
      id: `apr_${randomBytes(8).toString("hex")}`,
      status: "pending",
      decision_id: decision.decision_id,
      reason: decision.approve?.reason ?? decision.reasons.join("; "),
      approvers: decision.approve?.approvers ?? "",
      principal: session.principal.subject,
      target: session.target,
      session_id: session.id,
      statement: { message: statement.message, sql: statement.sql, ...(statement.parameters ? { parameters: statement.parameters } : {}) },
      sha256: approvalHash(session.principal.subject, session.target, statement.sql, statement.parameters),
      in_transaction: control.in_transaction,
      requested_at: new Date(now).toISOString(),
      expires_at: new Date(now + seconds * 1000).toISOString(),
    };
    return new Promise<Decision>((resolve) => {
      const w: Waiter = {
        approval,
        statement,
        decision,
        resolve,
        timer: setTimeout(() => {
          if (!this.#pending.has(approval.id)) return;
          this.#finish(w, "expired");
          resolve(deny(decision, "APPROVAL_EXPIRED", `approval ${approval.id} expired after ${seconds}s without a reviewer's answer; the statement was not run`));
        }, seconds * 1000),
      };
      this.#pending.set(approval.id, w);
      control.signal.addEventListener("abort", () => this.#withdraw(w, "client"), { once: true });
      this.#event("info", approval, "approval_requested", { expires_at: approval.expires_at, sha256: approval.sha256 });
      control.notify(
        noticeResponse({
          S: "NOTICE",
          V: "NOTICE",
          C: "00000",
          M: `regate: statement held for approval as ${approval.id}: ${approval.reason}`,
          D: `decision_id ${decision.decision_id}; expires at ${approval.expires_at}; sha256 ${approval.sha256}`,
          H: `a reviewer approves or refuses at ${this.#opts.reviewUrl}; cancelling the statement withdraws the request`,
        }),
      );
      try {
        this.#opts.onRequested?.(approval);
      } catch (err) {
        this.#log.warn({ err, approval_id: approval.id }, "approval notification failed");
      }
    });
  }

  #withdraw(w: Waiter, by: string): void {
    if (!this.#pending.has(w.approval.id)) return;
    this.#finish(w, "withdrawn", undefined, by);
    w.resolve(deny(w.decision, "APPROVAL_WITHDRAWN", `approval ${w.approval.id} withdrawn; the statement was not run`));
  }

  #finish(w: Waiter, status: Exclude<ApprovalStatus, "pending">, reviewer?: string, comment?: string): void {
    clearTimeout(w.timer);
    this.#pending.delete(w.approval.id);
    const a = w.approval;
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
  }
}

function deny(d: Decision, code: string, reason: string): Decision {
  return { ...d, outcome: "deny", reasons: [reason], error_code: code };
}
