// What ORMs, drivers and pools send, through regate with the example policy, judged by what the database
// did: each statement the policy means to allow runs, and each nearby one it must still refuse does not.
// (A sweep of connect-time, introspection and CRUD traffic from node-pg, postgres.js, asyncpg, psycopg,
// SQLAlchemy, Django, Rails, Hibernate, Prisma, knex found these refused.)
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { attemptOn, type Outcome, connectClient } from "../support/attempt.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  // Created by the database owner: a view over masked columns, and a table of internal.* that an
  // unqualified `orders` finds first on a search_path that lists internal.
  await db.query(`CREATE VIEW public.customer_contacts AS SELECT id, full_name, email FROM public.customers;
    CREATE TABLE internal.orders (id int, note text);
    INSERT INTO internal.orders VALUES (1, 'internal note');
    GRANT SELECT ON public.customer_contacts TO app_scram;
    GRANT USAGE ON SCHEMA internal TO app_scram;
    GRANT SELECT ON internal.orders TO app_scram`);
  regate = await startRegate(db);
  agent = await connect();
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

const connect = (config: Partial<pg.ClientConfig> = {}): Promise<pg.Client> => connectClient(regate.url(), config);


const attempt = (sql: string | pg.QueryConfig, client = agent): Promise<Outcome> => attemptOn(client, sql);

async function lastValue(sequence: string): Promise<string> {
  return String((await db.query(`SELECT last_value FROM ${sequence}`))[0].last_value);
}

/** last_value and is_called: the first nextval of a fresh sequence changes only is_called. */
async function sequenceState(sequence: string): Promise<string> {
  const [row] = await db.query(`SELECT last_value, is_called FROM ${sequence}`);
  return `${row.last_value}/${row.is_called}`;
}

describe("sequences that belong to a table's column are written as that table", () => {
  it.each([
    ["Hibernate's nextval, simple protocol", "select nextval('orders_id_seq')"],
    ["nextval, extended protocol", { text: "SELECT nextval('public.orders_id_seq') AS id", values: [] }],
  ])("%s moves orders' sequence", async (_name, sql) => {
    const before = await sequenceState("public.orders_id_seq");
    const r = await attempt(sql);
    expect(r.code).toBeUndefined();
    expect(await sequenceState("public.orders_id_seq")).not.toBe(before);
  });

  it("INSERT ... VALUES (nextval(...), ...) inserts the row", async () => {
    const r = await attempt({
      text: "INSERT INTO orders (id, customer_id, amount, status, created_at) VALUES (nextval('orders_id_seq'), $1, $2, $3, now()) RETURNING id",
      values: [1, 12.5, "pending"],
    });
    expect(r.code).toBeUndefined();
    expect(await db.query("SELECT status FROM public.orders WHERE id = $1", [r.rows?.[0]?.["id"]])).toEqual([{ status: "pending" }]);
  });

  it("postgres.js prepares and pipelines it too; a sequence named by a parameter stays refused", async () => {
    const sql = postgres(regate.url(), { max: 1, onnotice: () => undefined });
    try {
      const [a, b] = await sql.begin((tx) => [
        tx`select nextval('orders_id_seq') as id`,
        tx`insert into orders (id, customer_id, amount, status, created_at) values (nextval('orders_id_seq'), ${1}, ${2}, ${"pending"}, now()) returning id`,
      ]);
      expect(Number(b?.[0]?.["id"])).toBeGreaterThan(Number(a?.[0]?.["id"]));
      // Which sequence is not known when the statement is decided.
      const refused = await sql`select nextval(${"orders_id_seq"})`.then(() => undefined, (e: { code?: string }) => e);
      expect(refused?.code).toBe("42501");
    } finally {
      await sql.end();
    }
  });

  it("Django's sequence reset (setval of pg_get_serial_sequence) and Rails' reset_pk_sequence! run", async () => {
    const django = await attempt(`SELECT setval(pg_get_serial_sequence('"orders"','id'), coalesce(max("id"), 1), max("id") IS NOT null) FROM "orders"`);
    expect(django.code).toBeUndefined();
    const max = String((await db.query("SELECT max(id) AS m FROM public.orders"))[0].m);
    expect(await lastValue("public.orders_id_seq")).toBe(max);
    const rails = await attempt(`SELECT setval('"public"."orders_id_seq"', ${Number(max) + 10}, true)`);
    expect(rails.code).toBeUndefined();
    expect(await lastValue("public.orders_id_seq")).toBe(String(Number(max) + 10));
  });

  it.each([
    ["a sequence of internal.*, named through pg_get_serial_sequence", "SELECT setval(pg_get_serial_sequence('internal.api_keys', 'id'), 1000)", "internal.api_keys_id_seq", /internal\.\* is never accessible/],
    ["a sequence of internal.*, named", "SELECT setval('internal.api_keys_id_seq', 1000)", "internal.api_keys_id_seq", /internal\.\* is never accessible/],
    ["a sequence of a table the agent may not write", "SELECT nextval('customers_id_seq')", "public.customers_id_seq", /writing public\.customers_id_seq is not allowed/],
  ])("%s stays refused and unmoved", async (_name, sql, sequence, reason) => {
    const before = await sequenceState(sequence);
    const r = await attempt(sql);
    expect(r.code).toBe("42501");
    expect(r.message).toMatch(reason);
    expect(await sequenceState(sequence)).toBe(before);
  });
});

