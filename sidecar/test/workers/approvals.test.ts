import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalBundle, heldId } from "../approval/support.js";
import type { RegateChild } from "../reliability/support/regate-child.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { until } from "../support/wait.js";
import { onBothWorkers, startWorkers, workerOf } from "./support.js";

// workers: 2 with approvals.store: postgres (docs/workers.md): a statement held by worker 1 is approved
// through the admin listener, which lives in worker 0; the shared store carries the decision across.

const REVIEWER = { name: "alice", token: "workers-reviewer-token-4d2a" };
let db: TestPostgres;
let regate: RegateChild;

beforeAll(async () => {
  db = await startPostgres();
  await db.query(`GRANT CREATE ON DATABASE ${db.database} TO ${db.users.scram.user}`);
  const bundle = approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, hold_max_seconds: 30 }, "workers-approvals");
  regate = await startWorkers(
    db,
    "workers-approvals",
    // The admin listener's port is chosen at bind time (port 0), which only worker 0 knows: the review URL is given.
    { approvals: { enabled: true, store: "postgres", resync_seconds: 1, review_url: "https://regate-admin.internal/approvals/ui", reviewers: [{ name: REVIEWER.name, token: { value: REVIEWER.token }, groups: ["dba-oncall"] }] } },
    bundle,
  );
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function reviewerCall(path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${regate.ports.admin}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${REVIEWER.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

describe("workers: 2, approvals.store: postgres", () => {
  it("a write held on worker 1 runs once approved through the admin API of worker 0", async () => {
    const clients = await onBothWorkers(regate.url(), 1);
    try {
      const c = clients.find((x) => workerOf(x) === 1)!;
      const notices: pg.NoticeMessage[] = [];
      c.on("notice", (n) => notices.push(n));
      const before = Number((await db.query("SELECT amount FROM payments WHERE id = 41"))[0].amount);
      const q = c.query("UPDATE payments SET amount = amount + 1 WHERE id = 41");
      const id = await until(() => heldId(notices));
      const seen = await until(async () => {
        const r = await reviewerCall(`/approvals/${id}`);
        return r.body.status === "pending" ? r.body : undefined;
      });
      const ok = await reviewerCall(`/approvals/${id}/approve`, { sha256: seen.sha256, comment: "ticket 41" });
      expect(ok).toMatchObject({ status: 200, body: { status: "approved", reviewer: REVIEWER.name } });
      expect((await q).rowCount).toBe(1);
      expect(Number((await db.query("SELECT amount FROM payments WHERE id = 41"))[0].amount)).toBe(before + 1);
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    }
  }, 60_000);
});
