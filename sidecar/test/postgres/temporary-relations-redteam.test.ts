// Red team of the session's temporary schema, which regate's catalog connection cannot see (it is the agent's
// backend's pg_temp_N) and which PostgreSQL searches first for relations. Through regate with a policy that lets
// analysis agents make temporary tables and views and store anything in them (the example policy plus that), judged
// by the rows that reached the agent:
//  - a temporary view named like a public table (orders) over masked columns, read by that name, or as pg_temp.orders;
//  - masked values stored into a temporary table (CREATE TABLE AS, SELECT INTO, INSERT, UPDATE, a view's body) and
//    read back, in the same message, later, and through a statement prepared before they were stored;
//  - the same through search_path tricks (pg_temp first when creating, later when reading) and ALTER ... RENAME.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { attemptOn, connectClient, type Outcome } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { temporaryPolicyBundle } from "./temporary-policy.js";


let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let ssn: string;
let email: string;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, { policy: { bundle: temporaryPolicyBundle() } });
  // A view over masked columns, made by the database owner.
  await db.query("CREATE VIEW public.customer_contacts AS SELECT id, full_name, email FROM public.customers; GRANT SELECT ON public.customer_contacts TO app_scram");
  const [c] = await db.query("SELECT ssn, email FROM public.customers WHERE id = 2");
  ssn = c.ssn;
  email = c.email;
}, 180_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

beforeEach(async () => {
  // A session of its own per test: what one made in pg_temp is not another's.
  await agent?.end().catch(() => undefined);
  agent = await connectClient(regate.url());
});

const attempt = (sql: string | pg.QueryConfig): Promise<Outcome> => attemptOn(agent, sql);

/** Allowed and run: its rows. */
async function ok(sql: string | pg.QueryConfig): Promise<Record<string, unknown>[]> {
  const r = await attempt(sql);
  expect(r.code, `${JSON.stringify(sql)}: ${r.message}`).toBeUndefined();
  return r.rows!;
}

const leaks = (o: unknown): boolean => JSON.stringify(o).includes(ssn);

describe("a temporary view named like a public table", () => {
  it("is refused by its bare name while public.orders exists, and masked as pg_temp.orders", async () => {
    await ok("CREATE TEMP VIEW orders AS SELECT id, ssn AS status FROM customers WHERE id = 2");
    const bare = await attempt("SELECT status FROM orders");
    expect(leaks(bare), JSON.stringify(bare)).toBe(false);
    expect(bare.code).toBe("42501");
    expect(bare.message).toContain("orders may name this session's temporary relation");
    const qualified = await ok("SELECT status FROM pg_temp.orders");
    expect(qualified).toHaveLength(1);
    expect(leaks(qualified), JSON.stringify(qualified)).toBe(false);
    // The permanent table stays readable by its full name.
    expect(await ok("SELECT count(*)::int AS n FROM public.orders")).toEqual([{ n: 5000 }]);
  });

  it("made with pg_temp first on the path, read back on the default path", async () => {
    await ok("SET search_path = pg_temp, public");
    await ok("CREATE TABLE orders AS SELECT id, ssn AS status FROM customers WHERE id = 2");
    await ok("RESET search_path");
    const r = await attempt("SELECT status FROM orders");
    expect(leaks(r), JSON.stringify(r)).toBe(false);
    expect(r.code).toBe("42501");
  });

  it("renamed into the name of a public table", async () => {
    await ok("CREATE TEMP VIEW v AS SELECT id, ssn AS status FROM customers WHERE id = 2");
    await ok("ALTER VIEW v RENAME TO orders");
    const bare = await attempt("SELECT status FROM orders");
    expect(leaks(bare), JSON.stringify(bare)).toBe(false);
    expect(bare.code).toBe("42501");
    const qualified = await ok("SELECT status FROM pg_temp.orders");
    expect(leaks(qualified), JSON.stringify(qualified)).toBe(false);
  });

  it("with pg_temp listed after public, the bare name is public.orders on both sides", async () => {
    await ok("SET search_path = public, pg_temp");
    await ok("CREATE TEMP VIEW orders AS SELECT id, ssn AS status FROM customers WHERE id = 2");
    const rows = await ok("SELECT status FROM orders WHERE id = 2");
    expect(rows).toHaveLength(1);
    expect(leaks(rows)).toBe(false);
    expect(["pending", "paid", "shipped", "cancelled", "refunded"]).toContain(rows[0]!["status"]);
  });
});

