// The input/decision contract shared by every adapter and the policy engine.
// testdata/schemas/{input,decision}.schema.json are the normative form; these types mirror them.

export type Kind = "postgres" | "http";

export interface Principal {
  /** Stable agent identity: the token's configured subject or the JWT `sub`. */
  subject: string;
  groups: string[];
  /** Verified JWT claims (or the configured attributes of a static token). Never the token itself. */
  claims: Record<string, unknown>;
  auth_method: "token" | "scram-sha-256" | "jwt";
}

export interface SessionInput {
  id: string;
  principal: Principal;
  client: { address: string; port: number };
  /** Name of the upstream target from config (database or HTTP route). */
  target: string;
  started_at: string;
  application_name?: string;
  /**
   * Postgres: the upstream session's current_user was its session_user when it began (no role default
   * from ALTER ROLE … SET role). Resetting the role or the session authorization then changes nothing.
   */
  started_as_login_role?: boolean;
}

export interface TimeInput {
  /** The sidecar passes the clock: time.* builtins do not exist in the WASM target. */
  now_ns: number;
  rfc3339: string;
  /** 0 = Sunday, UTC. */
  weekday: number;
  hour: number;
}

export interface PolicyInput {
  version: 1;
  kind: Kind;
  time: TimeInput;
  session: SessionInput;
  postgres?: unknown;
  http?: unknown;
  /** Rows, bytes and statements the agent may still use (Postgres, when budgets are configured). */
  budget?: unknown;
}

export type MaskStrategy = "redact" | "partial" | "hash" | "null";
export type DetectorName = "email" | "card" | "ssn" | "phone" | "iban" | "aws_key" | "jwt" | "secret";

export interface MaskRule {
  /** `schema.table.column` of a base column (Postgres). */
  column?: string;
  /** JSON field name matched at any depth, or a JSON pointer when it starts with "/" (HTTP). */
  field?: string;
  /** A value detector applied to every text value / JSON string. */
  detector?: DetectorName;
  strategy: MaskStrategy;
}

export interface ApproveRequest {
  reason: string;
  /** Reviewer group(s) that may vote; a string names one group; empty: any reviewer. */
  approvers: string | string[];
  /** How long the approval may stay pending. */
  timeout_seconds: number;
  /** `hold` (default): the client waits up to hold_max_seconds; `defer`: refused at once, re-run once approved. */
  mode?: "hold" | "defer";
  /** Lowers approvals.hold_max_seconds for this request. */
  hold_max_seconds?: number;
  /** How long an approval given after the client stopped waiting allows one identical re-run. */
  grant_seconds?: number;
  /** Distinct reviewers' approvals needed (quorum; default 1). */
  min?: number;
  /** An approving reviewer must give a comment. */
  reason_required?: boolean;
}

/** What the policy's entrypoint returns (after strict validation). */
export interface PolicyDecision {
  allow: boolean;
  deny: string[];
  approve?: ApproveRequest;
  mask: MaskRule[];
  /** HTTP only: status for a denial (default 403). */
  status?: number;
  /** The policy allows this decision to be reused (see decision.schema.json). */
  cache?: CacheDirective;
  /** What the agent can do next, for the first line of a refusal. */
  next_step?: string;
}

export interface CacheDirective {
  ttl_seconds: number;
  across: ("time" | "parameters" | "budget" | "request" | "constants")[];
}

export type Outcome = "allow" | "deny" | "approve";

/** The enforced result: precedence applied, errors folded in. */
export interface Decision {
  decision_id: string;
  outcome: Outcome;
  /** Reasons the client is shown. Never contains input values. */
  reasons: string[];
  mask: MaskRule[];
  approve?: ApproveRequest;
  status?: number;
  /** Set when the decision is a fail-closed deny caused by an error (error catalog code). */
  error_code?: string;
  /** Dry-run: the real outcome is logged, the request is allowed. */
  dry_run: boolean;
  revision: string;
  cache?: CacheDirective;
  next_step?: string;
  /** This decision reuses the policy's earlier one with that id (the policy allowed it with `cache`). */
  reused_from?: string;
}

/**
 * Precedence, documented in docs/policy.md:
 * deny reasons (or allow != true) beat approve, approve beats allow; masks ride along with allow and approve.
 */
export function outcomeOf(d: PolicyDecision): Outcome {
  if (d.deny.length > 0 || d.allow !== true) return "deny";
  if (d.approve) return "approve";
  return "allow";
}
