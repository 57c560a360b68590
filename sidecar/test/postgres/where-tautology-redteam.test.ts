// The example policy refuses an UPDATE or DELETE without WHERE so that an agent cannot change every row of a
// table at once. A WHERE that is true for every row is no WHERE: `id = 5 OR true`, `id = id`,
// `NOT (id <> id)`, a parameter bound to true as one branch of an OR, the same inside a CTE or a MERGE.
// Run directly, each changes every order; through regate each is refused before it runs (every order is
// still there, unchanged), while conditions that choose rows by the target's values keep working.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { attemptOn, connectClient, type Outcome } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

// Orders 1 to 5000 come from testdata/demo/seed.sql; each test adds ten (100001 on) that it may delete.
const EXTRA = 100_000;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
  // Payments refer to orders: without the reference a DELETE of every order runs directly, as the attack would.
  await db.query("ALTER TABLE public.payments DROP CONSTRAINT payments_order_id_fkey");
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

beforeEach(async () => {
  await db.query(`DELETE FROM public.orders WHERE id > ${EXTRA}`);
  await db.query(`INSERT INTO public.orders (id, customer_id, amount, status, created_at) SELECT ${EXTRA} + g, 1, 1, 'pending', now() FROM generate_series(1, 10) g`);
});

const attempt = (sql: string | pg.QueryConfig): Promise<Outcome> => attemptOn(agent, sql);
/** Every order, as a digest: a refused statement must leave it as it was. */
const orders = async (): Promise<string> => (await db.query("SELECT count(*) || ':' || md5(string_agg(id || status, ',' ORDER BY id)) AS t FROM public.orders"))[0]!.t as string;
const total = async (): Promise<number> => Number((await db.query("SELECT count(*) AS n FROM public.orders"))[0]!.n);

/** How many orders `q` changes when run directly (in a transaction rolled back, so the table stays as it is). */
async function directCount(q: string | pg.QueryConfig): Promise<number | null> {
  const c = new pg.Client({ connectionString: db.url() });
  await c.connect();
  try {
    await c.query("BEGIN");
    return (await c.query(q)).rowCount;
  } finally {
    await c.query("ROLLBACK");
    await c.end();
  }
}

const attacks: [string, string][] = [
  ["OR true", "DELETE FROM public.orders WHERE id = 5 OR true"],
  ["true OR", "DELETE FROM public.orders WHERE true OR id = 1"],
  ["a column equal to itself", "DELETE FROM public.orders WHERE id = id"],
  ["qualified and bare", "UPDATE public.orders o SET status = 'cancelled' WHERE o.id = id"],
  ["IS NOT NULL OR 1=1", "DELETE FROM public.orders WHERE id IS NOT NULL OR 1=1"],
  ["IS NOT NULL on a key", "DELETE FROM public.orders WHERE id IS NOT NULL"],
  ["IS NOT TRUE OR true", "DELETE FROM public.orders WHERE (id = 1) IS NOT TRUE OR true"],
  ["NOT of never", "DELETE FROM public.orders WHERE NOT (id <> id)"],
  ["NOT of AND false", "DELETE FROM public.orders WHERE NOT (id = 5 AND false)"],
  ["IS NOT DISTINCT FROM itself", "DELETE FROM public.orders WHERE status IS NOT DISTINCT FROM status"],
  ["coalesce equal to itself", "UPDATE public.orders SET status = 'cancelled' WHERE coalesce(id, 0) = coalesce(id, 0)"],
  ["a truth value compared with true", "UPDATE public.orders SET status = 'cancelled' WHERE (id = 5 OR true) = true"],
  ["a truth value cast", "UPDATE public.orders SET status = 'cancelled' WHERE (id = 5 OR true)::boolean"],
  ["CASE ... ELSE true", "UPDATE public.orders SET status = 'cancelled' WHERE CASE WHEN id = 5 THEN true ELSE true END"],
  ["IN a list holding itself", "DELETE FROM public.orders WHERE id IN (1, id)"],
  ["in a CTE", "WITH d AS (DELETE FROM public.orders WHERE id = 5 OR true RETURNING 1) SELECT count(*) FROM d"],
  ["MERGE ON ... OR true", "MERGE INTO public.orders o USING (VALUES (1)) s(id) ON o.id = s.id OR true WHEN MATCHED THEN DELETE"],
  ["MERGE WHEN MATCHED AND ... OR true", "MERGE INTO public.orders o USING public.customers s ON s.id = 1 WHEN MATCHED AND (o.id = 5 OR true) THEN DELETE"],
];

