import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { locksCommand } from "../../src/cli/locks.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, connect, OTHER, RESPONDER, running, startIncidentRegate, until } from "./support.js";

// Locks stop an agent now, without a restart: live sessions end, new connections, statements and HTTP
// requests are refused with the lock's message, held approvals are withdrawn; expiry and removal let it back in.

const AGENT_TOKEN = "agent-token-7f3a9c";
let db: TestPostgres;
let regate: TestRegate;
let upstream: Server;
let httpPort: number;
const upstreamSeen: string[] = [];

beforeAll(async () => {
  db = await startPostgres();
  upstream = createServer((req, res) => {
    upstreamSeen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  regate = await startIncidentRegate(db, {
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }] },
    approvals: { enabled: true, timeout_seconds: 30, reviewers: [{ name: "alice", token: { value: "reviewer-token-3c9e1b" } }] },
  });
  httpPort = regate.app.ports.http!;
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  await new Promise((r) => upstream?.close(r));
});

afterEach(async () => {
  for (const l of regate.app.locks.list()) await regate.app.locks.remove(l.id, "test");
});

const refusedConnect = (url: string) => connect(url).then((c) => (void c.end(), undefined), (e: pg.DatabaseError) => e);
const get = (token: string) => fetch(`http://127.0.0.1:${httpPort}/api/orders`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const env = { REGATE_RESPONDER_TOKEN: RESPONDER.token };
  return locksCommand([...args, "--url", `http://127.0.0.1:${regate.app.ports.admin}`], env, { out: (s) => (out += s), err: (s) => (err += s) }).then((code) => ({ code, out, err }));
}