describe("masked values stored into a temporary relation and read back", () => {
  it.each([
    ["CREATE TABLE AS", ["CREATE TEMP TABLE t AS SELECT id, ssn AS v FROM customers WHERE id = 2"]],
    ["SELECT INTO", ["SELECT id, ssn AS v INTO TEMP t FROM customers WHERE id = 2"]],
    ["INSERT into an empty one", ["CREATE TEMP TABLE t (id int, v text)", "INSERT INTO t SELECT id, ssn FROM customers WHERE id = 2"]],
    ["UPDATE", ["CREATE TEMP TABLE t (id int, v text)", "INSERT INTO t VALUES (2, 'x')", "UPDATE t SET v = (SELECT ssn FROM customers WHERE id = 2) WHERE id = 2"]],
    ["a view's body", ["CREATE TEMP VIEW t AS SELECT id, ssn AS v FROM customers WHERE id = 2"]],
    ["a table made from another temporary one", ["CREATE TEMP TABLE s AS SELECT id, ssn AS v FROM customers WHERE id = 2", "CREATE TEMP TABLE t AS SELECT id, v FROM s"]],
  ])("%s: the values come back masked", async (_name, setup) => {
    for (const sql of setup) await ok(sql);
    for (const sql of ["SELECT v FROM t", "SELECT upper(v) AS v FROM pg_temp.t", "SELECT t.v FROM t JOIN orders o ON o.id = t.id"]) {
      const rows = await ok(sql);
      expect(rows, sql).toHaveLength(1);
      expect(leaks(rows), `${sql}: ${JSON.stringify(rows)}`).toBe(false);
    }
    const star = await attempt("SELECT * FROM t");
    expect(leaks(star), JSON.stringify(star)).toBe(false);
  });

  it("stored from a permanent view over masked columns", async () => {
    await ok("CREATE TEMP TABLE t AS SELECT id, email AS v FROM customer_contacts WHERE id = 2");
    for (const sql of ["SELECT v FROM t", "SELECT v FROM pg_temp.t"]) {
      const r = await attempt(sql);
      expect(JSON.stringify(r), sql).not.toContain(email);
    }
  });

  it("stored and read in one message", async () => {
    await ok("CREATE TEMP TABLE t (id int, v text)");
    const r = await agent.query("INSERT INTO t SELECT id, ssn FROM customers WHERE id = 2; SELECT v FROM t").catch((e: Error) => e);
    expect(leaks(r instanceof Error ? r.message : (r as unknown as pg.QueryResult[]).map((x) => x.rows)), JSON.stringify(r)).toBe(false);
  });

  it("read through a statement prepared before the values were stored", async () => {
    await ok("CREATE TEMP TABLE t (id int, v text)");
    const q = { name: "read-t", text: "SELECT v FROM t" };
    expect(await ok(q)).toEqual([]);
    await ok("INSERT INTO t SELECT id, ssn FROM customers WHERE id = 2");
    const again = await attempt(q);
    expect(leaks(again), JSON.stringify(again)).toBe(false);
  });
});

describe("other ways to read what a temporary relation holds", () => {
  const STORE = "CREATE TEMP TABLE t AS SELECT id, ssn AS v FROM customers WHERE id = 2";
  it.each([
    "TABLE t",
    "SELECT row_to_json(t) AS j FROM t",
    "SELECT (SELECT v FROM t) AS v",
    "WITH w AS (SELECT v FROM t) SELECT v FROM w",
    "UPDATE t SET id = id WHERE id = 2 RETURNING v",
    "DELETE FROM t WHERE id = 2 RETURNING *",
    "INSERT INTO t SELECT id + 100, v FROM t RETURNING v",
    "COPY t TO STDOUT",
    "COPY (SELECT v FROM t) TO STDOUT",
  ])("%s", async (sql) => {
    await ok(STORE);
    const r = await attempt(sql);
    expect(leaks(r), JSON.stringify(r)).toBe(false);
  });

  it("stored and read in one pipelined extended batch", async () => {
    const raw = await Raw.open(regate.url());
    try {
      raw.send(...[
        "CREATE TEMP TABLE t (id int, v text)",
        "INSERT INTO t SELECT id, ssn FROM customers WHERE id = 2",
        "SELECT v FROM t",
      ].flatMap((sql) => [parse(sql), bind(), execute()]), sync());
      await raw.until((m) => m.at(-1)?.type === "Z");
      const text = raw.messages.map((m) => `${m.type}:${m.body.toString("latin1")}`).join("\n");
      expect(text).toContain("Z:");
      expect(leaks(text), text).toBe(false);
    } finally {
      raw.close();
    }
  });

  it("through a SQL prepared statement made before the values were stored", async () => {
    await ok("CREATE TEMP TABLE t (id int, v text)");
    await ok("PREPARE p AS SELECT v FROM t");
    await ok("INSERT INTO t SELECT id, ssn FROM customers WHERE id = 2");
    const r = await attempt("EXECUTE p");
    expect(leaks(r), JSON.stringify(r)).toBe(false);
  });

  it("CREATE TABLE AS EXECUTE of a prepared statement over masked columns", async () => {
    await ok("PREPARE p AS SELECT id, ssn AS v FROM customers WHERE id = 2");
    await attempt("CREATE TEMP TABLE t AS EXECUTE p");
    const r = await attempt("SELECT v FROM pg_temp.t");
    expect(leaks(r), JSON.stringify(r)).toBe(false);
  });

  it("a temporary sequence named like a public one is refused by its bare name", async () => {
    await ok("CREATE TEMP SEQUENCE orders_id_seq");
    const r = await attempt("SELECT nextval('orders_id_seq')");
    expect(r.code).toBe("42501");
    expect(r.message).toContain("orders_id_seq may name this session's temporary relation");
  });

  it("a temporary function over internal.* cannot be made", async () => {
    const r = await attempt("CREATE FUNCTION pg_temp.k() RETURNS text LANGUAGE sql AS $$ SELECT secret FROM internal.api_keys LIMIT 1 $$");
    expect(r.code).toBe("42501");
  });
});

describe("must-allow", () => {
  it("a session without temporary relations reads public tables as before", async () => {
    expect(await ok("SELECT id, status FROM orders WHERE id = 1")).toHaveLength(1);
    const rows = await ok("SELECT ssn FROM customers WHERE id = 2");
    expect(leaks(rows)).toBe(false);
  });

  it("a temporary table of constants is read in clear, and public tables beside it as before", async () => {
    await ok("CREATE TEMP TABLE scratch (id int, note text)");
    await ok("INSERT INTO scratch VALUES (1, 'my note')");
    expect(await ok("SELECT note FROM scratch")).toEqual([{ note: "my note" }]);
    expect(await ok("SELECT s.note, o.status IS NOT NULL AS has FROM scratch s JOIN orders o ON o.id = s.id")).toEqual([{ note: "my note", has: true }]);
    expect(await ok("SELECT id FROM orders WHERE id = 1")).toEqual([{ id: 1 }]);
  });
});