describe("a WHERE true for every row is no WHERE", () => {
  it.each(attacks)("%s changes every order directly and is refused through regate, unrun", async (_name, sql) => {
    const n = await total();
    // The CTE's tag counts the SELECT's one row; the others count the orders changed.
    if (!sql.startsWith("WITH")) expect(await directCount(sql)).toBe(n);
    const before = await orders();
    const r = await attempt(sql);
    expect(r.code, r.message).toBe("42501");
    expect(r.message).toMatch(/(DELETE|UPDATE|MERGE) without WHERE is not allowed/);
    expect(await orders()).toBe(before);
  });

  it.each([
    ["a parameter as a branch", "DELETE FROM public.orders WHERE id = $1 OR $2", [5, true]],
    ["a cast parameter first", "DELETE FROM public.orders WHERE $1::bool OR id = $2", [true, 5]],
    ["a parameter in a CTE", "WITH d AS (UPDATE public.orders SET status = 'cancelled' WHERE id = $1 OR $2 RETURNING 1) SELECT count(*) AS n FROM d", [5, true]],
  ] as [string, string, unknown[]][])("%s bound to true (extended protocol) is refused, unrun", async (_name, text, values) => {
    const n = await total();
    if (!text.startsWith("WITH")) expect(await directCount({ text, values })).toBe(n);
    const before = await orders();
    const r = await attempt({ text, values });
    expect(r.code, r.message).toBe("42501");
    expect(r.message).toMatch(/(DELETE|UPDATE) without WHERE is not allowed/);
    expect(await orders()).toBe(before);
  });
});

describe("must stay allowed", () => {
  it.each([
    ["an id", `DELETE FROM public.orders WHERE id = ${EXTRA + 1}`, 1],
    ["IN a list", `DELETE FROM public.orders WHERE id IN (${EXTRA + 1}, ${EXTRA + 2})`, 2],
    ["two conditions on the target", `UPDATE public.orders SET status = 'paid' WHERE status = 'pending' AND id > ${EXTRA} AND created_at < now() + interval '1 day'`, 10],
    ["OR of two conditions on the target", `DELETE FROM public.orders WHERE id = ${EXTRA + 1} OR amount = 12345`, 1],
    ["IN a subquery", `DELETE FROM public.orders WHERE id IN (SELECT ${EXTRA} + g FROM generate_series(1, 3) g)`, 3],
    ["UPDATE ... FROM on ids", `UPDATE public.orders o SET status = 'paid' FROM (SELECT ${EXTRA + 4} AS id) s WHERE o.id = s.id`, 1],
    ["DELETE ... USING on ids", `DELETE FROM public.orders o USING (SELECT ${EXTRA + 5} AS id, 1 AS x) s WHERE o.id = s.id AND s.x = 1`, 1],
    ["MERGE ON the target", `MERGE INTO public.orders o USING (SELECT ${EXTRA + 6} AS id) s ON o.id = s.id WHEN MATCHED THEN UPDATE SET status = 'paid'`, 1],
  ])("%s", async (_name, sql, count) => {
    const r = await agent.query(sql);
    expect(r.rowCount).toBe(count);
  });

  it.each([
    ["an id as a parameter", "DELETE FROM public.orders WHERE id = $1", [EXTRA + 7], 1],
    ["ANY of an array parameter", "DELETE FROM public.orders WHERE id = ANY($1)", [[EXTRA + 8, EXTRA + 9]], 2],
  ] as [string, string, unknown[], number][])("%s (extended protocol)", async (_name, text, values, count) => {
    const r = await agent.query({ text, values });
    expect(r.rowCount).toBe(count);
  });

  it("WHERE CURRENT OF a cursor", async () => {
    await agent.query("BEGIN");
    await agent.query(`DECLARE c CURSOR FOR SELECT id FROM public.orders WHERE id = ${EXTRA + 10} FOR UPDATE`);
    await agent.query("FETCH 1 FROM c");
    const r = await agent.query("DELETE FROM public.orders WHERE CURRENT OF c");
    await agent.query("COMMIT");
    expect(r.rowCount).toBe(1);
    expect(await total()).toBe(5000 + 9);
  });
});