describe("a lock on a principal", () => {
  it("ends its running session (cancelled upstream), refuses its connections and HTTP requests, spares other agents; removal lets it back", async () => {
    const victim = await connect(regate.url());
    const other = await connect(regate.url(OTHER.user, OTHER.token));
    try {
      const sleeping = victim.query("SELECT pg_sleep(30)").then(() => undefined, (e: pg.DatabaseError) => e);
      await until(async () => (await running(db, "SELECT pg_sleep(30)")) === 1);
      const created = await admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message: "credential leaked in INC-9; rotate before resuming" });
      expect(created.status).toBe(201);
      const lock = created.body;
      expect(lock).toMatchObject({ target: { principal: "test-agent" }, created_by: "rita", message: "credential leaked in INC-9; rotate before resuming" });
      expect(lock.id).toMatch(/^lk_[0-9a-f]{16}$/);

      const err = await sleeping;
      expect(err?.code).toBe("57P01");
      expect(err?.message).toContain("credential leaked in INC-9; rotate before resuming");
      expect(err?.message).toContain(lock.id);
      await until(async () => (await running(db, "SELECT pg_sleep(30)")) === 0);

      const refused = await refusedConnect(regate.url());
      expect(refused?.code).toBe("42501");
      expect(refused?.severity).toBe("FATAL");
      expect(refused?.message).toBe(`regate: this agent is locked by an operator: credential leaked in INC-9; rotate before resuming (lock ${lock.id})`);
      expect(refused?.hint).toBe("stop and report to your operator; do not retry or reconnect until they lift the lock");

      const http = await get(AGENT_TOKEN);
      expect(http.status).toBe(403);
      expect(http.body).toMatchObject({ code: "LOCKED", next_step: expect.stringMatching(/do not retry/) });
      expect(http.body.reason).toContain("credential leaked in INC-9");
      expect((await get(OTHER.token)).status).toBe(200);
      expect((await other.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);

      const listed = await admin(regate, "GET", "/locks");
      expect(listed.body.locks.map((l: { id: string }) => l.id)).toEqual([lock.id]);
      expect((await admin(regate, "DELETE", `/locks/${lock.id}`)).status).toBe(200);
      expect((await admin(regate, "DELETE", `/locks/${lock.id}`)).status).toBe(404);
      const back = await connect(regate.url());
      expect((await back.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
      await back.end();
      expect((await get(AGENT_TOKEN)).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${regate.app.ports.admin}/metrics`)).text();
      expect(metrics).toMatch(/^regate_locks_active 0$/m);
      expect(metrics).toMatch(/^regate_sessions_ended_by_operator_total\{by="lock"\} 1$/m);
      const log = regate.logs();
      expect(log).toContain('"event":"lock_created"');
      expect(log).toContain('"event":"lock_removed"');
    } finally {
      await victim.end().catch(() => undefined);
      await other.end();
    }
  });

  it("withdraws the agent's held approvals", async () => {
    const c = new pg.Client({ connectionString: regate.url() });
    c.on("error", () => undefined);
    const notices: string[] = [];
    c.on("notice", (n) => notices.push(n.message ?? ""));
    await c.connect();
    try {
      const held = c.query("UPDATE payments SET amount = amount + 1 WHERE id = 21").then(() => undefined, (e: pg.DatabaseError) => e);
      const id = await until(() => notices.map((n) => /held for approval as (apr_[0-9a-f]{16})/.exec(n)?.[1]).find(Boolean));
      const lock = (await admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message: "stop all writes" })).body;
      const err = await held;
      expect(err?.code).toBe("57P01");
      const approval = regate.app.approvals!.get(id)!;
      expect(approval.status).toBe("withdrawn");
      expect(approval.comment).toBe(`lock ${lock.id}`);
    } finally {
      await c.end().catch(() => undefined);
    }
  });
});

describe("other lock targets", () => {
  it("a group lock ends and refuses its members only", async () => {
    const batch = await connect(regate.url(OTHER.user, OTHER.token));
    const mine = await connect(regate.url());
    const ended = new Promise<Error>((resolve) => batch.on("error", resolve));
    try {
      await admin(regate, "POST", "/locks", { target: { group: "batch" }, message: "batch jobs paused" });
      expect((await ended).message).toContain("batch jobs paused");
      expect((await refusedConnect(regate.url(OTHER.user, OTHER.token)))?.code).toBe("42501");
      expect((await get(OTHER.token)).body.code).toBe("LOCKED");
      expect((await mine.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await batch.end().catch(() => undefined);
      await mine.end();
    }
  });

  it("a group lock withdraws a member's pending HTTP approval: no reviewer can let it through later", async () => {
    await get(OTHER.token); // regate has seen other-agent with its groups
    const refund = () =>
      fetch(`http://127.0.0.1:${httpPort}/api/refunds`, {
        method: "POST",
        headers: { authorization: `Bearer ${OTHER.token}`, "content-type": "application/json" },
        body: JSON.stringify({ order: 7, amount: 10 }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    // The example policy defers refunds: the agent is answered at once, the approval stays pending.
    expect((await refund()).body.code).toBe("APPROVAL_PENDING");
    const approval = regate.app.approvals!.list("pending").find((a) => a.principal === OTHER.user)!;
    const lock = (await admin(regate, "POST", "/locks", { target: { group: "batch" }, message: "refund bot paused" })).body;
    expect(regate.app.approvals!.get(approval.id)).toMatchObject({ status: "withdrawn", comment: `lock ${lock.id}` });
    expect(await regate.app.approvals!.approve(approval.id, { name: "alice", groups: ["finance", "dba-oncall"] }, approval.sha256)).toEqual({ ok: false, error: "not_pending" });
    expect((await refund()).body.code).toBe("LOCKED");
    await admin(regate, "DELETE", `/locks/${lock.id}`);
    expect(upstreamSeen.filter((r) => r.startsWith("POST"))).toEqual([]);
  });

  it("a session lock ends that session; the agent may open another", async () => {
    const a = await connect(regate.url());
    const ended = new Promise<Error>((resolve) => a.on("error", resolve));
    try {
      await until(() => regate.app.sessions.size === 1);
      const id = regate.app.sessions.list()[0]!.id;
      await admin(regate, "POST", "/locks", { target: { session: id }, message: "this session only" });
      expect((await ended).message).toContain("this session only");
      const b = await connect(regate.url());
      expect((await b.query("SELECT 3 AS three")).rows).toEqual([{ three: 3 }]);
      await b.end();
    } finally {
      await a.end().catch(() => undefined);
    }
  });

  it("a lock with a ttl lets the agent back in once it expires", async () => {
    await admin(regate, "POST", "/locks", { target: { token: "test-agent" }, message: "cool down", ttl_seconds: 1 });
    expect((await refusedConnect(regate.url()))?.message).toContain("cool down");
    await new Promise((r) => setTimeout(r, 1100));
    const c = await connect(regate.url());
    expect((await c.query("SELECT 4 AS four")).rows).toEqual([{ four: 4 }]);
    await c.end();
    expect((await admin(regate, "GET", "/locks")).body.locks).toEqual([]);
  });

  it("refuses malformed locks and callers without a responder token", async () => {
    expect((await admin(regate, "POST", "/locks", { target: { principal: "x" } })).status).toBe(400);
    expect((await admin(regate, "POST", "/locks", { target: { user: "x" }, message: "m" })).status).toBe(400);
    expect((await admin(regate, "POST", "/locks", { target: { principal: "x", group: "y" }, message: "m" })).status).toBe(400);
    expect((await admin(regate, "POST", "/locks", { target: { principal: "x" }, message: "m", ttl_seconds: -1 })).status).toBe(400);
    expect((await admin(regate, "POST", "/locks", { target: { principal: "x" }, message: "m" }, "reviewer-token-3c9e1b")).status).toBe(401);
    expect(regate.app.locks.list()).toEqual([]);
  });
});

describe("regate locks (CLI)", () => {
  it("adds, lists and removes a lock", async () => {
    const add = await cli(["add", "--principal", OTHER.user, "--message", "investigating", "--ttl", "600"]);
    expect(add.code).toBe(0);
    const id = /^(lk_[0-9a-f]{16}) locks principal other-agent\n$/.exec(add.out)?.[1];
    expect(id).toBeDefined();
    expect((await refusedConnect(regate.url(OTHER.user, OTHER.token)))?.message).toContain("investigating");
    const list = await cli(["list"]);
    expect(list.out).toContain(`${id}  principal other-agent`);
    expect(list.out).toContain("by rita");
    expect((await cli(["add", "--principal", "a", "--group", "b", "--message", "m"])).code).toBe(1);
    expect(await cli(["remove", id!])).toEqual({ code: 0, out: `${id} removed\n`, err: "" });
    expect((await cli(["remove", id!])).code).toBe(2);
    expect((await cli(["list"])).out).toBe("no locks\n");
  });
});
