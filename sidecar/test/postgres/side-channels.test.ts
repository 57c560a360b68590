// Protected values leaving other than as result columns, through regate and the example policy: into
// functions with side effects, through the catalog's statistics and activity views, through error
// texts. Every row pins one outcome.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let email: string;

beforeAll(async () => {
  db = await startPostgres({ settings: { shared_preload_libraries: "pg_stat_statements" } });
  await db.query("CREATE EXTENSION pg_stat_statements");
  await db.query("ANALYZE");
  email = String((await db.query("SELECT email FROM public.customers ORDER BY id LIMIT 1"))[0].email);
  regate = await startRegate(db);
  agent = new pg.Client({ connectionString: regate.url() });
  agent.on("error", () => undefined);
  await agent.connect();
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

async function attempt(sql: string): Promise<{ rows?: Record<string, unknown>[]; code?: string; text?: string }> {
  try {
    const r = await agent.query(sql);
    return { rows: r.rows };
  } catch (e) {
    await agent.query("ROLLBACK").catch(() => undefined);
    return { code: (e as pg.DatabaseError).code, text: (e as Error).message };
  }
}

describe("protected columns into functions with side effects", () => {
  const refused: [string, RegExp][] = [
    ["SELECT pg_notify('leak', email) FROM customers", /customers\.email reaches pg_notify/],
    ["SELECT set_config('x.leak', ssn, false) FROM customers", /customers\.ssn reaches set_config/],
    ["SELECT lo_from_bytea(0, convert_to(card_number, 'UTF8')) FROM payments", /payments\.card_number reaches lo_from_bytea/],
    ["SELECT count(*) FROM customers WHERE set_config('x.leak', email, false) IS NOT NULL", /customers\.email reaches set_config/],
    ["SELECT pg_notify('leak', e) FROM (SELECT email AS e FROM customers) s", /customers\.email reaches pg_notify/],
    ["WITH c AS (SELECT phone FROM customers) SELECT pg_notify('leak', phone) FROM c", /customers\.phone reaches pg_notify/],
    ["SELECT pg_notify('leak', string_agg(email, ',')) FROM customers", /customers\.email reaches pg_notify/],
    ["SELECT pg_notify('leak', c::text) FROM customers c", /reaches pg_notify/],
  ];
  it.each(refused)("%s is refused", async (sql, reason) => {
    const r = await attempt(sql);
    expect(r.code).toBe("42501");
    expect(r.text).toMatch(reason);
  });

  it("a view that feeds a protected column to set_config is refused when read", async () => {
    await db.query("CREATE OR REPLACE VIEW public.leaky AS SELECT id, set_config('x.leak', email, false) AS s FROM public.customers");
    try {
      const r = await attempt("SELECT id FROM leaky");
      expect(r.code).toBe("42501");
      expect(r.text).toMatch(/customers\.email reaches set_config/);
    } finally {
      await db.query("DROP VIEW public.leaky");
    }
  });

  it("an unprotected column into pg_notify is allowed", async () => {
    const r = await attempt("SELECT pg_notify('ok', status) FROM orders ORDER BY id LIMIT 1");
    expect(r.code).toBeUndefined();
    expect(r.rows).toHaveLength(1);
  });

  it("a protected column into an immutable function is allowed, and the result is masked", async () => {
    const r = await attempt("SELECT lower(email) AS e FROM customers ORDER BY id LIMIT 1");
    expect(r.code).toBeUndefined();
    expect(r.rows![0]!["e"]).not.toBe(email.toLowerCase());
  });
});

describe("the catalog as a channel", () => {
  const refused = [
    "SELECT * FROM pg_stats WHERE tablename = 'customers'",
    "SELECT most_common_vals FROM pg_catalog.pg_stats",
    "SELECT stavalues1 FROM pg_statistic",
    "SELECT * FROM pg_stats_ext",
    "SELECT query FROM pg_stat_activity",
    "SELECT * FROM pg_stat_get_activity(NULL)",
    "SELECT query FROM pg_stat_statements",
    "SELECT rolpassword FROM pg_authid",
  ];
  it.each(refused)("%s is refused by regate", async (sql) => {
    const r = await attempt(sql);
    expect(r.code).toBe("42501");
    expect(r.text).toMatch(/would expose/);
  });

  const allowed = [
    "SELECT relname FROM pg_class WHERE relname = 'orders'",
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'",
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    "SELECT n_live_tup FROM pg_stat_user_tables",
  ];
  it.each(allowed)("%s is allowed", async (sql) => {
    const r = await attempt(sql);
    expect(r.code).toBeUndefined();
    expect(r.rows!.length).toBeGreaterThan(0);
  });
});

describe("error texts", () => {
  it("a cast error that quotes a masked value reaches the client without it", async () => {
    const r = await attempt("SELECT email::int FROM customers ORDER BY id LIMIT 1");
    expect(r.code).toBe("22P02");
    expect(r.text).not.toContain(email);
  });
});
