// Command tags count rows without sending them. Rows chosen by relating a masked column to another value
// (`WHERE g <= <part of an SSN>`) are as many as the masked value says: run directly, `INSERT 0 5353`,
// `UPDATE 5353`, `MOVE 5353` or `SELECT 5353` (CREATE TABLE AS) hand customer 2's SSN part to the agent, and
// no row budget sees it (no row is sent). Through regate each is refused before it runs (the table is
// unchanged), while the same statements sending their rows (RETURNING, FETCH) come back masked, and writes
// whose rows are chosen by constants or ids keep their counts.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { attemptOn, connectClient, type Outcome } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

// Customer 2 in testdata/demo/seed.sql has SSN 607-59-5353; orders (which the example policy lets an agent
// write) has ids 1 to 5000, and each test starts with 9,999 more (100001 on) that no payment refers to.
const PART = 607;
const part = "(SELECT split_part(c.ssn, '-', 1)::int FROM public.customers c WHERE c.id = 2)";
const chosen = `SELECT g FROM generate_series(1, 9999) g WHERE g <= ${part}`;
const EXTRA = 100_000;
const REFUSAL = "a statement that sends no rows may not report a count of rows chosen by a masked column's value";

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

beforeEach(async () => {
  await db.query(`DELETE FROM public.orders WHERE id > 5000`);
  await db.query(`INSERT INTO public.orders (id, customer_id, amount, status, created_at) SELECT ${EXTRA} + g, 1, 1, 'pending', now() FROM generate_series(1, 9999) g`);
});

const attempt = (sql: string | pg.QueryConfig): Promise<Outcome> => attemptOn(agent, sql);
/** Every order, as a digest: a refused statement must leave it as it was. */
const orders = async (): Promise<string> => (await db.query("SELECT md5(string_agg(id || status || amount, ',' ORDER BY id)) AS t FROM public.orders"))[0]!.t as string;

/** What the tag says when `sql` runs directly (in a transaction rolled back, so the table stays as seeded). */
async function directCount(sql: string): Promise<number | null> {
  const c = new pg.Client({ connectionString: db.url() });
  await c.connect();
  try {
    await c.query("BEGIN");
    const r = await c.query(sql);
    return r.rowCount;
  } finally {
    await c.query("ROLLBACK");
    await c.end();
  }
}

const newOrder = "INSERT INTO public.orders (customer_id, amount, status, created_at) SELECT 1, 0, 'pending', now()";
const writes: [string, string][] = [
  ["INSERT ... SELECT", `${newOrder} FROM generate_series(1, 9999) g WHERE g <= ${part}`],
  ["UPDATE ... WHERE", `UPDATE public.orders SET status = status WHERE id <= ${part}`],
  ["UPDATE ... FROM", `UPDATE public.orders o SET status = o.status FROM (${chosen}) s WHERE o.id = s.g`],
  ["UPDATE ... WHERE IN", `UPDATE public.orders SET status = status WHERE id IN (${chosen})`],
  ["DELETE ... WHERE", `DELETE FROM public.orders WHERE id > ${EXTRA} AND id - ${EXTRA} <= ${part}`],
  ["DELETE ... USING", `DELETE FROM public.orders o USING (${chosen}) s WHERE o.id = s.g + ${EXTRA}`],
  ["MERGE", `MERGE INTO public.orders o USING (${chosen}) s ON o.id = s.g WHEN MATCHED THEN UPDATE SET status = o.status`],
  ["INSERT through a CTE", `WITH s AS (${chosen}) ${newOrder} FROM s`],
];