describe("a write may filter on another table's masked column, not store it", () => {
  const email = async (id: number) => String((await db.query("SELECT email FROM public.customers WHERE id = $1", [id]))[0].email);
  const orderOf = async (customer: number) => Number((await db.query("SELECT min(id) AS id FROM public.orders WHERE customer_id = $1", [customer]))[0].id);
  const statusOf = async (order: number) => String((await db.query("SELECT status FROM public.orders WHERE id = $1", [order]))[0].status);

  it("UPDATE ... WHERE customer_id IN (SELECT id FROM customers WHERE email = $1) (Rails' where(customer: ...)) runs", async () => {
    const order = await orderOf(2);
    await db.query("UPDATE public.orders SET status = 'pending' WHERE id = $1", [order]);
    const r = await attempt({ text: `UPDATE "orders" SET "status" = $1 WHERE "orders"."id" = $2 AND "orders"."customer_id" IN (SELECT "customers"."id" FROM "customers" WHERE "customers"."email" = $3)`, values: ["shipped", order, await email(2)] });
    expect(r.code).toBeUndefined();
    expect(await statusOf(order)).toBe("shipped");
  });

  it("UPDATE ... FROM customers WHERE ssn = '...' and INSERT ... SELECT ... WHERE email = '...' run", async () => {
    const [c] = (await db.query("SELECT id, ssn FROM public.customers WHERE ssn IS NOT NULL ORDER BY id LIMIT 1")) as { id: number; ssn: string }[];
    const order = await orderOf(c!.id);
    await db.query("UPDATE public.orders SET status = 'pending' WHERE id = $1", [order]);
    const u = await attempt(`UPDATE orders o SET status = 'cancelled' FROM customers c WHERE c.id = o.customer_id AND o.id = ${order} AND c.ssn = '${c!.ssn}'`);
    expect(u.code).toBeUndefined();
    expect(await statusOf(order)).toBe("cancelled");
    const i = await attempt({ text: "INSERT INTO orders (customer_id, amount, status, created_at) SELECT id, 1, 'pending', now() FROM customers WHERE email = $1 RETURNING id, customer_id", values: [await email(3)] });
    expect(i.code).toBeUndefined();
    expect(i.rows).toEqual([{ id: expect.any(Number), customer_id: 3 }]);
  });

  it.each([
    "UPDATE orders o SET status = c.email FROM customers c WHERE c.id = o.customer_id AND o.id = 1",
    "UPDATE orders SET status = (SELECT CASE WHEN ssn LIKE '6%' THEN 'paid' ELSE 'shipped' END FROM customers WHERE id = 2) WHERE id = 1",
    "INSERT INTO orders (customer_id, amount, status, created_at) SELECT id, 1, email, now() FROM customer_contacts WHERE id = 1",
    "INSERT INTO orders (id, customer_id, amount, status, created_at) VALUES (1, 1, 1, 'paid', now()) ON CONFLICT (id) DO UPDATE SET status = (SELECT phone FROM customers WHERE id = 2)",
  ])("a write that stores one is refused and changes nothing: %s", async (sql) => {
    const before = await db.query("SELECT id, status FROM public.orders ORDER BY id DESC LIMIT 3");
    const count = await db.query("SELECT count(*) FROM public.orders");
    const r = await attempt(sql);
    expect(r.code).toBe("42501");
    expect(r.message).toContain("a write may not store masked columns of other tables");
    expect(await db.query("SELECT id, status FROM public.orders ORDER BY id DESC LIMIT 3")).toEqual(before);
    expect(await db.query("SELECT count(*) FROM public.orders")).toEqual(count);
    expect((await db.query("SELECT status FROM public.orders WHERE id = 1"))[0].status).not.toContain("@");
  });
});

