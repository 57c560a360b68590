// Row counts through a view: a deployer's view may choose its rows by relating a masked column to another
// value (`WHERE g <= split_part(ssn, '-', 1)::int`, a join on an email). Written out, a count of those rows is
// masked and a write that reports it is refused (row-counts-redteam.test.ts); read through the view, the
// analysis mapped the view's columns but not what chose its rows: `SELECT count(*) FROM v` answered 607
// (customer 2's SSN part) unmasked, `INSERT ... SELECT FROM v` answered `INSERT 0 607`, and count(*) could be
// stored in orders. Judged by what the agent received and what the database kept.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { attemptOn, connectClient, type Outcome } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
const REFUSAL = "a statement that sends no rows may not report a count of rows chosen by a masked column's value";

beforeAll(async () => {
  db = await startPostgres();
  // customer_area: customer 2 has 607 rows, as many as the first part of its SSN (607-59-5353).
  await db.query("CREATE VIEW public.customer_area AS SELECT c.id, g AS n FROM public.customers c, generate_series(1, 9999) g WHERE g <= split_part(c.ssn, '-', 1)::int");
  // Must-allow: views whose rows are chosen by ordinary values.
  await db.query("CREATE VIEW public.recent_orders AS SELECT id, customer_id, amount, status FROM public.orders WHERE created_at >= '2024-07-01' AND status <> 'cancelled'");
  await db.query("CREATE VIEW public.customer_names AS SELECT id, full_name FROM public.customers WHERE id <= 100");
  await db.query("GRANT SELECT ON public.customer_area, public.recent_orders, public.customer_names TO PUBLIC");
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

beforeEach(async () => {
  await db.query("DELETE FROM public.orders WHERE id > 5000");
});

const attempt = (sql: string): Promise<Outcome> => attemptOn(agent, sql);
const orders = async (): Promise<string> => (await db.query("SELECT md5(string_agg(id || status || amount, ',' ORDER BY id)) AS t FROM public.orders"))[0]!.t as string;
const newOrder = "INSERT INTO public.orders (customer_id, amount, status, created_at) SELECT 1";

describe("rows chosen inside a view by a masked value", () => {
  it("count(*) through the view is masked, as written out", async () => {
    const direct = await db.query("SELECT count(*)::int AS n FROM public.customer_area WHERE id = 2");
    expect(direct[0].n).toBe(607);
    for (const sql of ["SELECT count(*) AS n FROM public.customer_area WHERE id = 2", "SELECT max(n) + 0 AS n FROM public.customer_area WHERE id = 2", "SELECT (SELECT count(*) FROM public.customer_area a WHERE a.id = c.id) AS n FROM public.customers c WHERE c.id = 2"]) {
      const r = await attempt(sql);
      expect(JSON.stringify(r), sql).not.toContain("607");
    }
  });

  it("a write through the view that reports its count is refused, unrun", async () => {
    const before = await orders();
    const r = await attempt(`${newOrder}, 0, 'pending', now() FROM public.customer_area WHERE id = 2`);
    expect(r.code, r.message).toBe("42501");
    expect(r.message).toContain(REFUSAL);
    expect(await orders()).toBe(before);
  });

  it("count(*) through the view cannot be stored, to be read back unmasked", async () => {
    const before = await orders();
    const r = await attempt(`${newOrder}, count(*), 'pending', now() FROM public.customer_area WHERE id = 2 RETURNING id`);
    expect(r.code, r.message).toBe("42501");
    expect(await orders()).toBe(before);
    expect((await db.query("SELECT count(*)::int AS n FROM public.orders WHERE amount = 607"))[0].n).toBe(0);
  });
});

describe("must-allow: views with ordinary filters", () => {
  it("counts, aggregates and columns through them come back as they are", async () => {
    const want = (await db.query("SELECT count(*)::int AS n, sum(amount)::text AS s FROM public.recent_orders"))[0];
    expect(await attempt("SELECT count(*)::int AS n, sum(amount)::text AS s FROM public.recent_orders")).toEqual({ rows: [want] });
    expect(await attempt("SELECT count(*)::int AS n FROM public.customer_names")).toEqual({ rows: [{ n: 100 }] });
    expect(await attempt("SELECT full_name FROM public.customer_names WHERE id = 2")).toEqual({ rows: [(await db.query("SELECT full_name FROM public.customers WHERE id = 2"))[0]] });
    // customer_area's plain columns: which rows there are is counted by the row budgets, as for a table.
    expect((await attempt("SELECT id FROM public.customer_area WHERE id = 2 LIMIT 3")).rows).toEqual([{ id: 2 }, { id: 2 }, { id: 2 }]);
  });

  it("writes through them keep their counts", async () => {
    const n = (await db.query("SELECT count(*)::int AS n FROM public.recent_orders WHERE customer_id <= 10"))[0].n as number;
    const r = await agent.query(`${newOrder}, amount, 'pending', now() FROM public.recent_orders WHERE customer_id <= 10`);
    expect(r.rowCount).toBe(n);
    const u = await agent.query("UPDATE public.orders o SET status = o.status FROM public.recent_orders r WHERE o.id = r.id AND r.customer_id = 7");
    expect(u.rowCount).toBe((await db.query("SELECT count(*)::int AS n FROM public.recent_orders WHERE customer_id = 7"))[0].n);
  });
});
