import { execFile } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalHash } from "../../src/approval/index.js";
import { packageRoot } from "../../src/paths.js";
import { clientGate } from "../clients/run.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, approvalBundle, client, heldId, REVIEWER, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);
const events = (id: string) =>
  regate
    .logs()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((l) => l["approval_id"] === id)
    .map((l) => l["event"] as string);

describe("a statement held for approval (pg driver)", () => {
  it("approved through the API: the agent is told at once, the UPDATE runs exactly once, the session goes on", async () => {
    const before = await amount(11);
    const { c, notices } = await client(regate);
    try {
      const held = c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [11]);
      const id = await until(() => heldId(notices));
      expect(notices[0]!.hint).toMatch(/\/approvals\/ui/);
      const shown = await api(regate, `/approvals/${id}`);
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({ status: "pending", principal: "test-agent", target: "test-db", reason: "writes to public.payments need approval" });
      expect(shown.body.sha256).toBe(approvalHash("test-agent", "test-db", "UPDATE payments SET amount = amount + 1 WHERE id = $1", [{ value: "11", format: "text", type_oid: 0 }]));
      expect((await api(regate, "/approvals?status=pending")).body.approvals.map((a: any) => a.id)).toContain(id);
      // Nothing ran while held.
      expect(await amount(11)).toBe(before);
      const ok = await api(regate, `/approvals/${id}/approve`, { sha256: shown.body.sha256, comment: "fine" });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ status: "approved", reviewer: REVIEWER.name });
      expect((await held).rowCount).toBe(1);
      expect(await amount(11)).toBe(before + 1);
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      // Approving twice does nothing more.
      expect((await api(regate, `/approvals/${id}/approve`, { sha256: shown.body.sha256 })).status).toBe(409);
      expect(await amount(11)).toBe(before + 1);
      expect(events(id)).toEqual(["approval_requested", "approval_approved"]);
    } finally {
      await c.end();
    }
  });

  it("approved inside a transaction block: it runs in the block and commits with it", async () => {
    const before = await amount(20);
    const { c, notices } = await client(regate);
    try {
      await c.query("BEGIN");
      const held = c.query("UPDATE payments SET amount = amount + 7 WHERE id = $1", [20]);
      const id = await until(() => heldId(notices));
      const a = (await api(regate, `/approvals/${id}`)).body;
      expect(a.in_transaction).toBe(true);
      await api(regate, `/approvals/${id}/approve`, { sha256: a.sha256 });
      expect((await held).rowCount).toBe(1);
      // Not visible outside the block before COMMIT.
      expect(await amount(20)).toBe(before);
      await c.query("COMMIT");
      expect(await amount(20)).toBe(before + 7);
    } finally {
      await c.end();
    }
  });

  it("refused: 42501 with the reviewer's reason, the database unchanged, the session usable inside its block", async () => {
    const before = await amount(12);
    const { c, notices } = await client(regate);
    try {
      await c.query("BEGIN");
      const held = c.query("UPDATE payments SET amount = 0 WHERE id = $1", [12]).then(
        () => undefined,
        (e: pg.DatabaseError) => e,
      );
      const id = await until(() => heldId(notices));
      expect((await api(regate, `/approvals/${id}/refuse`, { comment: "" })).status).toBe(400);
      const r = await api(regate, `/approvals/${id}/refuse`, { comment: "not during the freeze" });
      expect(r.body).toMatchObject({ status: "refused", reviewer: "alice", comment: "not during the freeze" });
      const err = await held;
      expect(err?.code).toBe("42501");
      expect(err?.message).toMatch(/^regate refused this statement: approval apr_[0-9a-f]{16} refused by alice: not during the freeze \(decision [0-9a-f-]{36}\)\. Next: do not retry; a reviewer refused this statement\.$/);
      // The block failed as for any error; ROLLBACK ends it and the session goes on.
      await expect(c.query("SELECT 1")).rejects.toMatchObject({ code: "25P02" });
      await c.query("ROLLBACK");
      expect((await c.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
      expect(await amount(12)).toBe(before);
      expect(events(id)).toEqual(["approval_requested", "approval_refused"]);
    } finally {
      await c.end();
    }
  });

  it("an approval for other parameters (tampered digest) is refused and the held statement does not run", async () => {
    const before = await amount(13);
    const { c, notices } = await client(regate);
    try {
      const held = c.query("UPDATE payments SET amount = 1 WHERE id = $1", [13]).catch((e: pg.DatabaseError) => e);
      const id = await until(() => heldId(notices));
      const other = approvalHash("test-agent", "test-db", "UPDATE payments SET amount = 1 WHERE id = $1", [{ value: "14", format: "text", type_oid: 0 }]);
      const r = await api(regate, `/approvals/${id}/approve`, { sha256: other });
      expect(r).toEqual({ status: 409, body: { error: "hash_mismatch" } });
      expect((await api(regate, `/approvals/${id}`)).body.status).toBe("pending");
      expect((await api(regate, `/approvals/${id}/approve`, { sha256: other }, "not-a-reviewer")).status).toBe(401);
      await api(regate, `/approvals/${id}/refuse`, { comment: "digest did not match what I reviewed" });
      expect(((await held) as pg.DatabaseError).code).toBe("42501");
      expect(await amount(13)).toBe(before);
      expect(events(id)).toEqual(["approval_requested", "approval_hash_mismatch", "approval_refused"]);
    } finally {
      await c.end();
    }
  });

  it("a client that hangs up withdraws its request; nothing runs", async () => {
    const before = await amount(15);
    const { c, notices } = await client(regate);
    void c.query("UPDATE payments SET amount = 2 WHERE id = $1", [15]).catch(() => {});
    const id = await until(() => heldId(notices));
    await c.end();
    await until(async () => (await api(regate, `/approvals/${id}`)).body.status === "withdrawn");
    expect((await api(regate, `/approvals/${id}/approve`, { sha256: "x" })).status).toBe(409);
    expect(await amount(15)).toBe(before);
    expect(events(id)).toEqual(["approval_requested", "approval_withdrawn"]);
  });

  it("a cancel (pg_cancel from the client) withdraws the request: 57014, the session goes on, and the next statement is not cancelled", async () => {
    const before = await amount(16);
    const { c, notices } = await client(regate);
    try {
      // Several times: the statement sent right after the 57014 must not meet the cancel late at the server
      // (nothing of the session ran there, so regate does not pass the cancel on; it once did, and the next
      // statement was cancelled now and then).
      for (let i = 0; i < 5; i++) {
        notices.length = 0;
        const held = c.query("UPDATE payments SET amount = 3 WHERE id = $1", [16]).catch((e: pg.DatabaseError) => e);
        const id = await until(() => heldId(notices));
        // What pg's query_timeout / a user's Ctrl-C does: a CancelRequest on a new connection with the session's key.
        const con = new (pg as any).Connection();
        await new Promise<void>((resolve, reject) => {
          con.once("connect", () => {
            con.cancel((c as any).processID, (c as any).secretKey);
            resolve();
          });
          con.once("error", reject);
          con.connect(regate.port, "127.0.0.1");
        });
        expect(((await held) as pg.DatabaseError).code).toBe("57014");
        expect((await api(regate, `/approvals/${id}`)).body.status).toBe("withdrawn");
        expect((await c.query("SELECT pg_sleep(0.05), 3 AS three")).rows[0].three, `attempt ${i + 1}`).toBe(3);
      }
      expect(await amount(16)).toBe(before);
    } finally {
      await c.end();
    }
  });

  it("other sessions keep working while one is held", async () => {
    const { c, notices } = await client(regate);
    const other = await client(regate);
    try {
      let settled = false;
      const held = c
        .query("UPDATE payments SET amount = amount WHERE id = $1", [17])
        .catch((e: pg.DatabaseError) => e)
        .finally(() => (settled = true));
      const id = await until(() => heldId(notices));
      // Answered while the held one still waits (it waits until the refusal below): not queued behind it. The
      // bound only names a hang before the test's own timeout.
      const answer = other.c.query("SELECT count(*)::int AS n FROM orders");
      const late = new Promise<never>((_, no) => setTimeout(() => no(new Error("the other session was not answered while one was held")), 10_000).unref());
      expect((await Promise.race([answer, late])).rows[0].n).toBeGreaterThan(0);
      expect(settled).toBe(false);
      expect((await api(regate, `/approvals/${id}`)).body.status).toBe("pending");
      await api(regate, `/approvals/${id}/refuse`, { comment: "test over" });
      await held;
    } finally {
      await c.end();
      await other.c.end();
    }
  });
});

