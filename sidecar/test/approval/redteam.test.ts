// Red-team cases for approvals meeting incident response: what the database did and what reached the agent
// when a lock, a kill or a pipeline meets a held statement or an approved grant. Real PostgreSQL, the pg
// driver and a protocol-level client (support/raw-pg.ts), through regate with a policy built by opa.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, query, Raw, sync } from "../support/raw-pg.js";
import { AGENT, type TestRegate } from "../support/regate.js";
import { admin, RESPONDER } from "../incident/support.js";
import { api, approvalBundle, client, heldId, REVIEWER, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let hold: TestRegate;
let defer: TestRegate;
const responders = { incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }] } };

beforeAll(async () => {
  db = await startPostgres();
  hold = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 60, hold_max_seconds: 20 }), responders);
  defer = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, mode: "defer", grant_seconds: 120 }), responders);
}, 120_000);

afterAll(async () => {
  await hold?.stop();
  await defer?.stop();
  await db?.stop();
});

afterEach(async () => {
  for (const r of [hold, defer]) for (const l of r.app.locks.list()) await r.app.locks.remove(l.id, "test");
});

const amount = async (table: "payments" | "orders", id: number) => Number((await db.query(`SELECT amount FROM ${table} WHERE id = $1`, [id]))[0].amount);
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);
const approveNow = async (r: TestRegate, id: string) => {
  const a = (await api(r, `/approvals/${id}`)).body;
  return api(r, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "ok" });
};
/** Text fields of a NoticeResponse / ErrorResponse body. */
const fields = (body: Buffer): Record<string, string> => {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    out[String.fromCharCode(body[at]!)] = body.subarray(at + 1, end).toString("utf8");
    at = end + 1;
  }
  return out;
};
/** Approval ids named by hold notices the raw client got, in order. */
const rawHeld = (raw: Raw) => raw.messages.filter((m) => m.type === "N").flatMap((m) => /held for approval as (apr_[0-9a-f]{16})/.exec(fields(m.body)["M"] ?? "")?.[1] ?? []);
const sessionOf = async (r: TestRegate, principal = "test-agent") => {
  const list = (await admin(r, "GET", "/sessions")).body.sessions as { id: string; principal: string }[];
  return list.filter((s) => s.principal === principal).map((s) => s.id);
};

describe("a lock meets an approval", () => {
  it("an approved grant does not outlive a lock: after the lock is lifted the re-run asks anew and nothing runs", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = $1";
    const before = await amount("payments", 101);
    const { c } = await client(defer);
    const first = await refusal(c.query(sql, [101]));
    const id = /approval requested as (apr_[0-9a-f]{16})/.exec(first!.message)![1]!;
    expect((await approveNow(defer, id)).body.grant_expires_at).toEqual(expect.any(String));
    const lock = await admin(defer, "POST", "/locks", { target: { principal: "test-agent" }, message: "leaked credential, INC-1" });
    expect(lock.status).toBe(201);
    await until(async () => (await c.query("SELECT 1").then(() => false, () => true)) || undefined);
    expect((await admin(defer, "DELETE", `/locks/${lock.body.id}`)).status).toBe(200);
    const { c: again } = await client(defer);
    try {
      const rerun = await refusal(again.query(sql, [101]));
      expect(rerun?.code).toBe("42501");
      expect(rerun?.message).toMatch(/approval requested as apr_/);
      expect(await amount("payments", 101)).toBe(before);
      expect((await api(defer, `/approvals/${id}`)).body.used_at).toBeUndefined();
    } finally {
      await again.end();
      await c.end().catch(() => undefined);
    }
  });

  it("a group lock while a statement is held: the approval is withdrawn, a later approve changes nothing, the agent gets 57P01", async () => {
    const before = await amount("payments", 102);
    const { c, notices } = await client(hold);
    const held = refusal(c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [102]));
    const id = await until(() => heldId(notices));
    expect((await admin(hold, "POST", "/locks", { target: { group: "agents" }, message: "stop all agents, INC-2" })).status).toBe(201);
    expect((await held)?.code).toBe("57P01");
    expect((await api(hold, `/approvals/${id}`)).body.status).toBe("withdrawn");
    expect((await approveNow(hold, id)).status).toBe(409);
    expect(await amount("payments", 102)).toBe(before);
  });

  it("a kill while a statement is held: withdrawn, nothing runs, the agent gets 57P01", async () => {
    const before = await amount("payments", 103);
    const { c, notices } = await client(hold);
    const held = refusal(c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [103]));
    const id = await until(() => heldId(notices));
    const [sid] = await sessionOf(hold);
    expect((await admin(hold, "POST", `/sessions/${sid}/kill`, { reason: "INC-3" })).status).toBe(200);
    expect((await held)?.code).toBe("57P01");
    expect((await api(hold, `/approvals/${id}`)).body.status).toBe("withdrawn");
    expect((await approveNow(hold, id)).status).toBe(409);
    expect(await amount("payments", 103)).toBe(before);
  });
});

