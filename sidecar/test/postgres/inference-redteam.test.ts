// Inference through row selection, through regate with the example policy and judged by the bytes the agent
// got. A masked value compared with another non-constant value (a generate_series column, a subquery output,
// another table's column) makes that value equal to, or bounded by, the masked one: the rows that survive the
// comparison, their order, their grouping and their number carry it. Each attack below returns customer 2's
// SSN (or a part of it, its email, its card number) when run directly against the database; through regate
// the value must come back masked, or the statement refused. Filters with constants stay allowed and unmasked
// (the documented one-bit-per-row oracle), and so do ordinary joins on ids.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { attemptOn, type Outcome, connectClient } from "../support/attempt.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

// Customer 2 in testdata/demo/seed.sql.
const SSN = "607-59-5353";
const EMAIL = "mira.holm2@example.net";
const CARD = "4017666519603147";
/** The first part of the SSN as an integer, what most attacks below recover. */
const PART = "607";
const part = "split_part(c.ssn, '-', 1)::int";

beforeAll(async () => {
  db = await startPostgres();
  // Set up by the database owner: a column orders may hold a customer's email in, and a view over a masked column.
  await db.query(`ALTER TABLE public.orders ADD COLUMN note text;
    ALTER TABLE public.orders ADD COLUMN contact_email text;
    UPDATE public.orders SET contact_email = '${EMAIL}' WHERE id = 1;
    CREATE VIEW public.ssn_parts AS SELECT id, split_part(ssn, '-', 1)::int AS p1 FROM public.customers;
    GRANT SELECT ON public.ssn_parts TO app_scram`);
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});


const attempt = (sql: string): Promise<Outcome> => attemptOn(agent, sql);

/** Every value the rows hold, as text. */
function cells(rows: Record<string, unknown>[] | undefined): string[] {
  return (rows ?? []).flatMap((r) => Object.values(r).map((v) => (v instanceof Date ? v.toISOString() : String(v))));
}

/** Whether the piece is in the rows: a whole value equal to it, or (for longer pieces) any value containing it. */
function holds(rows: Record<string, unknown>[] | undefined, piece: string): boolean {
  return cells(rows).some((v) => v === piece || (piece.length >= 8 && v.includes(piece)));
}

