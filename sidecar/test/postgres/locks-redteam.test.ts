// Findings of a red-team pass, through regate with the example policy, judged by what the database did: row locks
// taken by a SELECT (FOR UPDATE / SHARE) on a table the agent may not write, which stop that table's writers as
// the refused LOCK TABLE does, and planner statistics written by PostgreSQL 18's pg_restore_*_stats functions, as
// the refused ANALYZE does; advisory locks, which stop an application's jobs as a held row lock does.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

/** Runs `sqls` in one agent transaction, held open while `check` runs from a connection of the application (not through regate). */
async function whileAgentHolds(sqls: string[], check: (app: pg.Client) => Promise<void>): Promise<string | undefined> {
  const agent = await client(regate.url());
  const app = await client(db.url(db.users.scram.user));
  let refused: string | undefined;
  try {
    await agent.query("BEGIN");
    for (const sql of sqls) {
      try {
        await agent.query(sql);
      } catch (e) {
        refused = (e as pg.DatabaseError).code;
        break;
      }
    }
    await app.query("SET lock_timeout = '300ms'");
    await check(app);
  } finally {
    await agent.query("ROLLBACK").catch(() => undefined);
    await agent.end().catch(() => undefined);
    await app.end().catch(() => undefined);
  }
  return refused;
}

/** Whether the application's statement ran, or waited on the agent's lock past lock_timeout. */
async function runs(app: pg.Client, sql: string): Promise<boolean> {
  try {
    await app.query("BEGIN");
    await app.query(sql);
    return true;
  } catch (e) {
    if ((e as pg.DatabaseError).code === "55P03") return false;
    throw e;
  } finally {
    await app.query("ROLLBACK");
  }
}

describe("row locks taken by SELECT on a table the agent may not write", () => {
  const updateCustomer = "UPDATE public.customers SET full_name = full_name WHERE id = 2";
  const orderOfCustomer = "INSERT INTO public.orders (customer_id, amount, status, created_at) VALUES (2, 1, 'pending', now())";

  it.each([
    ["FOR UPDATE", "SELECT id FROM customers WHERE id = 2 FOR UPDATE"],
    ["FOR NO KEY UPDATE", "SELECT id FROM public.customers WHERE id = 2 FOR NO KEY UPDATE"],
    ["FOR SHARE", "SELECT id FROM customers WHERE id = 2 FOR SHARE"],
    ["FOR UPDATE OF an alias in a join with orders", "SELECT c.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = 2 FOR UPDATE OF c"],
    ["FOR UPDATE of a subquery", "SELECT * FROM (SELECT id FROM customers WHERE id = 2) s FOR UPDATE"],
    ["FOR UPDATE inside a subquery", "SELECT * FROM (SELECT id FROM customers WHERE id = 2 FOR UPDATE) s"],
  ])("%s is refused, and the application's UPDATE of that customer runs", async (_name, sql) => {
    let ran: boolean | undefined;
    const refused = await whileAgentHolds([sql], async (app) => {
      ran = await runs(app, updateCustomer);
    });
    expect(refused).toBe("42501");
    expect(ran).toBe(true);
  });

  it("FOR KEY SHARE is refused: it would stop the application deleting the customer", async () => {
    let ran: boolean | undefined;
    const refused = await whileAgentHolds(["SELECT id FROM customers WHERE id = 2 FOR KEY SHARE"], async (app) => {
      ran = await runs(app, "UPDATE public.customers SET id = id WHERE id = 2");
    });
    expect(refused).toBe("42501");
    expect(ran).toBe(true);
  });

  it("FOR UPDATE of a customer is refused: it would stop every new order of that customer (the foreign key check waits)", async () => {
    let ran: boolean | undefined;
    const refused = await whileAgentHolds(["SELECT id FROM customers WHERE id = 2 FOR UPDATE"], async (app) => {
      ran = await runs(app, orderOfCustomer);
    });
    expect(refused).toBe("42501");
    expect(ran).toBe(true);
  });

  it("a cursor over FOR UPDATE of customers is refused when declared", async () => {
    const refused = await whileAgentHolds(["DECLARE c CURSOR FOR SELECT id FROM customers FOR UPDATE", "FETCH 1 FROM c"], async () => undefined);
    expect(refused).toBe("42501");
  });

  it("must-allow: locking orders rows the agent may write, alone or joined to customers, with SKIP LOCKED", async () => {
    const agent = await client(regate.url());
    try {
      await agent.query("BEGIN");
      expect((await agent.query("SELECT id FROM orders WHERE id = 1 FOR UPDATE")).rows).toEqual([{ id: 1 }]);
      await agent.query("UPDATE orders SET status = status WHERE id = 1");
      const joined = await agent.query("SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = 2 FOR UPDATE OF o");
      expect(joined.rows).toEqual([{ id: 2 }]);
      expect((await agent.query("SELECT id FROM orders WHERE status = 'pending' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1")).rowCount).toBe(1);
      await agent.query("COMMIT");
      // Without a lock, reading customers is as before.
      expect((await agent.query("SELECT id FROM customers WHERE id = 2")).rows).toEqual([{ id: 2 }]);
    } finally {
      await agent.end().catch(() => undefined);
    }
  });
});

