// Defer mode and hold-then-defer, end to end: real PostgreSQL, real pg driver and psql, through regate
// with a policy (built by the real opa CLI) that asks approval for writes to public.payments.
import { execFile } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalHash } from "../../src/approval/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, approvalBundle, client, heldId, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let defer: TestRegate;
let hold: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  defer = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: ["dba-oncall"], timeout_seconds: 120, mode: "defer", grant_seconds: 60 }));
  // Hold at most 1 s (the policy lowers the config's 45 s), then the defer answer.
  hold = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, hold_max_seconds: 1 }));
}, 120_000);

afterAll(async () => {
  await defer?.stop();
  await hold?.stop();
  await db?.stop();
});

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);
const REQUESTED = /^regate refused this statement: approval requested as (apr_[0-9a-f]{16}); re-run the same statement after a reviewer approves; it expires at \S+ \(decision [0-9a-f-]{36}\)\. Next: wait for a reviewer to approve apr_[0-9a-f]{16} \(.+\), then re-run exactly the same statement once; a changed statement needs a new approval\.$/;
const STILL = (id: string) => new RegExp(`^regate refused this statement: still pending as ${id}; re-run the same statement after a reviewer approves; it expires at \\S+ \\(decision`);
const approveNow = async (r: TestRegate, id: string) => {
  const a = (await api(r, `/approvals/${id}`)).body;
  const ok = await api(r, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "ok" });
  expect(ok.status).toBe(200);
  return ok.body;
};

describe("defer mode (pg driver)", () => {
  it("refused at once with the approval id; a re-run while pending joins it; once approved the identical re-run runs exactly once", async () => {
    const before = await amount(31);
    const { c } = await client(defer);
    try {
      const sql = "UPDATE payments SET amount = amount + 1 WHERE id = $1";
      const first = await refusal(c.query(sql, [31]));
      expect(first?.code).toBe("42501");
      expect(first?.message).toMatch(REQUESTED);
      const id = REQUESTED.exec(first!.message)![1]!;
      expect(await amount(31)).toBe(before);
      const shown = (await api(defer, `/approvals/${id}`)).body;
      expect(shown).toMatchObject({ status: "pending", mode: "defer", kind: "postgres", principal: "test-agent", groups: ["dba-oncall"], min: 1 });
      expect(shown.sha256).toBe(approvalHash("test-agent", "test-db", sql, [{ value: "31", format: "text", type_oid: 0 }]));

      // Re-run while pending: the same approval, no duplicate.
      const again = await refusal(c.query(sql, [31]));
      expect(again?.message).toMatch(STILL(id));
      expect((await api(defer, "/approvals?status=pending")).body.approvals.filter((a: any) => a.sha256 === shown.sha256).map((a: any) => a.id)).toEqual([id]);

      const approved = await approveNow(defer, id);
      expect(approved).toMatchObject({ status: "approved", reviewer: "alice" });
      expect(Date.parse(approved.grant_expires_at) - Date.parse(approved.decided_at)).toBe(60_000);
      expect(await amount(31)).toBe(before);

      // A changed statement (other parameter value) never uses the grant.
      const changed = await refusal(c.query(sql, [32]));
      expect(changed?.message).toMatch(REQUESTED);
      expect(REQUESTED.exec(changed!.message)![1]).not.toBe(id);

      // The identical re-run runs once...
      expect((await c.query(sql, [31])).rowCount).toBe(1);
      expect(await amount(31)).toBe(before + 1);
      expect((await api(defer, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
      // ...and a second identical run needs a new approval.
      const second = await refusal(c.query(sql, [31]));
      expect(second?.message).toMatch(REQUESTED);
      expect(REQUESTED.exec(second!.message)![1]).not.toBe(id);
      expect(await amount(31)).toBe(before + 1);
      // The session went on throughout.
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      const events = defer
        .logs()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, any>)
        .filter((l) => l["approval_id"] === id)
        .map((l) => l["event"]);
      expect(events).toEqual(["approval_requested", "approval_still_pending", "approval_approved", "approval_granted", "approval_used"]);
    } finally {
      await c.end();
    }
  });

  it("inside a transaction block: the refusal fails the block; after approval the statement runs in a new block and commits", async () => {
    const before = await amount(33);
    const { c } = await client(defer);
    try {
      const sql = "UPDATE payments SET amount = amount + 3 WHERE id = $1";
      await c.query("BEGIN");
      const e = await refusal(c.query(sql, [33]));
      expect(e?.message).toMatch(REQUESTED);
      await expect(c.query("SELECT 1")).rejects.toMatchObject({ code: "25P02" });
      await c.query("ROLLBACK");
      await approveNow(defer, REQUESTED.exec(e!.message)![1]!);
      await c.query("BEGIN");
      expect((await c.query(sql, [33])).rowCount).toBe(1);
      expect(await amount(33)).toBe(before);
      await c.query("COMMIT");
      expect(await amount(33)).toBe(before + 3);
    } finally {
      await c.end();
    }
  });

  it("psql -c: refused with the approval id on the first line; approved; the same psql -c applies once, then is refused again", async () => {
    const before = await amount(34);
    const sql = "UPDATE payments SET amount = amount + 4 WHERE id = 34";
    const psql = () =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile("psql", [defer.url(), "-X", "-v", "ON_ERROR_STOP=1", "-c", sql], (err, stdout, stderr) => resolve({ code: err ? ((err as any).code as number) : 0, stdout, stderr }));
      });
    const first = await psql();
    expect(first.code).not.toBe(0);
    const line = /^ERROR: {2}(.*)$/m.exec(first.stderr)?.[1] ?? "";
    expect(line).toMatch(/^regate refused this statement: approval requested as apr_[0-9a-f]{16}; re-run the same statement after a reviewer approves/);
    const id = /apr_[0-9a-f]{16}/.exec(line)![0];
    expect((await api(defer, `/approvals/${id}`)).body.sha256).toBe(approvalHash("test-agent", "test-db", sql, undefined));
    await approveNow(defer, id);
    const second = await psql();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("UPDATE 1");
    expect(await amount(34)).toBe(before + 4);
    const third = await psql();
    expect(third.code).not.toBe(0);
    expect(third.stderr).toMatch(/approval requested as apr_/);
    expect(await amount(34)).toBe(before + 4);
  });
});

