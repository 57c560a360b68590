export type ApprovalStatus = "pending" | "approved" | "refused" | "expired" | "withdrawn";

/** One request for a human's approval of one held statement. */
export interface Approval {
  /** `apr_` and 16 hex digits. */
  id: string;
  status: ApprovalStatus;
  /** The decision that asked for it (links the approval to the decision log). */
  decision_id: string;
  /** The policy's reason and who it names as approvers. */
  reason: string;
  approvers: string;
  principal: string;
  target: string;
  session_id: string;
  /** What would run: statement text and Bind parameter values as the policy saw them. */
  statement: { message: string; sql: string; parameters?: unknown[] };
  /** SHA-256 (hex) over principal, target, statement text and parameter values. */
  sha256: string;
  in_transaction: boolean;
  requested_at: string;
  expires_at: string;
  decided_at?: string;
  reviewer?: string;
  comment?: string;
}

export type ActResult = { ok: true; approval: Approval } | { ok: false; error: "not_found" | "not_pending" | "hash_mismatch" | "reason_required" };