describe("psql", () => {
  it("a held UPDATE from psql -c shows the notice and runs once after approval", async () => {
    const before = await amount(18);
    const out = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "psql",
        [regate.url(), "-X", "-v", "ON_ERROR_STOP=1", "-c", "UPDATE payments SET amount = amount + 5 WHERE id = 18"],
        (err, stdout, stderr) => resolve({ code: err ? ((err as any).code as number) : 0, stdout, stderr }),
      );
    });
    const id = await until(async () => (await api(regate, "/approvals?status=pending")).body.approvals.find((a: any) => a.statement.sql.includes("id = 18"))?.id as string | undefined);
    const a = (await api(regate, `/approvals/${id}`)).body;
    expect(a.sha256).toBe(approvalHash("test-agent", "test-db", "UPDATE payments SET amount = amount + 5 WHERE id = 18", undefined));
    await api(regate, `/approvals/${id}/approve`, { sha256: a.sha256 });
    const r = await out;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("UPDATE 1");
    expect(r.stderr).toContain(`statement held for approval as ${id}`);
    expect(await amount(18)).toBe(before + 5);
  });
});

describe("asyncpg (binary parameters)", () => {
  const asyncpg = clientGate("asyncpg");
  it.skipIf(asyncpg.skip)(asyncpg.title("a held UPDATE is approved and runs once; another is refused with 42501 (InsufficientPrivilegeError)"), async () => {
    asyncpg.require();
    const before = await amount(23);
    const script = `
import asyncio, asyncpg, sys
async def main():
    c = await asyncpg.connect(sys.argv[1])
    print(await c.execute("UPDATE payments SET amount = amount + $1 WHERE id = $2", 6, 23), flush=True)
    try:
        await c.execute("UPDATE payments SET amount = 0 WHERE id = $1", 23)
    except asyncpg.PostgresError as e:
        print(e.sqlstate, e.message, "|", e.hint, flush=True)
    print(await c.fetchval("SELECT 5"), flush=True)
    await c.close()
asyncio.run(main())
`;
    const run = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(join(packageRoot, ".venv", "bin", "python"), ["-c", script, regate.url()], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
    });
    const pendingFor = (needle: string) => until(async () => (await api(regate, "/approvals?status=pending")).body.approvals.find((a: any) => a.statement.sql.includes(needle)) as any);
    const first = await pendingFor("amount + $1");
    await api(regate, `/approvals/${first.id}/approve`, { sha256: first.sha256 });
    const second = await pendingFor("amount = 0");
    await api(regate, `/approvals/${second.id}/refuse`, { comment: "no zeroing" });
    const r = await run;
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n")).toEqual(["UPDATE 1", expect.stringMatching(/^42501 regate refused this statement: approval apr_\w+ refused by alice: no zeroing \(decision [0-9a-f-]{36}\)\. Next: do not retry; a reviewer refused this statement\. \| do not retry; a reviewer refused this statement\. regate refused the statement before it reached the database; nothing ran \(error code APPROVAL_REFUSED\)$/), "5", ""]);
    expect(await amount(23)).toBe(before + 6);
  });
});