describe("what a grant is bound to", () => {
  it("a parameter longer than the policy is shown: a value differing past its cut is another statement", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = ANY($1::int[])";
    // The same first 4,096 characters (what the policy sees of a value); the second also names row 108.
    const approved = `{${"107,".repeat(1200)}107}`;
    const other = `{${"107,".repeat(1200)}108}`;
    const before = [await amount("payments", 107), await amount("payments", 108)];
    const { c } = await client(defer);
    try {
      const first = await refusal(c.query(sql, [approved]));
      const id = /approval requested as (apr_[0-9a-f]{16})/.exec(first!.message)![1]!;
      expect((await approveNow(defer, id)).status).toBe(200);
      const rerun = await refusal(c.query(sql, [other]));
      expect(rerun?.message).toMatch(/approval requested as apr_/);
      expect([await amount("payments", 107), await amount("payments", 108)]).toEqual(before);
      // The approved value itself still runs, once.
      expect((await c.query(sql, [approved])).rowCount).toBe(1);
      expect([await amount("payments", 107), await amount("payments", 108)]).toEqual([before[0]! + 1, before[1]]);
    } finally {
      await c.end();
    }
  });
});

describe("pipelines and the extended protocol", () => {
  it("a Parse approved once is one execution: a second Bind/Execute of it in the same batch is held anew", async () => {
    const before = await amount("payments", 104);
    const raw = await Raw.open(hold.url());
    try {
      raw.send(parse("UPDATE payments SET amount = amount + 1 WHERE id = 104", "s1"), bind("s1"), execute(), bind("s1"), execute(), sync());
      const first = await until(() => rawHeld(raw)[0]);
      expect((await approveNow(hold, first)).status).toBe(200);
      const second = await until(() => rawHeld(raw)[1]);
      expect(second).not.toBe(first);
      expect((await api(hold, `/approvals/${second}/refuse`, { comment: "once is enough" })).status).toBe(200);
      await raw.readies(1);
      // The implicit transaction of the batch failed with the refused second execution: nothing committed.
      expect(await amount("payments", 104)).toBe(before);
    } finally {
      raw.close();
    }
  });

  it("statements pipelined behind a held one do not run before the decision, and not at all when it is refused in their batch", async () => {
    const before = await amount("orders", 105);
    const raw = await Raw.open(hold.url());
    try {
      raw.send(
        parse("UPDATE payments SET amount = amount + 1 WHERE id = 105"), bind(), execute(),
        parse("UPDATE orders SET amount = amount + 1 WHERE id = 105"), bind(), execute(), sync(),
        query("UPDATE orders SET amount = amount + 10 WHERE id = 105"),
      );
      const id = await until(() => rawHeld(raw)[0]);
      await new Promise((r) => setTimeout(r, 300));
      expect(await amount("orders", 105)).toBe(before);
      expect((await api(hold, `/approvals/${id}/refuse`, { comment: "no" })).status).toBe(200);
      const replies = await raw.readies(2);
      const errors = replies.filter((m) => m.type === "E").map((m) => fields(m.body)["C"]);
      expect(errors).toEqual(["42501"]);
      // The batch failed as a whole (its second UPDATE never ran); the next Query is a batch of its own.
      expect(await amount("orders", 105)).toBe(before + 10);
    } finally {
      raw.close();
    }
  });

  it("a client that hangs up while held inside a block: nothing of the block commits, a later approve is 409", async () => {
    const before = await amount("orders", 106);
    const { c, notices } = await client(hold);
    await c.query("BEGIN");
    await c.query("UPDATE orders SET amount = amount + 1 WHERE id = 106");
    void refusal(c.query("UPDATE payments SET amount = amount + 1 WHERE id = 106"));
    const id = await until(() => heldId(notices));
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await until(async () => ((await api(hold, `/approvals/${id}`)).body.status === "withdrawn" ? true : undefined));
    expect((await approveNow(hold, id)).status).toBe(409);
    expect(await amount("orders", 106)).toBe(before);
  });
});

