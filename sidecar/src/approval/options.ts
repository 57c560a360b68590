import type { Logger } from "../log.js";
import type { ReviewerIdentity } from "./ballot.js";
import type { ReviewUrl } from "./review-url.js";
import type { Approval } from "./types.js";

export interface ApprovalServiceOptions {
  log: Logger;
  /** Used when the policy gives no approve.timeout_seconds. */
  timeoutSeconds: number;
  /** The longest a client is held (approvals.hold_max_seconds; the policy may lower it). */
  holdMaxSeconds?: number;
  /** How long an approval given while nobody is held allows one identical re-run, when the policy gives no grant_seconds. */
  grantSeconds?: number;
  /** Inside a transaction block the hold stays this far below the upstream's idle timeout. */
  idleMarginSeconds: number;
  /** The upstream's idle_in_transaction_session_timeout in ms (0 = off). */
  idleInTransactionMs: () => Promise<number>;
  /** Where reviewers act, named in the agent's notice (read each time: review-url.ts). */
  reviewUrl: ReviewUrl;
  /** Agent identities (they never vote, whatever a reviewer entry says). */
  agents?: Iterable<string>;
  /** Configured reviewers' groups, for a reviewer named by a string (e.g. a chat integration's mapping). */
  reviewers?: readonly ReviewerIdentity[];
  /** Told of every new pending approval (chat webhook); must not throw. */
  onRequested?: (a: Approval) => void;
  /** Told of every transition after it is logged (`approval_requested`, `approval_approved`, …; the SIEM export). */
  onEvent?: (event: string, a: Approval) => void;
  /** Approvals one principal may have pending at once (approvals.max_pending_per_agent); default 20. */
  maxPendingPerAgent?: number;
  /** Finished approvals kept for the history list. */
  historySize?: number;
  /** Credentials regate holds, never shown in an approval (held-secrets.ts); read for each new approval (token files change). */
  secrets?: () => readonly string[];
}

/** What is asked to be approved, as an adapter describes it. */
export interface ApprovalSubject {
  kind: Approval["kind"];
  session_id: string;
  principal: string;
  target: string;
  statement: Approval["statement"];
  sha256: string;
  /** The digest of what is about to be forwarded, recomputed when a held request is approved. */
  current(): string;
  /** Postgres: the digest of the objects its names resolve to (Approval.objects). */
  objects?: string;
  /** Postgres: `objects` read again, when a held statement is approved (another connection may have changed them). */
  objectsNow?(): Promise<string | undefined>;
  in_transaction: boolean;
}

/** How an adapter holds its client: told when the hold starts, aborted when the client withdraws. */
export interface HoldControl {
  signal: AbortSignal;
  /** The longest this client may wait (an open transaction's idle timeout); undefined: no cap. */
  capSeconds?: number;
  /** The client is now held for `a` (Postgres: a NoticeResponse). */
  held?(a: Approval, holdSeconds: number): void;
}
