import type { SessionDirectory, SessionView } from "../admin/index.js";
import type { McpSessionStore } from "../http/index.js";
import type { Lock, LockStore } from "../locks/index.js";
import type { LoginThrottle } from "../identity/index.js";
import type { Logger } from "../log.js";
import type { CancelKeys } from "../postgres/index.js";
import type { AgentBudgetBook } from "../postgres/lifecycle/agent-budget.js";
import { ClusterAgentBudgets, LEASE_TIMEOUT_MS } from "./agent-budgets.js";
import type { LeaseAnswer } from "./agent-budgets-primary.js";
import { issuePid, ownerSlot } from "./cancel-keys.js";
import { WorkerLink } from "./link.js";
import { ClusterLockStore } from "./lock-store.js";
import { ClusterSharedLockStore } from "./shared-lock-store.js";
import { ClusterLoginThrottle } from "./login-throttle.js";
import type { LoginLimits } from "./login-throttle-primary.js";
import { ClusterMcpSessions } from "./mcp-sessions.js";

/** What this worker serves to the others, through the primary. */
export interface LocalServices {
  sessions: SessionDirectory;
  /** prom-client's getMetricsAsJSON() of this worker's registry. */
  metrics(): Promise<unknown>;
  /** A CancelRequest for a session of this worker; false when the key is unknown. */
  cancel(pid: number, key: Buffer): Promise<boolean>;
}

/**
 * How app.ts runs as one of N workers (docs/workers.md): cancel keys that name their worker, memory
 * locks kept equal in every worker, the sessions API and /metrics answered for the whole cluster, and
 * the admin listener in worker 0 only (one port, the same answer whichever worker holds the session).
 */
export interface ClusterRole {
  readonly slot: number;
  readonly workers: number;
  /** Whether this worker runs the admin listener. */
  readonly admin: boolean;
  readonly cancelKeys: CancelKeys;
  /** The memory lock store, shared through the primary. */
  lockStore(): Promise<LockStore>;
  /** A shared store (postgres) whose new locks every worker adopts before add() resolves. */
  sharedLockStore(inner: LockStore): LockStore;
  /** MCP session records, kept by the primary with a copy here; call before the HTTP listener opens. */
  mcpSessions(): Promise<McpSessionStore>;
  /** Agent-wide budgets (postgres.budgets agent_*), counted by the primary for every worker. */
  agentBudgets(): AgentBudgetBook;
  /** Failed agent logins, counted by the primary for every worker; `share` is this worker's own count at limit / N, used while the primary does not answer. */
  loginThrottle(limits: LoginLimits, share: LoginThrottle): ClusterLoginThrottle;
  /** Every worker's sessions. */
  readonly sessions: SessionDirectory;
  /** Every worker's metrics, aggregated by the primary (counters and gauges summed, see docs/workers.md). */
  metricsText(): Promise<string>;
  /** Offers this worker's sessions, metrics and cancels to the cluster; call once the listeners exist. */
  serve(local: LocalServices): void;
  /** Tells the primary this worker listens. */
  ready(): void;
}

export function workerRole(slot: number, workers: number, log: Logger): ClusterRole {
  const link = new WorkerLink(slot);
  const mine = (pid: number) => ownerSlot(pid) === slot;
  return {
    slot,
    workers,
    admin: slot === 0,
    cancelKeys: {
      issue: () => issuePid(slot),
      isMine: mine,
      forward(pid, key) {
        const owner = ownerSlot(pid);
        if (owner === undefined) return void log.debug("cancel request with a pid no worker issued dropped");
        // Rare and worth seeing: a cancel that crossed workers (the pid is the one regate issued, not the key).
        log.info({ owner, pid }, "cancel request forwarded to the worker that owns the session");
        link.request("cancel", { pid, key: key.toString("hex") }).catch((err: unknown) => log.warn({ err }, "cancel request could not be forwarded to its worker"));
      },
    },
    lockStore: () => new ClusterLockStore(link).start(),
    sharedLockStore: (inner) => (inner.adopt ? new ClusterSharedLockStore(inner as LockStore & { adopt(lock: Lock): void }, link) : inner),
    agentBudgets: () => new ClusterAgentBudgets((req) => link.request<LeaseAnswer>("budget.lease", req, LEASE_TIMEOUT_MS)),
    loginThrottle: (limits, share) => new ClusterLoginThrottle(link, limits, share, log.child({ component: "identity" })).start(),
    mcpSessions: () => new ClusterMcpSessions(link, log.child({ component: "mcp-sessions" })).start(),
    sessions: {
      list: () => link.request<{ sessions: SessionView[]; unanswered?: number[] }>("sessions.list"),
      kill: (id, by, reason) => link.request<boolean>("sessions.kill", { id, by, reason }),
    },
    metricsText: () => link.request<string>("metrics"),
    serve(local) {
      link.handle("sessions.list", () => local.sessions.list());
      link.handle("sessions.kill", (b: { id: string; by: string; reason: string }) => local.sessions.kill(b.id, b.by, b.reason));
      link.handle("metrics", () => local.metrics());
      link.handle("cancel", (b: { pid: number; key: string }) => {
        // Only a pid this worker issued; the owner checks the secret key (cancel-registry.ts, timingSafeEqual).
        if (!mine(b.pid) || !/^[0-9a-f]{8}$/.test(b.key)) return false;
        return local.cancel(b.pid, Buffer.from(b.key, "hex"));
      });
    },
    ready: () => link.ready(),
  };
}