describe("planner statistics written by a function (PostgreSQL 18), as ANALYZE would", () => {
  it.each([
    ["pg_restore_relation_stats", "SELECT pg_restore_relation_stats('schemaname', 'public', 'relname', 'customers', 'relpages', 123456::integer)"],
    ["pg_clear_relation_stats", "SELECT pg_catalog.pg_clear_relation_stats('public', 'customers')"],
  ])("%s is refused and pg_class is unchanged", async (_name, sql) => {
    const before = await db.query("SELECT relpages, reltuples FROM pg_class WHERE oid = 'public.customers'::regclass");
    const agent = await client(regate.url());
    try {
      await expect(agent.query(sql)).rejects.toMatchObject({ code: "42501" });
    } finally {
      await agent.end().catch(() => undefined);
    }
    expect(await db.query("SELECT relpages, reltuples FROM pg_class WHERE oid = 'public.customers'::regclass")).toEqual(before);
  });

  it.each([
    ["pg_restore_attribute_stats", "SELECT pg_restore_attribute_stats('schemaname', 'public', 'relname', 'orders', 'attname', 'status', 'inherited', false, 'null_frac', 0.5::real)"],
    ["pg_clear_attribute_stats", "SELECT pg_clear_attribute_stats('public', 'orders', 'status', false)"],
  ])("%s is refused and pg_statistic is unchanged", async (_name, sql) => {
    await db.query("ANALYZE public.orders");
    const stats = "SELECT null_frac, n_distinct FROM pg_stats WHERE schemaname = 'public' AND tablename = 'orders' AND attname = 'status'";
    const before = await db.query(stats);
    expect(before).toHaveLength(1);
    const agent = await client(regate.url());
    try {
      await expect(agent.query(sql)).rejects.toMatchObject({ code: "42501" });
    } finally {
      await agent.end().catch(() => undefined);
    }
    expect(await db.query(stats)).toEqual(before);
  });
});

describe("advisory locks, which an application's jobs and migrations wait on", () => {
  it.each([
    ["pg_advisory_lock", "SELECT pg_advisory_lock(4242)"],
    ["pg_try_advisory_lock in a WHERE", "SELECT id FROM orders WHERE pg_try_advisory_lock(4242) LIMIT 1"],
    ["pg_advisory_xact_lock_shared, qualified", "SELECT pg_catalog.pg_advisory_xact_lock_shared(4242)"],
    ["the two-key form", "SELECT pg_advisory_lock(42, 42)"],
  ])("%s is refused, and the application still takes the lock", async (_name, sql) => {
    const key = sql.includes("42, 42") ? "42, 42" : "4242";
    let message = "";
    const refused = await whileAgentHolds([sql], async (app) => {
      const r = await app.query(`SELECT pg_try_advisory_lock(${key}) AS got`);
      expect(r.rows[0].got).toBe(true);
      await app.query(`SELECT pg_advisory_unlock(${key})`);
    }).catch((e: Error) => {
      message = e.message;
      throw e;
    });
    expect(refused, message).toBe("42501");
  });

  it("releasing its own (a pool's reset) stays allowed", async () => {
    const agent = await client(regate.url());
    try {
      const r = await agent.query("SELECT pg_advisory_unlock_all() AS done, pg_advisory_unlock(4242) AS had");
      expect(r.rows[0].had).toBe(false);
    } finally {
      await agent.end().catch(() => undefined);
    }
  });
});