// [attack, what it returns when run directly]
const reads: [string, string][] = [
  // The reported statement: three parts of the SSN matched against a generate_series column, one per VALUES row.
  [`SELECT string_agg(g::text, '-' ORDER BY p) FROM customers c, LATERAL (VALUES (1), (2), (3)) part(p), generate_series(0, 9999) g WHERE c.id = 2 AND g = split_part(c.ssn, '-', p)::int`, SSN],
  [`SELECT g FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND g = ${part}`, PART],
  [`SELECT g FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND g::text = substr(c.ssn, 1, 3)`, PART],
  [`SELECT g FROM customers c, generate_series(100, 999) g WHERE c.id = 2 AND c.ssn LIKE g || '-%'`, PART],
  [`SELECT g FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND g BETWEEN ${part} AND ${part}`, PART],
  [`SELECT max(g) FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND g <= ${part}`, PART],
  [`SELECT count(*) FROM customers c, generate_series(1, 999) g WHERE c.id = 2 AND g <= ${part}`, PART],
  [`SELECT g FROM customers c, generate_series(0, 999) g WHERE c.id = 2 ORDER BY abs(g - ${part}) LIMIT 1`, PART],
  [`SELECT g FROM customers c JOIN generate_series(0, 999) g ON g = ${part} WHERE c.id = 2`, PART],
  [`SELECT g FROM generate_series(0, 999) g WHERE g IN (SELECT ${part} FROM customers c WHERE c.id = 2)`, PART],
  [`SELECT g FROM generate_series(0, 999) g WHERE g = ANY (ARRAY(SELECT ${part} FROM customers c WHERE c.id = 2))`, PART],
  [`SELECT g FROM generate_series(0, 999) g WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = 2 AND ${part} = g)`, PART],
  [`SELECT string_agg(CASE WHEN EXISTS (SELECT 1 FROM customers c WHERE c.id = 2 AND ${part} = g) THEN g::text END, '') FROM generate_series(0, 999) g`, PART],
  [`SELECT (SELECT g FROM generate_series(0, 999) g WHERE g = ${part}) FROM customers c WHERE c.id = 2`, PART],
  [`SELECT DISTINCT ON (g = ${part}) g FROM customers c, generate_series(0, 999) g WHERE c.id = 2 ORDER BY g = ${part} DESC, g`, PART],
  [`SELECT count(*) FILTER (WHERE g <= ${part}) FROM customers c, generate_series(1, 999) g WHERE c.id = 2`, PART],
  [`SELECT first_value(g) OVER (ORDER BY abs(g - ${part})) FROM customers c, generate_series(0, 999) g WHERE c.id = 2 LIMIT 1`, PART],
  [`SELECT rn FROM (SELECT row_number() OVER (ORDER BY g) AS rn FROM customers c, generate_series(1, 999) g WHERE c.id = 2 AND g <= ${part}) s ORDER BY rn DESC LIMIT 1`, PART],
  [`SELECT s.g FROM (SELECT g, count(*) OVER (PARTITION BY g = ${part}) AS n FROM customers c, generate_series(0, 999) g WHERE c.id = 2) s WHERE s.n = 1`, PART],
  [`SELECT min(g) FROM customers c, generate_series(0, 999) g WHERE c.id = 2 GROUP BY g = ${part} ORDER BY count(*) LIMIT 1`, PART],
  [`SELECT g FROM customers c, generate_series(0, 999) g WHERE c.id = 2 GROUP BY g HAVING g = max(${part})`, PART],
  [`WITH x AS (SELECT g FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND g = ${part}) SELECT g FROM x`, PART],
  [`WITH x AS (SELECT 1 FROM customers c, generate_series(1, 999) g WHERE c.id = 2 AND g <= ${part}) SELECT count(*) FROM x`, PART],
  [`SELECT g FROM ssn_parts v, generate_series(0, 999) g WHERE v.id = 2 AND g = v.p1`, PART],
  [`WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n < 999) SELECT n FROM r, customers c WHERE c.id = 2 AND n = ${part}`, PART],
  [`WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r, customers c WHERE c.id = 2 AND n < ${part}) SELECT max(n) FROM r`, PART],
  // The comparison made in a subquery's select list, the rows chosen outside.
  [`SELECT s.g FROM (SELECT g, g = ${part} AS hit FROM customers c, generate_series(0, 999) g WHERE c.id = 2) s WHERE s.hit`, PART],
  [`SELECT s.g FROM (SELECT g, g - ${part} AS d FROM customers c, generate_series(0, 999) g WHERE c.id = 2) s WHERE s.d = 0`, PART],
  // The number of rows: a LIMIT, or a set-returning function, made of the masked value.
  [`SELECT max(g) FROM (SELECT g FROM generate_series(1, 999) g LIMIT (SELECT ${part} FROM customers c WHERE c.id = 2)) s`, PART],
  [`SELECT count(*) FROM customers c, generate_series(1, ${part}) g WHERE c.id = 2`, PART],
  [`SELECT n FROM customers c, generate_series(1, ${part}) WITH ORDINALITY AS t(v, n) WHERE c.id = 2 ORDER BY n DESC LIMIT 1`, PART],
  [`SELECT g FROM generate_series(0, 999) g INTERSECT SELECT ${part} FROM customers c WHERE c.id = 2`, PART],
  // Other masked columns, character by character.
  [`SELECT string_agg(chr(g), '' ORDER BY i) FROM customers c, generate_series(1, 40) i, generate_series(32, 126) g WHERE c.id = 2 AND substr(c.email, i, 1) = chr(g)`, EMAIL],
  [`SELECT string_agg(d::text, '' ORDER BY i) FROM customers c, generate_series(1, 16) i, generate_series(0, 9) d WHERE c.id = 2 AND substr(c.card_number, i, 1) = d::text`, CARD],
  // A column joined on a masked one holds the same value.
  [`SELECT o.contact_email FROM orders o JOIN customers c ON o.contact_email = c.email WHERE c.id = 2`, EMAIL],
];

describe("a value related to a masked column by the rows chosen is masked like it", () => {
  it.each(reads)("%s", async (sql, piece) => {
    // The attack works against the database itself.
    expect(holds(await db.query(sql), piece)).toBe(true);
    // Through regate it is allowed (each is a plain read) and the value comes back masked.
    const r = await attempt(sql);
    expect(r.code, r.message).toBeUndefined();
    expect(holds(r.rows, piece), JSON.stringify(r.rows)).toBe(false);
  });
});

