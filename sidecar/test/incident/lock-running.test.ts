// A lock that lands while the agent's statement runs upstream: the statement stops on the server and its write
// never commits, judged from a direct connection (pg_stat_activity, the table), also when regate cannot open
// the extra connection it ends the backend from (the role is at its connection limit).
import type pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, connect, startIncidentRegate, until } from "./support.js";

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

afterEach(async () => {
  await db.query("ALTER ROLE app_scram CONNECTION LIMIT -1");
  for (const l of regate.app.locks.list()) await regate.app.locks.remove(l.id, "test");
});

const status = async (id: number) => (await db.query("SELECT status FROM orders WHERE id = $1", [id]))[0].status as string;
const other = (s: string) => (s === "cancelled" ? "paid" : "cancelled");
const lockAgent = () => admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message: "INC-60" });

describe("a lock while a statement runs upstream", () => {
  it("a long UPDATE in autocommit: stopped upstream, nothing written, the agent told it was locked", async () => {
    const before = await status(5);
    const sql = `UPDATE orders SET status = '${other(before)}' WHERE id = 5 AND pg_sleep(30)::text = ''`;
    const c = await connect(regate.url());
    const q = c.query(sql).then(() => undefined, (e: pg.DatabaseError) => e);
    await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1 AND state = 'active'", [sql]))[0].n === 1);
    expect((await lockAgent()).status).toBe(201);
    const err = await q;
    expect(err?.code).toBe("57P01");
    expect(err?.message).toContain("agent locked");
    await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1", [sql]))[0].n === 0);
    expect(await status(5)).toBe(before);
  });

  it("at the role's connection limit (no new connection to end the backend from): the writes pipelined behind the running statement do not run", async () => {
    const ids = [6, 7];
    const before = await Promise.all(ids.map(status));
    const c = await connect(regate.url());
    const ended = new Promise<void>((resolve) => c.once("end", () => resolve()));
    // A regate in service has its catalog connection open (a statement naming a table looked it up).
    await c.query("SELECT status FROM orders WHERE id = 6");
    await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'regate-catalog'"))[0].n === 1);
    const used = (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'app_scram'"))[0].n as number;
    await db.query(`ALTER ROLE app_scram CONNECTION LIMIT ${used}`);
    const con = (c as unknown as { connection: { query(sql: string): void } }).connection;
    con.query("SELECT pg_sleep(1)");
    for (const [i, id] of ids.entries()) con.query(`UPDATE orders SET status = '${other(before[i]!)}' WHERE id = ${id}`);
    await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(1)' AND state = 'active'"))[0].n === 1);
    expect((await lockAgent()).status).toBe(201);
    await ended;
    // Once the agent's backend is gone, whatever it was going to run has run.
    await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'regate:test-agent'"))[0].n === 0);
    expect(await Promise.all(ids.map(status))).toEqual(before);
  });
});
