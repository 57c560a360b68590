/** `abandoned`: the replica holding the statement died (store: postgres); nothing runs later. */
export type ApprovalStatus = "pending" | "approved" | "refused" | "expired" | "withdrawn" | "abandoned";

/** `hold`: the client waits (up to hold_max_seconds); `defer`: the client is answered at once and re-runs. */
export type ApprovalMode = "hold" | "defer";

/** One reviewer's approving vote (a quorum needs `min` of them from distinct reviewers). */
export interface Vote {
  reviewer: string;
  at: string;
  comment?: string;
}

/** One request for a human's approval of one statement or HTTP request. */
export interface Approval {
  /** `apr_` and 16 hex digits. */
  id: string;
  status: ApprovalStatus;
  /** `postgres` (a statement) or `http` (a request; `statement.sql` is its method and path). */
  kind: "postgres" | "http";
  mode: ApprovalMode;
  /** The decision that asked for it (links the approval to the decision log). */
  decision_id: string;
  /** The policy's reason and who it names as approvers. */
  reason: string;
  approvers: string;
  /** Reviewer groups allowed to vote (empty: any reviewer). */
  groups: string[];
  /** Distinct reviewers' approvals needed. */
  min: number;
  /** Approving needs a comment. */
  reason_required: boolean;
  votes: Vote[];
  principal: string;
  target: string;
  session_id: string;
  /** What would run: statement text and Bind parameter values as the policy saw them (HTTP: method and path; the body as the one parameter). */
  statement: {
    message: string;
    sql: string;
    parameters?: unknown[];
    /** What a reviewer must be told about the text and values shown: characters marked, runs shortened, values cut (review-view.ts). */
    notes?: string[];
  };
  /** SHA-256 (hex) over principal, target, statement text and parameter values (HTTP: method, canonical path, body). */
  sha256: string;
  /**
   * Postgres: SHA-256 of the objects the statement's names resolved to when it was asked (postgres/approved-objects.ts).
   * The approval runs only a statement whose names resolve to the same objects, unchanged; absent: it names none.
   */
  objects?: string;
  in_transaction: boolean;
  requested_at: string;
  expires_at: string;
  decided_at?: string;
  reviewer?: string;
  comment?: string;
  /** Approved while nobody was held: the one identical re-run allowed until then. */
  grant_expires_at?: string;
  /** When the approved statement ran (held, or the re-run that used the grant). */
  used_at?: string;
}

export type ActError = "not_found" | "not_pending" | "hash_mismatch" | "reason_required" | "not_an_approver" | "self_approval" | "already_voted";
export type ActResult = { ok: true; approval: Approval } | { ok: false; error: ActError };