describe("the hold inside a block", () => {
  it("stays below idle_in_transaction_session_timeout: answered 'still pending' (42501), nothing ran, ROLLBACK works, the approval stays pending", async () => {
    await db.query(`ALTER ROLE ${db.users.scram.user} SET idle_in_transaction_session_timeout = '3s'`);
    const short = await startApprovingRegate(db, { idle_margin_seconds: 1.5 });
    try {
      const before = await amount(19);
      const { c, notices } = await client(short);
      try {
        await c.query("BEGIN");
        const t0 = Date.now();
        const err = (await c.query("UPDATE payments SET amount = 4 WHERE id = $1", [19]).catch((e: pg.DatabaseError) => e)) as pg.DatabaseError;
        const id = heldId(notices)!;
        expect(err.code).toBe("42501");
        expect(err.message).toMatch(new RegExp(`^regate refused this statement: still pending as ${id}; re-run the same statement after a reviewer approves`));
        expect(notices[0]!.detail).toMatch(/held up to 1\.5s/);
        expect(Date.now() - t0).toBeLessThan(3000);
        const shown = await fetch(`http://127.0.0.1:${short.app.ports.admin}/approvals/${id}`, { headers: { authorization: `Bearer ${REVIEWER.token}` } });
        expect(((await shown.json()) as any).status).toBe("pending");
        await c.query("ROLLBACK");
        expect((await c.query("SELECT 4 AS four")).rows).toEqual([{ four: 4 }]);
      } finally {
        await c.end();
      }
      expect(await amount(19)).toBe(before);
    } finally {
      await short.stop();
      await db.query(`ALTER ROLE ${db.users.scram.user} RESET idle_in_transaction_session_timeout`);
    }
  });
});

describe("expiry", () => {
  it("an approval that expires while its statement is held: 57014, nothing ran", async () => {
    const short = await startApprovingRegate(db, { timeout_seconds: 1 }, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 1 }));
    try {
      const before = await amount(19);
      const { c, notices } = await client(short);
      try {
        const err = (await c.query("UPDATE payments SET amount = 5 WHERE id = $1", [19]).catch((e: pg.DatabaseError) => e)) as pg.DatabaseError;
        expect(err.code).toBe("57014");
        expect(err.message).toMatch(/expired after 1s/);
        const id = heldId(notices)!;
        expect((await api(short, `/approvals/${id}`)).body.status).toBe("expired");
        expect((await c.query("SELECT 5 AS five")).rows).toEqual([{ five: 5 }]);
      } finally {
        await c.end();
      }
      expect(await amount(19)).toBe(before);
    } finally {
      await short.stop();
    }
  });
});
