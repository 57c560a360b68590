// Red team of how long regate counts the session's temporary relations (lifecycle/temporary-settle.ts): a
// temporary table named like a public one, made and then rolled back, dropped at commit, dropped by name or
// discarded. regate keeps counting it (the bare name refused, never read through the public table's masks) until
// a DISCARD TEMP or ALL that the server ran alone and committed; after that, `customers` is public.customers
// again, readable and masked as ever. Judged by what reached the agent, by the simple and the extended protocol.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { attemptOn, connectClient, type Outcome } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, query, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { temporaryPolicyBundle } from "./temporary-policy.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let ssn: string;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, { policy: { bundle: temporaryPolicyBundle() } });
  const [c] = await db.query("SELECT ssn FROM public.customers WHERE id = 2");
  ssn = c.ssn;
}, 180_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

beforeEach(async () => {
  await agent?.end().catch(() => undefined);
  agent = await connectClient(regate.url());
});

const attempt = (sql: string | pg.QueryConfig): Promise<Outcome> => attemptOn(agent, sql);
const leaks = (o: unknown): boolean => JSON.stringify(o).includes(ssn);
const text = (raw: Raw) => raw.messages.map((m) => `${m.type}:${m.body.toString("latin1")}`).join("\n");

async function ok(sql: string | pg.QueryConfig): Promise<Record<string, unknown>[]> {
  const r = await attempt(sql);
  expect(r.code, `${JSON.stringify(sql)}: ${r.message}`).toBeUndefined();
  return r.rows!;
}

/** customers resolves to public.customers again: readable, its masked column masked, by the simple and extended protocol. */
async function publicAgain(): Promise<void> {
  expect(await ok("SELECT id FROM customers WHERE id = 2")).toEqual([{ id: 2 }]);
  expect(await ok({ text: "SELECT id FROM customers WHERE id = $1", values: [2] })).toEqual([{ id: 2 }]);
  for (const sql of ["SELECT upper(ssn) AS s FROM customers WHERE id = 2", "SELECT ssn || '' AS s FROM customers WHERE id = 2"]) {
    const rows = await ok(sql);
    expect(rows, sql).toHaveLength(1);
    expect(leaks(rows), `${sql}: ${JSON.stringify(rows)}`).toBe(false);
  }
}

/** A temporary customers may exist: the bare name is refused, and nothing masked comes back. */
async function refusedBare(): Promise<void> {
  const r = await attempt("SELECT upper(ssn) AS s FROM customers WHERE id = 2");
  expect(leaks(r), JSON.stringify(r)).toBe(false);
  expect(r.code, JSON.stringify(r)).toBe("42501");
  expect(r.message).toContain("customers may name this session's temporary relation");
}

const MADE = "CREATE TEMP TABLE customers AS SELECT id, ssn FROM public.customers WHERE id = 2";

describe("a temporary customers, after the server may have dropped it", () => {
  it.each([
    ["ROLLBACK, one message at a time", ["BEGIN", MADE, "ROLLBACK"]],
    ["ROLLBACK, in one message", [`BEGIN; ${MADE}; ROLLBACK`]],
    ["ROLLBACK TO SAVEPOINT, then COMMIT", ["BEGIN", "SAVEPOINT a", MADE, "ROLLBACK TO SAVEPOINT a", "COMMIT"]],
    ["a failed statement in the block, then COMMIT", ["BEGIN", MADE, "SELECT 1/0", "COMMIT"]],
    ["an error later in the same message", [`${MADE}; SELECT 1/0`]],
    ["ON COMMIT DROP", ["BEGIN", "CREATE TEMP TABLE customers (id int, ssn text) ON COMMIT DROP", "COMMIT"]],
    ["DROP TABLE pg_temp.customers", [MADE, "DROP TABLE pg_temp.customers"]],
    ["DISCARD TEMP in a block, rolled back", [MADE, "BEGIN", "DISCARD TEMP", "ROLLBACK"]],
    ["DISCARD TEMP in one message with the creation", [`${MADE}; DISCARD TEMP`]],
  ])("%s: the bare name stays refused, nothing masked comes back", async (_name, setup) => {
    for (const sql of setup) await attempt(sql);
    await refusedBare();
    // Qualified, it is what the server says, masked or absent.
    const temp = await attempt("SELECT ssn FROM pg_temp.customers");
    expect(leaks(temp), JSON.stringify(temp)).toBe(false);
  });

  it.each([
    ["DISCARD TEMP", "DISCARD TEMP"],
    ["DISCARD TEMPORARY", "DISCARD TEMPORARY"],
    ["DISCARD ALL", "DISCARD ALL"],
  ])("after %s alone: customers is public.customers again", async (_name, discard) => {
    await ok(MADE);
    await refusedBare();
    await ok(discard);
    await publicAgain();
  });

  it("a DISCARD TEMP with a creation pipelined behind it keeps counting what the creation makes", async () => {
    const raw = await Raw.open(regate.url());
    try {
      raw.send(query(MADE));
      await raw.readies(1);
      raw.messages.length = 0;
      raw.send(query("DISCARD TEMP"), query(MADE), parse("SELECT upper(ssn) AS s FROM customers WHERE id = 2"), bind(), execute(), sync());
      await raw.readies(3);
      expect(leaks(text(raw)), text(raw)).toBe(false);
      expect(text(raw)).toContain("customers may name this session's temporary relation");
    } finally {
      raw.close();
    }
  });

  it("a statement prepared before the DISCARD makes it again when it runs, and is counted again", async () => {
    const raw = await Raw.open(regate.url());
    try {
      raw.send(query(MADE));
      await raw.readies(1);
      raw.send(parse(MADE.replace("customers AS", "customers2 AS").replace("TABLE customers2", "TABLE customers"), "mk"), sync());
      await raw.readies(1);
      raw.send(query("DISCARD TEMP"));
      await raw.readies(1);
      raw.messages.length = 0;
      raw.send(parse("SELECT id FROM customers WHERE id = 2"), bind(), execute(), sync());
      await raw.readies(1);
      expect(raw.messages.map((m) => m.type), text(raw)).toContain("D");
      raw.messages.length = 0;
      raw.send(bind("mk"), execute(), sync(), parse("SELECT upper(ssn) AS s FROM customers WHERE id = 2"), bind(), execute(), sync());
      await raw.readies(2);
      expect(leaks(text(raw)), text(raw)).toBe(false);
      expect(text(raw)).toContain("customers may name this session's temporary relation");
    } finally {
      raw.close();
    }
  });
});