describe("settings drivers and pools send", () => {
  it.each([
    "SET client_encoding TO 'unicode'",
    "set client_encoding to 'UTF8'",
    "SET standard_conforming_strings = on",
    "SET intervalstyle = iso_8601",
    "SET client_min_messages TO 'warning'",
  ])("Rails' connection setup is allowed: %s", async (sql) => {
    expect((await attempt(sql)).code).toBeUndefined();
    expect(await agent.query("SHOW client_encoding")).toMatchObject({ rows: [{ client_encoding: "UTF8" }] });
    expect(await agent.query("SHOW standard_conforming_strings")).toMatchObject({ rows: [{ standard_conforming_strings: "on" }] });
  });

  it("asyncpg's pool reset runs, and leaves the session as it started", async () => {
    const c = await connect();
    try {
      expect((await attempt("SET application_name = 'worker'; SET search_path = public", c)).code).toBeUndefined();
      expect((await attempt("SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;", c)).code).toBeUndefined();
      expect((await c.query("SELECT current_setting('client_encoding') AS e, current_setting('standard_conforming_strings') AS s")).rows).toEqual([{ e: "UTF8", s: "on" }]);
      expect((await attempt("SELECT count(*)::int AS n FROM orders", c)).rows?.[0]?.["n"]).toBeGreaterThan(0);
    } finally {
      await c.end();
    }
  });

  it("asyncpg's type introspection restores jit with a parameter: SELECT set_config('jit', $1, false)", async () => {
    const r = await attempt({ text: "SELECT set_config('jit', $1, false) AS v", values: ["off"] });
    expect(r.code).toBeUndefined();
    expect(r.rows).toEqual([{ v: "off" }]);
  });

  it.each([
    ["SELECT set_config('search_path', $1, false)", ["internal"]],
    ["SELECT set_config('client_encoding', $1, false)", ["SJIS"]],
    ["SELECT set_config('standard_conforming_strings', $1, false)", ["off"]],
  ])("a setting regate must know is still refused when its value is a parameter: %s", async (text, values) => {
    expect((await attempt({ text, values })).code).toBe("42501");
    expect((await agent.query("SHOW standard_conforming_strings")).rows).toEqual([{ standard_conforming_strings: "on" }]);
  });

  it("DISCARD ALL runs in a session that began as its login role (pool-resets.test.ts has the rest)", async () => {
    const r = await attempt("DISCARD ALL");
    expect(r.code).toBeUndefined();
    expect((await agent.query("SELECT current_user AS u")).rows).toEqual([{ u: db.users.scram.user }]);
  });
});

describe("RESET goes back to the search_path the session started with", () => {
  it.each(["RESET search_path", "RESET ALL", "SET search_path TO DEFAULT"])("%s: an unqualified name that resolves to internal.* stays refused", async (reset) => {
    const c = await connect({ options: "-c search_path=internal,public" } as Partial<pg.ClientConfig>);
    try {
      expect((await attempt("SET search_path = public", c)).code).toBeUndefined();
      expect((await attempt("SELECT count(*)::int AS n FROM orders", c)).rows?.[0]?.["n"]).toBeGreaterThan(1);
      expect((await attempt(reset, c)).code).toBeUndefined();
      // The server now reads internal.orders for `orders`.
      const r = await attempt("SELECT * FROM orders", c);
      expect(r.code).toBe("42501");
      expect(r.message).toMatch(/internal\.\* is never accessible/);
      expect(JSON.stringify(r)).not.toContain("internal note");
    } finally {
      await c.end();
    }
  });
});
