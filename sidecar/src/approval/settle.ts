import { randomBytes } from "node:crypto";
import type { Decision } from "../decision/index.js";
import type { ApprovalSubject } from "./options.js";
import type { Terms } from "./terms.js";
import { deny, stillPending } from "./outcomes.js";
import type { Approval } from "./types.js";
import { visible } from "./visible.js";

export function what(a: Approval): "statement" | "request" {
  return a.kind === "http" ? "request" : "statement";
}

/** What a held client is answered when its approval ended without running it (approved is the service's). */
export function settledDecision(a: Approval, d: Decision, reviewUrl: string): Decision {
  switch (a.status) {
    case "refused":
      return deny(d, "APPROVAL_REFUSED", `approval ${a.id} refused by ${a.reviewer}: ${a.comment ?? ""}`);
    case "expired": {
      const seconds = (Date.parse(a.expires_at) - Date.parse(a.requested_at)) / 1000;
      return deny(d, "APPROVAL_EXPIRED", `approval ${a.id} expired after ${seconds}s without a reviewer's answer; the ${what(a)} was not run`);
    }
    case "abandoned":
      return deny(d, "APPROVAL_WITHDRAWN", `approval ${a.id} abandoned: the replica holding it lost its store connection; the ${what(a)} was not run`);
    case "pending":
      return stillPending(d, a.id, a.expires_at, what(a), reviewUrl);
    default:
      return deny(d, "APPROVAL_WITHDRAWN", `approval ${a.id} withdrawn; the ${what(a)} was not run`);
  }
}

/** A new pending approval of `subject` on the terms of `decision`. */
export function newApproval(subject: ApprovalSubject, decision: Decision, terms: Terms): Approval {
  const now = Date.now();
  return {
    id: `apr_${randomBytes(8).toString("hex")}`,
    status: "pending",
    kind: subject.kind,
    mode: terms.mode,
    decision_id: decision.decision_id,
    // A policy may build its reason from what the agent sent (a table's name): shown as statements are.
    reason: visible(decision.approve?.reason ?? decision.reasons.join("; ")).text,
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
    ...(subject.objects !== undefined ? { objects: subject.objects } : {}),
    in_transaction: subject.in_transaction,
    requested_at: new Date(now).toISOString(),
    expires_at: new Date(now + terms.timeoutSeconds * 1000).toISOString(),
  };
}
