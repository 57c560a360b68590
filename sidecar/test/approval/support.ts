import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { opaBuild } from "../policy/opa.js";
import type { TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

export const REVIEWER = { name: "alice", token: "reviewer-token-3c9e1b" };

/** regate with approvals on, the admin listener on a free port and one reviewer. */
export function startApprovingRegate(db: TestPostgres, approvals: Record<string, unknown> = {}, bundle?: string, extra: Record<string, unknown> = {}): Promise<TestRegate> {
  return startRegate(db, {
    ...extra,
    ...(bundle ? { policy: { bundle, watch_interval_ms: 0 } } : {}),
    admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } },
    approvals: { enabled: true, timeout_seconds: 30, reviewers: [{ name: REVIEWER.name, token: { value: REVIEWER.token }, groups: ["dba-oncall"] }], ...approvals },
  });
}

export async function api(regate: TestRegate, path: string, body?: unknown, token = REVIEWER.token): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${regate.app.ports.admin}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** A connected pg client that records the notices it gets. */
export async function client(regate: TestRegate): Promise<{ c: pg.Client; notices: pg.NoticeMessage[] }> {
  const c = new pg.Client({ connectionString: regate.url() });
  const notices: pg.NoticeMessage[] = [];
  c.on("notice", (n) => notices.push(n));
  c.on("error", () => {});
  await c.connect();
  return { c, notices };
}

export { until } from "../support/wait.js";

/** The approval id named by the hold notice. */
export function heldId(notices: pg.NoticeMessage[]): string | undefined {
  for (const n of notices) {
    const m = /held for approval as (apr_[0-9a-f]{16})/.exec(n.message ?? "");
    if (m) return m[1];
  }
  return undefined;
}

/**
 * A policy bundle (built by the real opa CLI) that asks approval, with `approve` as given, for writes to
 * public.payments (Postgres), HTTP writes to paths under /refunds and MCP tools named refund*, and allows
 * everything else.
 */
export function approvalBundle(approve: Record<string, unknown>, revision = "approvals-test"): string {
  const rego = `package regate

needs_approval if {
	some s in input.postgres.statements
	some t in s.tables
	t.access == "write"
	t.name == "payments"
}

needs_approval if {
	input.kind == "http"
	input.http.method in {"POST", "PUT", "PATCH", "DELETE"}
	startswith(input.http.path, "/refunds")
}

needs_approval if {
	input.http.mcp.method == "tools/call"
	startswith(input.http.mcp.tool, "refund")
}

approval := {"approve": ${JSON.stringify(approve)}} if needs_approval
else := {}

decision := object.union({"allow": true, "deny": [], "mask": []}, approval)
`;
  const path = join(mkdtempSync(join(tmpdir(), "regate-apr-bundle-")), "bundle.tar.gz");
  writeFileSync(path, opaBuild({ revision, rego }));
  return path;
}
