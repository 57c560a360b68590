// Decision events for the export tests and bench: one Postgres and one HTTP shape, varied by outcome.

import type { LifecycleEvent, LifecycleKind } from "../audit/index.js";
import type { DecisionEvent, Outcome, PolicyInput } from "../decision/index.js";

/** Each event gets its own copy: tests change the events they are given. */
const session = {
  id: "s-1",
  principal: { subject: "agent-7", groups: ["agents", "support"], claims: {}, auth_method: "token" as const },
  client: { address: "10.0.0.7", port: 51234 },
  target: "crm-db",
  started_at: "2026-01-01T00:00:00.000Z",
  application_name: "psql",
};
const time = { now_ns: 1767225600000000000, rfc3339: "2026-01-01T00:00:00Z", weekday: 4, hour: 0 };

export function pgEvent(outcome: Outcome, kind = "select", sql = "SELECT email FROM customers WHERE id = $1", n = 0): DecisionEvent {
  const input = { version: 1, kind: "postgres", time, session: structuredClone(session), postgres: { message: "query", statements: [{ kind, sql }], search_path: null, transaction_status: "idle" } } as PolicyInput;
  return event(input, outcome, n);
}

export function httpEvent(outcome: Outcome, method = "GET", path = "/orders/1", n = 0): DecisionEvent {
  const input = { version: 1, kind: "http", time, session: { ...structuredClone(session), target: "crm" }, http: { method, scheme: "http", host: "crm.localhost:8080", path, query: "expand=1", route: { name: "crm", prefix: "/crm" } } } as PolicyInput;
  return event(input, outcome, n);
}

function event(input: PolicyInput, outcome: Outcome, n: number): DecisionEvent {
  return {
    decision: {
      decision_id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
      outcome,
      reasons: outcome === "deny" ? ["writes are not allowed"] : outcome === "approve" ? ["refunds need approval"] : [],
      mask: outcome === "allow" ? [{ column: "public.customers.email", strategy: "partial" }] : [],
      dry_run: false,
      revision: "rev-42",
      ...(outcome === "approve" ? { approve: { reason: "refunds need approval", approvers: "finance", timeout_seconds: 60 } } : {}),
    },
    path: "regate/decision",
    input,
    result: { allow: outcome !== "deny" },
    erased: [],
    masked: [],
    metrics: { timer_rego_query_eval_ns: 40_000, timer_regate_decision_ns: 90_000 },
    timestamp: "2026-01-01T00:00:00.123Z",
  };
}

/** One lifecycle event of each kind on each data path, each linked to a decision. */
export function lifecycleEvents(): LifecycleEvent[] {
  const kinds: LifecycleKind[] = ["approval_requested", "approval_deferred", "approval_approved", "approval_refused", "approval_expired", "approval_withdrawn", "approval_abandoned", "budget_cut", "session_killed", "session_locked"];
  return (["postgres", "http"] as const).flatMap((path) =>
    kinds.map(
      (kind, n): LifecycleEvent => ({
        kind,
        time: "2026-01-01T00:00:01.000Z",
        path,
        decision_id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
        ...(kind.startsWith("approval") ? { approval_id: "apr_0123456789abcdef", actor: "alice" } : {}),
        ...(kind === "session_locked" ? { lock_id: "lck_1" } : {}),
        session_id: session.id,
        principal: { subject: session.principal.subject, groups: [...session.principal.groups] },
        target: path === "postgres" ? session.target : "crm",
        client: { ...session.client },
        ...(kind === "approval_refused" ? { reason: "not during the freeze" } : {}),
        subject: path === "postgres" ? "UPDATE payments SET amount = 0 WHERE id = 1" : "POST /crm/refunds",
      }),
    ),
  );
}
