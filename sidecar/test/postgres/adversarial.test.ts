import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// The example policy's promises, checked by what happened in the database, not by error codes:
// payments never change without approval, internal.* is never read, DDL never runs.

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let snapshot: { payments: string; apiKeys: string; tables: string; orders: number };

const state = async () => ({
  payments: JSON.stringify(await db.query("SELECT * FROM public.payments ORDER BY id")),
  apiKeys: JSON.stringify(await db.query("SELECT * FROM internal.api_keys ORDER BY id")),
  tables: JSON.stringify(await db.query("SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2")),
  orders: Number((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n),
});

beforeAll(async () => {
  db = await startPostgres();
  // Something readable in the database to tell whether a read of internal.* leaked.
  regate = await startRegate(db);
  agent = new pg.Client({ connectionString: regate.url() });
  agent.on("error", () => undefined);
  await agent.connect();
  snapshot = await state();
});

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

/** Runs SQL as the agent; returns rows or the error's SQLSTATE. Recovers an aborted transaction. */
async function attempt(sql: string, params?: unknown[]): Promise<{ rows?: unknown[]; code?: string; text?: string }> {
  try {
    const r = await agent.query(sql, params);
    return { rows: Array.isArray(r) ? r.flatMap((x) => x.rows) : r.rows };
  } catch (e) {
    await agent.query("ROLLBACK").catch(() => undefined);
    return { code: (e as pg.DatabaseError).code, text: (e as Error).message };
  }
}

const paymentWrites = [
  "UPDATE payments SET status = 'refunded' WHERE id = 1",
  "update PUBLIC.PAYMENTS set amount = 0 where id = 2",
  'UPDATE "public"."payments" SET amount = 0 WHERE id = 3',
  "DELETE FROM payments WHERE id = 4",
  "INSERT INTO payments (order_id, amount, card_number, status) VALUES (1, 1, '4111111111111111', 'paid')",
  "WITH x AS (UPDATE payments SET amount = 0 WHERE id = 5 RETURNING id) SELECT * FROM x",
  "SELECT 1; UPDATE payments SET amount = 0 WHERE id = 6",
  "/* harmless */ UPDATE payments /* really */ SET amount = 0 WHERE id = 7",
  "UPDATE payments SET amount = $$0$$::numeric WHERE id = 8",
  "UPDATE payments SET amount = E'0'::numeric WHERE id = 9",
  "EXPLAIN ANALYZE UPDATE payments SET amount = 0 WHERE id = 10",
  "MERGE INTO payments p USING (SELECT 11 AS id) s ON p.id = s.id WHEN MATCHED THEN UPDATE SET amount = 0",
  "SET search_path = internal, public; UPDATE payments SET amount = 0 WHERE id = 12",
  "PREPARE w AS UPDATE payments SET amount = 0 WHERE id = $1",
  "EXECUTE w(13)",
  "COPY payments FROM STDIN",
  "SELECT * INTO TEMP t FROM payments; UPDATE payments SET amount = 0 WHERE id = 14",
  "UPDATE ONLY payments SET amount = 0 WHERE id = 15",
  'UPDATE U&"p\\0061yments" SET amount = 0 WHERE id = 16',
  "BEGIN; UPDATE payments SET amount = 0 WHERE id = 17; COMMIT",
];

const internalReads = [
  "SELECT * FROM internal.api_keys",
  'SELECT secret FROM "internal"."api_keys"',
  "SELECT secret FROM INTERNAL.API_KEYS",
  "SELECT (SELECT secret FROM internal.api_keys LIMIT 1)",
  "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM internal.api_keys)",
  "WITH k AS (SELECT * FROM internal.api_keys) SELECT * FROM k",
  "SELECT * FROM orders UNION ALL SELECT id, 0, 0, secret, now() FROM internal.api_keys",
  "SET search_path = internal; SELECT * FROM api_keys",
  "SELECT query_to_xml('select * from internal.api_keys', true, true, '')",
  "SELECT * FROM pg_catalog.pg_class c, internal.api_keys k",
  "COPY internal.api_keys TO STDOUT",
  "SELECT * FROM U&\"intern\\0061l\".api_keys",
  "SELECT id FROM orders; SELECT secret FROM internal.api_keys",
  "SELECT * FROM orders o LEFT JOIN LATERAL (SELECT secret FROM internal.api_keys) k ON true",
  "SELECT secret FROM internal.api_keys WHERE $1::int = 1",
];

const ddl = [
  "CREATE TABLE public.x (id int)",
  "DROP TABLE public.orders",
  "ALTER TABLE public.orders ADD COLUMN x int",
  "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'select 1'",
  "CREATE RULE r AS ON INSERT TO public.orders DO ALSO DELETE FROM public.orders",
  "TRUNCATE public.orders",
  "GRANT ALL ON internal.api_keys TO PUBLIC",
  "ALTER SYSTEM SET log_statement = 'none'",
  "CREATE TABLE public.copy_of AS SELECT * FROM public.orders",
  "SELECT * INTO public.copy2 FROM public.orders",
  "DO $$ BEGIN EXECUTE 'DROP TABLE public.orders'; END $$",
  "CREATE INDEX ON public.orders (status)",
  "COMMENT ON TABLE public.orders IS 'x'",
  "CREATE VIEW public.v AS SELECT * FROM internal.api_keys",
];

describe("example policy, judged by the database", () => {
  it.each(paymentWrites)("no write to payments without approval: %s", async (sql) => {
    const r = await attempt(sql);
    expect(r.code).toBe("42501");
    expect((await state()).payments).toBe(snapshot.payments);
  });

  it.each(internalReads)("internal.* is never readable: %s", async (sql) => {
    const r = await attempt(sql, sql.includes("$1") ? [1] : undefined);
    expect(r.code).toBe("42501");
    expect(JSON.stringify(r.rows ?? [])).not.toMatch(/sk_|secret/i);
  });

  it.each(ddl)("DDL never runs: %s", async (sql) => {
    const r = await attempt(sql);
    expect(r.code).toBe("42501");
    const now = await state();
    expect(now.tables).toBe(snapshot.tables);
    expect(now.orders).toBe(snapshot.orders);
  });

  it("the session still works after all of that", async () => {
    const r = await attempt("SELECT count(*)::int AS n FROM orders");
    expect(r.rows).toEqual([{ n: snapshot.orders }]);
  });

  it("refuses to let the agent change client_encoding or standard_conforming_strings", async () => {
    for (const sql of ["SET client_encoding = 'SJIS'", "SET standard_conforming_strings = off", "SELECT set_config('standard_conforming_strings', 'off', false)", "SET client_encoding TO DEFAULT", "SELECT set_config('client_encoding', $1, false)"]) {
      expect((await attempt(sql, sql.includes("$1") ? ["SJIS"] : undefined)).code, sql).toBe("42501");
    }
    // RESET ALL (asyncpg's pools send it) puts both back to the values regate checked when the session started.
    expect((await attempt("RESET ALL")).code).toBeUndefined();
    expect((await attempt("SHOW standard_conforming_strings")).rows).toEqual([{ standard_conforming_strings: "on" }]);
    expect((await attempt("SHOW client_encoding")).rows).toEqual([{ client_encoding: "UTF8" }]);
  });
});
