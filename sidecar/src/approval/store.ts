import type { Approval, ApprovalStatus, Vote } from "./types.js";

/** What a vote did: counted (and, with the quorum reached, approved), or why it was not. */
export type VoteResult = { ok: true; approval: Approval } | { ok: false; error: "not_found" | "not_pending" | "already_voted" };

/** The terms a store keeps beside an approval so that any replica can finish it. */
export interface StoredTerms {
  min: number;
  grantSeconds: number;
}

/**
 * Where approvals live. Every transition is a compare-and-set on `pending`: of two replicas (or two
 * reviewers) acting at once, one wins and the other is told it lost, so a statement runs at most once.
 * `get`/`list` are synchronous views for the API and the agent's own approvals (postgres: a mirror kept
 * current by NOTIFY and re-reads). Held: a client of this replica waits for the approval; a vote that
 * reaches the quorum on a held approval approves it for the holder, otherwise it becomes a grant.
 */
export interface ApprovalStore {
  /** True when other replicas share the store (postgres). */
  readonly shared: boolean;
  get(id: string): Approval | undefined;
  /** Pending and recent finished approvals, newest first. */
  list(): Approval[];
  /** The pending approval for this digest, read from the store itself. */
  pendingFor(sha256: string): Promise<Approval | undefined>;
  /** A fresh read of one approval (postgres: from the table). */
  read(id: string): Promise<Approval | undefined>;
  create(a: Approval, terms: StoredTerms, held: boolean): Promise<void>;
  /** Marks a pending approval held by this replica (only when nobody holds it) or no longer held; returns the approval as it is after. */
  hold(id: string, held: boolean): Promise<{ changed: boolean; approval?: Approval }>;
  /** Adds one reviewer's approving vote; the quorum approves it (for its holder, or as a grant). */
  vote(id: string, vote: Vote): Promise<VoteResult>;
  /** pending -> status; undefined when it was no longer pending (another replica or reviewer won). */
  finish(id: string, status: Exclude<ApprovalStatus, "pending" | "approved">, reviewer?: string, comment?: string): Promise<Approval | undefined>;
  /** Uses the approval held here once it is approved: true for exactly one caller. */
  use(id: string): Promise<Approval | undefined>;
  /**
   * Uses the live grant for this digest given for these objects (Approval.objects; undefined: none named):
   * exactly one request across replicas gets it. A grant for other objects is left as it is.
   */
  takeGrant(sha256: string, objects?: string): Promise<Approval | undefined>;
  /** Ends an approval's unused grant now (a lock): no re-run may use it; undefined when there was none left. */
  revokeGrant(id: string): Promise<Approval | undefined>;
  /** Told of approvals another replica changed (re-read after its NOTIFY or a resync). */
  onChange(listener: (a: Approval) => void): void;
  /** Told of transitions this store made on its own (expiry and abandonment sweeps). */
  onSwept(listener: (a: Approval) => void): void;
  close(): Promise<void>;
}
