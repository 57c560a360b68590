import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionsCommand } from "../../src/cli/sessions.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, connect, OTHER, RESPONDER, running, startIncidentRegate, until } from "./support.js";

// A responder stops one agent session now: the statement is cancelled upstream, the client is told
// why and what to do, everything else keeps running, and the kill is audited.

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startIncidentRegate(db);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

function cli(args: string[], token = RESPONDER.token): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const base = ["--url", `http://127.0.0.1:${regate.app.ports.admin}`];
  return sessionsCommand([...args, ...base], token ? { REGATE_RESPONDER_TOKEN: token } : {}, { out: (s) => (out += s), err: (s) => (err += s) }).then((code) => ({ code, out, err }));
}

describe("POST /sessions/{id}/kill", () => {
  it("cancels the running statement upstream, ends the client with a FATAL naming the reason, leaves other sessions alone", async () => {
    const victim = await connect(regate.url());
    const bystander = await connect(regate.url(OTHER.user, OTHER.token));
    try {
      await victim.query("SET application_name = 'victim-app'");
      const sleeping = victim.query("SELECT pg_sleep(30)").then(() => undefined, (e: pg.DatabaseError) => e);
      const listed = await until(async () => {
        const r = await admin(regate, "GET", "/sessions");
        return (r.body.sessions as any[]).find((s) => s.current?.sql === "SELECT pg_sleep(30)");
      });
      expect(listed).toMatchObject({ principal: "test-agent", target: "test-db", transaction_status: "idle" });
      expect(listed.client).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(Date.parse(listed.started_at)).toBeGreaterThan(0);
      // regate forwards before the server starts it: wait for the backend to show it running.
      await until(async () => (await running(db, "SELECT pg_sleep(30)")) === 1);

      const started = Date.now();
      const killed = await admin(regate, "POST", `/sessions/${listed.id}/kill`, { reason: "runaway query, incident INC-7" });
      expect(killed).toEqual({ status: 200, body: { killed: listed.id, by: "rita", reason: "runaway query, incident INC-7" } });

      const err = await sleeping;
      const ms = Date.now() - started;
      console.log(`kill: client ended ${ms} ms after the call`);
      expect(ms).toBeLessThan(5000);
      expect(err?.code).toBe("57P01");
      expect(err?.severity).toBe("FATAL");
      expect(err?.message).toBe("regate: session ended by an operator: runaway query, incident INC-7 (by rita)");
      expect(err?.hint).toMatch(/do not reconnect/);
      // The upstream backend is gone, not just the client side.
      // Cancelled first, the backend may show as idle for a moment before it exits: wait for it to be gone in any state.
      await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"))[0].n === 0);
      expect(regate.app.sessions.get(listed.id)).toBeUndefined();

      // The other session never noticed.
      expect((await bystander.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);

      const audit = regate
        .logs()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l["event"] === "session_killed");
      const metrics = await (await fetch(`http://127.0.0.1:${regate.app.ports.admin}/metrics`)).text();
      expect(metrics).toMatch(/^regate_sessions_ended_by_operator_total\{by="kill"\} 1$/m);
      expect(audit).toMatchObject({ by: "rita", reason: "runaway query, incident INC-7", session_id: listed.id, principal: "test-agent", statement: "SELECT pg_sleep(30)" });
    } finally {
      await victim.end().catch(() => undefined);
      await bystander.end();
    }
  });

  it("needs a responder token, a reason, and a live session", async () => {
    const c = await connect(regate.url());
    try {
      await until(() => regate.app.sessions.size === 1);
      const id = regate.app.sessions.list()[0]!.id;
      expect((await admin(regate, "GET", "/sessions", undefined, "")).status).toBe(401);
      expect((await admin(regate, "POST", `/sessions/${id}/kill`, { reason: "x" }, "agent-token-7f3a9c")).status).toBe(401);
      expect((await admin(regate, "POST", `/sessions/${id}/kill`, {})).status).toBe(400);
      expect((await admin(regate, "POST", "/sessions/no-such-session/kill", { reason: "x" })).status).toBe(404);
      expect((await c.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
    } finally {
      await c.end();
    }
  });
});

describe("a kill inside a transaction block", () => {
  it("leaves nothing half-done: the block's write is rolled back with the backend", async () => {
    const c = await connect(regate.url());
    const before = (await db.query("SELECT status FROM orders WHERE id = 1"))[0].status as string;
    try {
      await c.query("BEGIN");
      await c.query(`UPDATE orders SET status = '${before === "cancelled" ? "paid" : "cancelled"}' WHERE id = 1`);
      expect((await c.query("SELECT status FROM orders WHERE id = 1")).rows[0].status).not.toBe(before);
      const sleeping = c.query("SELECT pg_sleep(30)").then(() => undefined, (e: pg.DatabaseError) => e);
      const id = await until(() => regate.app.sessions.list().find((s) => s.current?.sql === "SELECT pg_sleep(30)")?.id);
      expect(regate.app.sessions.list().find((s) => s.id === id)?.transaction_status).toBe("in_transaction");
      expect((await admin(regate, "POST", `/sessions/${id}/kill`, { reason: "stop the batch" })).status).toBe(200);
      expect((await sleeping)?.code).toBe("57P01");
      await until(async () => (await running(db, "SELECT pg_sleep(30)")) === 0);
      expect((await db.query("SELECT status FROM orders WHERE id = 1"))[0].status).toBe(before);
    } finally {
      await c.end().catch(() => undefined);
    }
  });
});

describe("a kill with statements pipelined behind the running one", () => {
  it("runs none of them: the backend is ended, not just its statement cancelled", async () => {
    const c = await connect(regate.url());
    const ids = [2, 3, 4];
    const before = await db.query(`SELECT id, status FROM orders WHERE id IN (${ids.join(",")}) ORDER BY id`);
    const ended = new Promise<void>((resolve) => c.once("end", () => resolve()));
    c.on("error", () => undefined);
    try {
      // Sent back to back, without waiting for replies: regate forwards each once it is decided.
      const con = (c as unknown as { connection: { query(sql: string): void } }).connection;
      con.query("SELECT pg_sleep(2)");
      for (const row of before) con.query(`UPDATE orders SET status = '${row.status === "cancelled" ? "paid" : "cancelled"}' WHERE id = ${row.id}`);
      const id = await until(() => regate.app.sessions.list().find((x) => x.current?.sql === "SELECT pg_sleep(2)" || (x.current?.sql ?? "").startsWith("UPDATE orders SET status"))?.id);
      await until(async () => (await running(db, "SELECT pg_sleep(2)")) === 1);
      expect((await admin(regate, "POST", `/sessions/${id}/kill`, { reason: "pipelined writes" })).status).toBe(200);
      await ended;
      // Longer than the sleep: had the backend lived on, the writes would have run by now.
      await new Promise((r) => setTimeout(r, 2500));
      expect(await db.query(`SELECT id, status FROM orders WHERE id IN (${ids.join(",")}) ORDER BY id`)).toEqual(before);
    } finally {
      await c.end().catch(() => undefined);
    }
  });
});

describe("regate sessions (CLI)", () => {
  it("lists live sessions and kills one by id", async () => {
    const c = await connect(`${regate.url()}&application_name=nightly-report`);
    const ended = new Promise<Error>((resolve) => c.on("error", resolve));
    try {
      await until(() => regate.app.sessions.size === 1);
      const list = await cli(["list"]);
      expect(list.code).toBe(0);
      const id = regate.app.sessions.list()[0]!.id;
      expect(list.out).toContain(id);
      expect(list.out).toContain("test-agent");
      expect(list.out).toContain("app nightly-report");
      const json = JSON.parse((await cli(["list", "--json"])).out) as { id: string }[];
      expect(json.map((s) => s.id)).toEqual([id]);

      expect((await cli(["kill", id])).code).toBe(1);
      expect((await cli(["list"], "")).code).toBe(1);
      const kill = await cli(["kill", id, "--reason", "rotating the agent"]);
      expect(kill).toEqual({ code: 0, out: `${id} killed by rita\n`, err: "" });
      expect((await ended).message).toContain("rotating the agent");
      expect((await cli(["kill", id, "--reason", "again"])).code).toBe(2);
    } finally {
      await c.end().catch(() => undefined);
    }
  });
});