describe("a named prepared statement without parameters", () => {
  it("approved once runs once: a later Bind of the same statement needs a new approval", async () => {
    const before = await amount(37);
    const { c } = await client(defer);
    try {
      const q = { name: "pay37", text: "UPDATE payments SET amount = amount + 7 WHERE id = 37" };
      const first = await refusal(c.query(q));
      expect(first?.message).toMatch(REQUESTED);
      await approveNow(defer, REQUESTED.exec(first!.message)![1]!);
      expect((await c.query(q)).rowCount).toBe(1);
      expect(await amount(37)).toBe(before + 7);
      // pg now sends only Bind/Execute for the named statement: regate must ask again.
      const again = await refusal(c.query(q));
      expect(again?.message).toMatch(REQUESTED);
      expect(await amount(37)).toBe(before + 7);
    } finally {
      await c.end();
    }
  });
});

describe("hold, then defer (hold_max_seconds)", () => {
  it("held with a notice, answered 'still pending' after the hold maximum; the approval stays pending and the identical re-run after approval runs once", async () => {
    const before = await amount(35);
    const { c, notices } = await client(hold);
    try {
      const sql = "UPDATE payments SET amount = amount + 5 WHERE id = $1";
      const started = Date.now();
      const e = await refusal(c.query(sql, [35]));
      const waited = Date.now() - started;
      const id = heldId(notices)!;
      expect(id).toMatch(/^apr_/);
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(waited).toBeLessThan(5000);
      expect(e?.code).toBe("42501");
      expect(e?.message).toMatch(STILL(id));
      expect((await api(hold, `/approvals/${id}`)).body.status).toBe("pending");
      expect(await amount(35)).toBe(before);
      await approveNow(hold, id);
      expect((await c.query(sql, [35])).rowCount).toBe(1);
      expect(await amount(35)).toBe(before + 5);
      // Used up: the next identical run is held again for a new approval.
      const next = await refusal(c.query(sql, [35]));
      expect(next?.message).toMatch(/still pending as apr_/);
      expect(heldId(notices.slice(1))).not.toBe(id);
      expect(await amount(35)).toBe(before + 5);
    } finally {
      await c.end();
    }
  });

  it("approved while still held: runs at once, in the same call", async () => {
    const before = await amount(36);
    const { c, notices } = await client(hold);
    try {
      const run = c.query("UPDATE payments SET amount = amount + 6 WHERE id = $1", [36]);
      const id = await until(() => heldId(notices));
      await approveNow(hold, id);
      expect((await run).rowCount).toBe(1);
      expect(await amount(36)).toBe(before + 6);
    } finally {
      await c.end();
    }
  });
});