describe("a temporary orders made over ssn", () => {
  const STORE = "CREATE TEMP TABLE orders AS SELECT id, ssn AS status FROM customers WHERE id = 2";

  it.each([
    ["committed before a later error of the same message", ["BEGIN; " + STORE + "; COMMIT; SELECT 1/0"]],
    ["kept by a later savepoint of the same name", ["BEGIN", "SAVEPOINT a", STORE, "SAVEPOINT a", "ROLLBACK TO SAVEPOINT a", "COMMIT"]],
    ["kept when a second CREATE of the name fails", [STORE, "BEGIN", "CREATE TEMP TABLE orders (id int)", "ROLLBACK"]],
    ["kept by IF NOT EXISTS ... ON COMMIT DROP", [STORE, "CREATE TEMP TABLE IF NOT EXISTS orders (id int, status text) ON COMMIT DROP"]],
    ["made again after one ON COMMIT DROP was renamed away", ["BEGIN", "CREATE TEMP TABLE orders (id int, status text) ON COMMIT DROP", "ALTER TABLE pg_temp.orders RENAME TO gone", STORE, "COMMIT"]],
    ["after a failed DROP of a view named like it", [STORE, "DROP VIEW pg_temp.orders"]],
  ])("after a DISCARD, then %s: never read as public.orders", async (_name, setup) => {
    await ok("CREATE TEMP TABLE orders (id int, status text)");
    await ok("DISCARD TEMP");
    expect(await ok("SELECT status IS NOT NULL AS has FROM orders WHERE id = 1")).toEqual([{ has: true }]);
    for (const sql of setup) await attempt(sql);
    const r = await attempt("SELECT upper(status) AS s FROM orders WHERE id = 2");
    expect(leaks(r), JSON.stringify(r)).toBe(false);
    expect(r.code).toBe("42501");
    const temp = await ok("SELECT upper(status) AS s FROM pg_temp.orders");
    expect(temp).toHaveLength(1);
    expect(leaks(temp), JSON.stringify(temp)).toBe(false);
  });

  it("a DISCARD TEMP sent as a Query inside an extended batch that fails later forgets nothing", async () => {
    const raw = await Raw.open(regate.url());
    try {
      raw.send(query(STORE));
      await raw.readies(1);
      // The Query runs inside the batch's implicit transaction, which the error after it rolls back: the server
      // keeps orders.
      raw.send(parse("SELECT 1"), bind(), execute(), query("DISCARD TEMP"), parse("SELECT 1/0"), bind(), execute(), sync());
      await raw.readies(2);
      raw.messages.length = 0;
      raw.send(query("SELECT upper(status) AS s FROM orders WHERE id = 2"), query("SELECT upper(status) AS s FROM pg_temp.orders"));
      await raw.readies(2);
      expect(leaks(text(raw)), text(raw)).toBe(false);
      expect(text(raw)).toContain("orders may name this session's temporary relation");
    } finally {
      raw.close();
    }
  });
});
