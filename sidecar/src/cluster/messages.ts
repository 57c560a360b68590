// The messages the primary and its workers exchange over node:cluster's IPC channel. Every one carries
// `rg: 1` so that other users of the channel (prom-client, node's own cluster messages) are left alone.

/** What a worker asks the primary (it answers with `res`). */
export type PrimaryOp =
  | "cancel" // { pid, key }: a CancelRequest for a session another worker owns
  | "sessions.list" // {}: every worker's live sessions
  | "sessions.kill" // { id, by, reason }: end a session wherever it lives
  | "locks.snapshot" // {}: the memory locks, for a worker that starts
  | "locks.add" // { lock }
  | "locks.remove" // { id }
  | "locks.share" // { lock }: a lock this worker stored in the postgres lock table, for every worker to adopt now
  | "metrics" // {}: every worker's metrics, aggregated
  | "mcp.snapshot" // {}: every MCP session record, for a worker that starts
  | "mcp.admit" // { subject, id, resumes, mask }: book an exchange the worker's copy cannot admit alone
  | "mcp.issued" // { subject, at, id }: an upstream issued a session id through this worker
  | "mcp.ended" // { subject, at, id }: a session's DELETE succeeded
  | "mcp.touch" // { ids }: sessions used since the last touch (least-recently-used order only)
  | "budget.lease" // LeaseRequest: an agent's budget lease, charge and give-back (agent-budgets-primary.ts)
  | "logins.failed" // FailureReport: failed agent logins to count (login-throttle-primary.ts)
  | "logins.snapshot"; // {}: the sources refused now, for a worker that starts

/** What the primary asks a worker (it answers with `reply`). */
export type WorkerOp = "cancel" | "sessions.list" | "sessions.kill" | "locks.added" | "locks.removed" | "locks.adopt" | "metrics" | "mcp.changed" | "logins.throttled";

export type ToPrimary =
  | { rg: 1; t: "ready"; slot: number }
  | { rg: 1; t: "req"; id: number; op: PrimaryOp; body: unknown }
  | { rg: 1; t: "reply"; id: number; ok: boolean; body?: unknown; error?: string };

export type ToWorker =
  | { rg: 1; t: "res"; id: number; ok: boolean; body?: unknown; error?: string }
  | { rg: 1; t: "call"; id: number; op: WorkerOp; body: unknown };

export function isOurs<T extends { rg: 1 }>(m: unknown): m is T {
  return typeof m === "object" && m !== null && (m as { rg?: unknown }).rg === 1;
}

/** The environment variable that tells a forked worker its slot (not REGATE_: that prefix is config). */
export const SLOT_ENV = "NODE_REGATE_WORKER_SLOT";
/** How long a call across the cluster may take before it counts as unanswered. */
export const CALL_TIMEOUT_MS = 10_000;
/** How long a worker holds an MCP exchange for the primary to book a change to its session; then it is refused. */
export const MCP_CALL_TIMEOUT_MS = 3_000;
/** How long the primary waits for every listening worker to confirm an MCP session change (under the above). */
export const MCP_SHARE_TIMEOUT_MS = 2_000;