describe("an agent's own token on the admin listener", () => {
  it("never names a reviewer or responder, even when the agent's token file comes to hold theirs: the agent cannot approve its own statement", async () => {
    // A reviewer or responder with an agent's token is refused at start (config/load.ts); an agent's token
    // file is re-read while regate runs, so the admin listener checks again on every request.
    const dir = mkdtempSync(join(tmpdir(), "regate-agent-token-"));
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, AGENT.token);
    const responder = "responder-token-51d0";
    const mixed = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 60, hold_max_seconds: 20 }), {
      agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { file: tokenFile } }] },
      incident: { responders: [{ name: "rita", token: { value: responder } }] },
      recording: { enabled: true, dir: join(dir, "recordings") },
    });
    const before = await amount("payments", 109);
    const { c, notices } = await client(mixed);
    try {
      const held = refusal(c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [109]));
      const id = await until(() => heldId(notices));
      const sha256 = mixed.app.approvals!.get(id)!.sha256;
      expect((await admin(mixed, "GET", "/recordings", undefined, responder)).status).toBe(200);
      writeFileSync(tokenFile, REVIEWER.token);
      expect((await api(mixed, `/approvals/${id}/approve`, { sha256 })).status).toBe(401);
      expect((await api(mixed, "/approvals")).status).toBe(401);
      writeFileSync(tokenFile, responder);
      expect((await admin(mixed, "GET", "/sessions", undefined, responder)).status).toBe(401);
      expect((await admin(mixed, "POST", "/locks", { target: { principal: "other" }, message: "m" }, responder)).status).toBe(401);
      expect((await admin(mixed, "GET", "/recordings", undefined, responder)).status).toBe(401);
      expect(mixed.app.approvals!.get(id)!.status).toBe("pending");
      await mixed.app.approvals!.refuse(id, { name: "carol", groups: ["dba-oncall"] }, "test over");
      expect((await held)?.code).toBe("42501");
      expect(await amount("payments", 109)).toBe(before);
    } finally {
      await c.end();
      await mixed.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("who may act", () => {
  it("each admin surface takes only its own people's tokens", async () => {
    const agentToken = "agent-token-7f3a9c";
    for (const [path, method, body] of [["/sessions", "GET"], ["/locks", "GET"], ["/locks", "POST", { target: { principal: "x" }, message: "m" }]] as const) {
      expect((await admin(hold, method, path, body, REVIEWER.token)).status).toBe(401);
      expect((await admin(hold, method, path, body, agentToken)).status).toBe(401);
    }
    expect((await api(hold, "/approvals", undefined, RESPONDER.token)).status).toBe(401);
    expect((await api(hold, "/approvals", undefined, agentToken)).status).toBe(401);
  });
});