describe("a tag counting rows chosen by a masked value", () => {
  it.each(writes)("%s tells the SSN part directly and is refused through regate, unrun", async (_name, sql) => {
    expect(await directCount(sql)).toBe(PART);
    const before = await orders();
    const r = await attempt(sql);
    expect(r.code, r.message).toBe("42501");
    expect(r.message).toContain(REFUSAL);
    expect(await orders()).toBe(before);
  });

  it("a prepared INSERT run by EXECUTE is refused at EXECUTE", async () => {
    const before = await orders();
    const prep = await attempt(`PREPARE ins AS UPDATE public.orders SET status = status WHERE id <= ${part}`);
    // Refused at PREPARE already, or at EXECUTE: either way nothing runs.
    if (prep.code === undefined) {
      const r = await attempt("EXECUTE ins");
      expect(r.code, r.message).toBe("42501");
      await attempt("DEALLOCATE ins");
    } else {
      expect(prep.code).toBe("42501");
    }
    expect(await orders()).toBe(before);
  });

  it("an UPDATE sent with a parameter (extended protocol) is refused", async () => {
    const before = await orders();
    const r = await attempt({ text: "UPDATE public.orders SET status = status WHERE id <= (SELECT split_part(c.ssn, '-', 1)::int FROM public.customers c WHERE c.id = $1)", values: [2] });
    expect(r.code, r.message).toBe("42501");
    expect(r.message).toContain(REFUSAL);
    expect(await orders()).toBe(before);
  });

  it.each([
    ["CREATE TABLE AS", `CREATE TEMP TABLE copied AS ${chosen}`],
    ["SELECT INTO", `SELECT g INTO TEMP copied FROM generate_series(1, 9999) g WHERE g <= ${part}`],
  ])("%s (a table the policy does not list) is refused for its count too", async (_name, sql) => {
    expect(await directCount(sql)).toBe(PART);
    const r = await attempt(sql);
    expect(r.code, r.message).toBe("42501");
    expect(r.message).toContain(REFUSAL);
  });

  it("MOVE over a cursor of such rows is refused; FETCH of them comes back masked", async () => {
    const direct = new pg.Client({ connectionString: db.url() });
    await direct.connect();
    await direct.query(`BEGIN; DECLARE c CURSOR FOR ${chosen}`);
    expect((await direct.query("MOVE ALL IN c")).rowCount).toBe(PART);
    await direct.query("ROLLBACK");
    await direct.end();

    await agent.query("BEGIN");
    await agent.query(`DECLARE c CURSOR FOR ${chosen}`);
    const move = await attempt("MOVE ALL IN c");
    expect(move.code, move.message).toBe("42501");
    expect(move.message).toContain(REFUSAL);
    await agent.query("BEGIN");
    await agent.query(`DECLARE c CURSOR FOR ${chosen}`);
    const fetched = await agent.query("FETCH 3 IN c");
    expect(fetched.rows.map((r) => r.g)).toEqual(["****", "****", "****"]);
    await agent.query("ROLLBACK");
  });
});

describe("must stay allowed", () => {
  it("the same rows sent back (RETURNING) come back masked", async () => {
    const r = await attempt(`UPDATE public.orders SET status = status WHERE id <= ${part} RETURNING id`);
    expect(r.code, r.message).toBeUndefined();
    expect(r.rows).toHaveLength(PART);
    expect(new Set(r.rows!.map((x) => x.id))).toEqual(new Set(["****"]));
  });

  it.each([
    ["rows chosen by a constant", "UPDATE public.orders SET status = status WHERE id <= 10", 10],
    ["a masked column compared with a constant", `${newOrder} FROM public.customers WHERE ssn = '607-59-5353'`, 1],
    ["rows chosen by a join on ids", "UPDATE public.orders o SET status = o.status FROM public.customers c WHERE o.customer_id = c.id AND c.id = 2", null],
    ["rows chosen by a join on ids and a masked column's constant", "UPDATE public.orders o SET status = o.status FROM public.customers c WHERE o.customer_id = c.id AND c.ssn = '607-59-5353'", null],
    ["rows chosen by another table", `DELETE FROM public.orders o WHERE o.id > ${EXTRA} AND o.id - ${EXTRA} <= (SELECT count(*) FROM public.payments WHERE order_id <= 3)`, null],
    ["an INSERT of constants", "INSERT INTO public.orders (customer_id, amount, status, created_at) VALUES (1, 1, 'paid', now()), (2, 2, 'paid', now())", 2],
  ])("%s keeps its count", async (_name, sql, count) => {
    const direct = await directCount(sql as string);
    if (count !== null) expect(direct).toBe(count);
    const r = await agent.query(sql as string);
    expect(r.rowCount).toBe(direct);
  });

  it("MOVE over a cursor of ids keeps its count", async () => {
    await agent.query("BEGIN");
    await agent.query("DECLARE d CURSOR FOR SELECT id FROM public.orders WHERE id <= 4");
    expect((await agent.query("MOVE ALL IN d")).rowCount).toBe(4);
    await agent.query("COMMIT");
  });
});
