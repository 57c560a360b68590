// A group lock made after a restart ends the grants its members were given before: approvals and locks in
// PostgreSQL (shared stores), the agent known to the new process only by the subject its approval records.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalBundle, api, REVIEWER } from "../approval/support.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, connect, OTHER, RESPONDER, startIncidentRegate, until } from "./support.js";

let db: TestPostgres;
let bundle: string;
const WRITE = "UPDATE payments SET amount = amount + 1 WHERE id = 1";
const REQUESTED = /approval requested as (apr_[0-9a-f]{16})/;

beforeAll(async () => {
  db = await startPostgres();
  // regate creates its approvals and locks tables as its upstream role.
  await db.query("GRANT CREATE ON DATABASE regate_test TO app_scram");
  bundle = approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, mode: "defer", grant_seconds: 600 });
}, 120_000);

afterAll(async () => {
  await db?.stop();
});

function start(): Promise<TestRegate> {
  return startIncidentRegate(db, {
    policy: { bundle, watch_interval_ms: 0 },
    approvals: { enabled: true, store: "postgres", timeout_seconds: 120, reviewers: [{ name: REVIEWER.name, token: { value: REVIEWER.token }, groups: ["dba-oncall"] }] },
    incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }], locks: { store: "postgres" } },
  });
}

const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);
const amount = async () => Number((await db.query("SELECT amount FROM payments WHERE id = 1"))[0].amount);

describe("a group lock after a restart", () => {
  it("ends a member's grant given before it: once the lock is lifted, the re-run asks anew and runs nothing", async () => {
    const first = await start();
    let id: string;
    try {
      const c = await connect(first.url(OTHER.user, OTHER.token));
      const e = await refusal(c.query(WRITE));
      await c.end();
      id = REQUESTED.exec(e?.message ?? "")?.[1] ?? "";
      expect(id, e?.message).not.toBe("");
      const a = (await api(first, `/approvals/${id}`)).body;
      expect((await api(first, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "one-off fix" })).status).toBe(200);
    } finally {
      await first.stop();
    }

    const second = await start();
    try {
      const before = await amount();
      const lock = (await admin(second, "POST", "/locks", { target: { group: "batch" }, message: "batch jobs misbehaving, INC-40" })).body;
      await until(() => second.logs().includes('"event":"lock_enforced"'));
      expect((await refusal(connect(second.url(OTHER.user, OTHER.token))))?.code).toBe("42501");
      expect((await admin(second, "DELETE", `/locks/${lock.id}`)).status).toBe(200);

      // Lifted: the agent is back, but the reviewer's word given before the lock no longer runs its write.
      const c = await connect(second.url(OTHER.user, OTHER.token));
      const e = await refusal(c.query(WRITE));
      await c.end();
      expect(e?.code, e?.message).toBe("42501");
      expect(REQUESTED.exec(e?.message ?? "")?.[1]).not.toBe(id);
      expect(await amount()).toBe(before);
      expect((await api(second, `/approvals/${id}`)).body.used_at).toBeUndefined();
    } finally {
      await second.stop();
    }
  }, 120_000);
});
