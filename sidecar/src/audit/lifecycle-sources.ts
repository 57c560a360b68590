import type { Approval } from "../approval/index.js";
import type { SessionInput } from "../decision/index.js";
import type { SessionHooks, Statement } from "../postgres/index.js";
import type { LifecycleBus, LifecycleKind } from "./lifecycle.js";

// Where lifecycle events come from: the approval service's transitions, the Postgres statements a budget
// cut, and the sessions a responder or a lock ended. Each turns what its source knows into one event.

/** Approval transitions that are lifecycle events; votes, grants used and the like stay in the log only. */
const APPROVAL_KINDS: Record<string, LifecycleKind> = {
  approval_requested: "approval_requested",
  approval_deferred: "approval_deferred",
  approval_approved: "approval_approved",
  approval_refused: "approval_refused",
  approval_expired: "approval_expired",
  approval_withdrawn: "approval_withdrawn",
  approval_abandoned: "approval_abandoned",
};

/** For ApprovalService's `onEvent`. */
export function approvalEvents(bus: LifecycleBus): (event: string, a: Approval) => void {
  return (event, a) => {
    const kind = APPROVAL_KINDS[event];
    if (!kind) return;
    bus.emit({
      kind,
      time: new Date().toISOString(),
      path: a.kind,
      decision_id: a.decision_id,
      approval_id: a.id,
      session_id: a.session_id,
      principal: { subject: a.principal },
      target: a.target,
      ...(a.reviewer ? { actor: a.reviewer } : {}),
      ...(kind === "approval_requested" || kind === "approval_deferred" ? { reason: a.reason } : a.comment ? { reason: a.comment } : {}),
      subject: a.statement.sql,
    });
  };
}

/** A statement whose result a budget cut short: one event when it completes. */
export function budgetCutEvents(bus: LifecycleBus): SessionHooks {
  return {
    completed: (session: SessionInput, statement: Statement) => {
      const cut = statement.result.budget_cut;
      if (!cut) return;
      bus.emit({
        kind: "budget_cut",
        time: new Date().toISOString(),
        path: "postgres",
        ...(statement.decision ? { decision_id: statement.decision.decision_id } : {}),
        ...sessionParts(session),
        reason: cut,
        subject: statement.sql,
      });
    },
  };
}

/** A live session ended by a responder's kill (`lock_id` absent) or by a lock. */
export function sessionEndedEvent(bus: LifecycleBus, session: SessionInput, by: { actor?: string; lock_id?: string; reason: string; statement?: string }): void {
  bus.emit({
    kind: by.lock_id ? "session_locked" : "session_killed",
    time: new Date().toISOString(),
    path: "postgres",
    ...sessionParts(session),
    ...(by.actor ? { actor: by.actor } : {}),
    ...(by.lock_id ? { lock_id: by.lock_id } : {}),
    reason: by.reason,
    ...(by.statement ? { subject: by.statement } : {}),
  });
}

function sessionParts(s: SessionInput) {
  return { session_id: s.id, principal: { subject: s.principal.subject, groups: s.principal.groups }, target: s.target, client: s.client };
}
