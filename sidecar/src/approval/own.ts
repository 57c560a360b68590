import type { Approval } from "./types.js";

/**
 * What an agent may read of its own approvals (regate.approvals, GET /.regate/approvals/{id}): no
 * digest-free parameter values, no reviewer tokens, nothing of another principal's.
 */
export function agentView(a: Approval) {
  return {
    id: a.id,
    status: a.status,
    mode: a.mode,
    reason: a.reason,
    statement: a.statement.sql,
    requested_at: a.requested_at,
    expires_at: a.expires_at,
    decided_at: a.decided_at ?? null,
    comment: a.comment ?? null,
    grant_expires_at: a.grant_expires_at ?? null,
    used_at: a.used_at ?? null,
  };
}

/** One text row per approval, in the column order of regate.approvals (postgres/lifecycle/own-approvals.ts). */
export function agentRow(a: Approval): (string | null)[] {
  const v = agentView(a);
  return [v.id, v.status, v.reason, v.statement, v.requested_at, v.expires_at, v.decided_at, v.comment, v.grant_expires_at, v.used_at];
}