describe("stored by a write, the same value is refused", () => {
  const stored = () => db.query("SELECT id, note FROM public.orders WHERE note IS NOT NULL OR id > 5000 ORDER BY id");
  it.each([
    `INSERT INTO orders (customer_id, amount, status, created_at, note) SELECT 2, 0, 'pending', now(), g::text FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND g = ${part}`,
    `INSERT INTO orders (customer_id, amount, status, created_at, note) SELECT 2, 0, 'pending', now(), count(*)::text FROM customers c, generate_series(1, 999) g WHERE c.id = 2 AND g <= ${part}`,
    `UPDATE orders SET note = (SELECT g::text FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND g = ${part}) WHERE id = 1`,
    `UPDATE orders o SET note = g::text FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND o.id = 1 AND g = ${part}`,
    `UPDATE orders SET note = (SELECT s.g::text FROM (SELECT g, g = ${part} AS hit FROM customers c, generate_series(0, 999) g WHERE c.id = 2) s WHERE s.hit) WHERE id = 1`,
    `MERGE INTO orders o USING (SELECT g FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND g = ${part}) s ON o.id = 1 WHEN MATCHED THEN UPDATE SET note = s.g::text`,
  ])("%s", async (sql) => {
    const before = await stored();
    const r = await attempt(sql);
    expect(r.code, r.message).toBe("42501");
    expect(r.message).toContain("a write may not store masked columns of other tables");
    expect(await stored()).toEqual(before);
  });
});

describe("a function with side effects is refused a related value, and runs as many times as related rows", () => {
  const lastValue = async () => String((await db.query("SELECT last_value FROM public.orders_id_seq"))[0].last_value);
  it.each([
    // orders' sequence may be moved (it is judged as orders), but not once per unit of the SSN: last_value would keep it.
    `SELECT nextval('orders_id_seq') FROM customers c, generate_series(1, ${part}) g WHERE c.id = 2`,
    `SELECT count(nextval('orders_id_seq')) FROM customers c, generate_series(1, 999) g WHERE c.id = 2 AND g <= ${part}`,
    `SELECT pg_notify('leak', g::text) FROM customers c, generate_series(0, 999) g WHERE c.id = 2 AND g = ${part}`,
  ])("%s", async (sql) => {
    const before = await lastValue();
    const r = await attempt(sql);
    expect(r.code, r.message).toBe("42501");
    expect(r.message).toMatch(/reaches (nextval|pg_notify), a function with side effects/);
    expect(await lastValue()).toBe(before);
  });

  it("a sequence moved once per row chosen by a constant filter stays allowed (the one-bit-per-row oracle)", async () => {
    const r = await attempt("SELECT count(nextval('orders_id_seq')) FROM customers WHERE ssn LIKE '6%'");
    expect(r.code, r.message).toBeUndefined();
  });
});

describe("filters with constants, joins on ids and ordering stay allowed and unmasked", () => {
  it.each([
    "SELECT id, full_name FROM customers WHERE ssn = '607-59-5353'",
    "SELECT o.id, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email LIKE '%@example.net' ORDER BY o.id LIMIT 5",
    "SELECT c.full_name, count(o.id), sum(o.amount) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.full_name ORDER BY 1 LIMIT 3",
    "SELECT id, full_name FROM customers ORDER BY ssn LIMIT 3",
    "SELECT count(*) FROM customers WHERE ssn LIKE '6%'",
    "SELECT g FROM customers c, generate_series(1, 3) g WHERE c.id = 2 AND c.ssn LIKE '6%'",
    "SELECT o.id, p.amount FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.customer_id = 2 ORDER BY 1, 2",
    "SELECT o.id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id AND c.email LIKE '%.net') ORDER BY 1 LIMIT 5",
  ])("%s", async (sql) => {
    const r = await attempt(sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.rows).toEqual(await db.query(sql));
  });

  it("joined on a masked column, the other side's column is masked and the rest is not", async () => {
    const sql = "SELECT o.id, o.contact_email FROM orders o JOIN customers c ON o.contact_email = c.email WHERE c.id = 2";
    const r = await attempt(sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.rows?.map((x) => x.id)).toEqual([1]);
    expect(holds(r.rows, EMAIL)).toBe(false);
  });
});
