// Exfiltration red-team pass over the SQL analysis, through regate with the example policy and judged by the
// bytes the agent got. Each attack returns a part of customer 2's SSN as a plain number when run directly
// against the database: a window frame whose offset is a sub-select (`count(*)` over it is the offset), an
// array or jsonb subscript after a field selection (`(s).a[(SELECT ...)]` picks the element the SSN names),
// and `count(*)` over a select-list set-returning function the analysis did not know returns rows. Through
// regate each must come back masked. A MERGE whose ON condition names no row of its target (`ON true`)
// changed every order although UPDATE without WHERE is refused. The same shapes with constants, and MERGEs
// that name their rows, stay allowed.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGGREGATES, SET_RETURNING } from "../../src/postgres/sql/function-kinds.js";
import { attemptOn, connectClient, type Outcome } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

// Customer 2 in testdata/demo/seed.sql has SSN 607-59-5353: every attack returns its last part.
const PART = "5353";
const part = "(SELECT split_part(c.ssn, '-', 3)::int FROM public.customers c WHERE c.id = 2)";
const upTo9999 = "generate_series(0, 9999) g";

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

const attempt = (sql: string): Promise<Outcome> => attemptOn(agent, sql);
const values = (rows: Record<string, unknown>[] | undefined): string[] => (rows ?? []).flatMap((r) => Object.values(r).map((v) => String(v)));

const attacks: [string, string][] = [
  ["a ROWS frame offset", `SELECT count(*) OVER (ORDER BY g ROWS BETWEEN ${part} PRECEDING AND CURRENT ROW) - 1 AS v FROM ${upTo9999} ORDER BY g DESC LIMIT 1`],
  ["a RANGE frame offset", `SELECT count(*) OVER (ORDER BY g RANGE BETWEEN CURRENT ROW AND ${part} FOLLOWING) - 1 AS v FROM ${upTo9999} ORDER BY g LIMIT 1`],
  ["a GROUPS frame offset", `SELECT count(*) OVER (ORDER BY g GROUPS BETWEEN ${part} PRECEDING AND CURRENT ROW) - 1 AS v FROM ${upTo9999} ORDER BY g DESC LIMIT 1`],
  ["a named window's frame", `SELECT count(*) OVER w - 1 AS v FROM ${upTo9999} WINDOW w AS (ORDER BY g ROWS BETWEEN ${part} PRECEDING AND CURRENT ROW) ORDER BY g DESC LIMIT 1`],
  ["a frame refining a named window", `SELECT count(*) OVER (w ROWS BETWEEN ${part} PRECEDING AND CURRENT ROW) - 1 AS v FROM ${upTo9999} WINDOW w AS (ORDER BY g) ORDER BY g DESC LIMIT 1`],
  ["a frame in a sub-select", `SELECT max(n) - 1 AS v FROM (SELECT count(*) OVER (ORDER BY g ROWS BETWEEN ${part} PRECEDING AND CURRENT ROW) AS n FROM ${upTo9999}) s`],
  ["a subscript after a field selection", `SELECT (s).a[${part} + 1] AS v FROM (SELECT array(SELECT g FROM ${upTo9999}) AS a) s`],
  ["a slice after a field selection", `SELECT array_to_string((s).a[${part} + 1:${part} + 1], '') AS v FROM (SELECT array(SELECT g FROM ${upTo9999}) AS a) s`],
  ["a jsonb key after a field selection", `SELECT (s).j[${part}::text] AS v FROM (SELECT jsonb_object_agg(g, g) AS j FROM ${upTo9999}) s`],
  ["jsonb_path_query_tz in a select list", `SELECT count(*) AS v FROM (SELECT jsonb_path_query_tz(to_jsonb(array(SELECT generate_series(1, 9999))), '$[*] ? (@ <= $x)', jsonb_build_object('x', ${part}))) s`],
  ["pg_options_to_table in a select list", `SELECT count(*) AS v FROM (SELECT 1 AS one, pg_options_to_table(array_fill('a=b'::text, ARRAY[${part}]))) s`],
  ["ts_parse in a select list", `SELECT count(*) / 2 AS v FROM (SELECT ts_parse('default', repeat('a ', ${part}))) s`],
];

describe("values chosen by a masked column through frames, subscripts and set-returning functions", () => {
  it.each(attacks)("%s returns the SSN part directly and a masked value through regate", async (_name, sql) => {
    expect(values(await db.query(sql))).toEqual([PART]);
    const r = await attempt(sql);
    expect(r.code, r.message).toBeUndefined();
    expect(values(r.rows)).toEqual(["****"]);
  });
});

describe("must stay allowed: the same shapes with constants", () => {
  it.each([
    ["a ROWS frame", "SELECT id, sum(amount) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)::text AS s FROM orders WHERE id <= 2 ORDER BY id", ["1", "2137.89", "2", "*"]],
    ["a named window with a frame", "SELECT count(*) OVER w AS n FROM generate_series(1, 5) g WINDOW w AS (ORDER BY g ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) ORDER BY g DESC LIMIT 1", ["3"]],
    ["a subscript after a field selection", "SELECT (s).a[2] AS v FROM (SELECT ARRAY[10, 20, 30] AS a) s", ["20"]],
    ["a select-list jsonb_path_query_tz", "SELECT count(*) AS n FROM (SELECT jsonb_path_query_tz('[1, 2, 3]'::jsonb, '$[*] ? (@ <= 2)')) s", ["2"]],
    ["ts_parse of a customer's name", "SELECT count(*) AS n FROM (SELECT ts_parse('default', full_name) FROM customers WHERE id = 2) s", ["3"]],
  ])("%s", async (_name, sql, expected) => {
    const r = await attempt(sql as string);
    expect(r.code, r.message).toBeUndefined();
    const got = values(r.rows);
    // "*": a value the database computes (a sum), compared with the database's own answer below.
    const direct = values(await db.query(sql as string));
    expect(got).toEqual(direct);
    (expected as string[]).forEach((e, i) => e === "*" || expect(got[i]).toBe(e));
  });
});

// UPDATE and DELETE need a WHERE that names the target's rows; MERGE's UPDATE and DELETE actions change the
// rows its ON condition matches (or, WHEN NOT MATCHED BY SOURCE, does not): `ON true` changed every order.
describe("a MERGE whose ON condition names no target row is a write without WHERE", () => {
  const statuses = async (): Promise<string> => JSON.stringify(await db.query("SELECT status, count(*)::int AS n FROM public.orders GROUP BY 1 ORDER BY 1"));

  it.each([
    ["ON true, WHEN MATCHED", "MERGE INTO orders o USING (SELECT 1) s ON true WHEN MATCHED THEN UPDATE SET status = 'cancelled'"],
    ["an ON on the source alone", "MERGE INTO orders o USING (SELECT 1 AS x) s ON s.x = 1 WHEN MATCHED THEN UPDATE SET status = 'cancelled'"],
    ["WHEN NOT MATCHED BY SOURCE after ON false", "MERGE INTO orders o USING (SELECT 1) s ON false WHEN NOT MATCHED BY SOURCE THEN UPDATE SET status = 'cancelled'"],
    ["a MERGE in a CTE", "WITH m AS (MERGE INTO orders o USING (SELECT 1) s ON true WHEN MATCHED THEN UPDATE SET status = 'cancelled' RETURNING o.id) SELECT count(*) FROM m"],
  ])("%s is refused and no order changes", async (_name, sql) => {
    const before = await statuses();
    const r = await attempt(sql);
    expect(r.code).toBe("42501");
    expect(r.message).toMatch(/(MERGE|UPDATE) without WHERE is not allowed/);
    expect(await statuses()).toBe(before);
  });

  it("the refusal says how to name the rows", async () => {
    const r = await attempt("MERGE INTO orders o USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE");
    expect(r.message).toContain("MERGE without WHERE is not allowed");
    expect(r.message).toContain("make the MERGE's ON condition, or its WHEN ... AND condition, name the target's rows to change");
  });

  it.each([
    ["an ON on the target's key", "MERGE INTO orders o USING (SELECT 1 AS id) s ON o.id = s.id WHEN MATCHED THEN UPDATE SET status = o.status", 1],
    ["an action whose AND condition names the rows", "MERGE INTO orders o USING (SELECT 1) s ON true WHEN MATCHED AND o.id = 2 THEN UPDATE SET status = o.status", 1],
    ["NOT MATCHED BY SOURCE after an ON on the target", "MERGE INTO orders o USING (SELECT id FROM orders WHERE id > 1) s ON o.id = s.id WHEN NOT MATCHED BY SOURCE THEN UPDATE SET status = o.status", 1],
    ["an insert-only MERGE", "MERGE INTO orders o USING (SELECT 1) s ON false WHEN NOT MATCHED THEN INSERT (customer_id, amount, status, created_at) VALUES (1, 0, 'pending', now())", 1],
  ])("must stay allowed: %s", async (_name, sql, rows) => {
    await agent.query("BEGIN");
    try {
      expect((await agent.query(sql as string)).rowCount).toBe(rows);
    } finally {
      await agent.query("ROLLBACK");
    }
  });
});

// The analysis knows built-in set-returning functions and aggregates by name: a name missing from its lists
// makes a select-list function's arguments (or an aggregate's rows) invisible to count(*) above it.
describe("the analysis's function lists match the server's catalog", () => {
  it("every set-returning function in pg_catalog is known", async () => {
    const rows = await db.query("SELECT DISTINCT proname FROM pg_proc WHERE proretset AND pronamespace = 'pg_catalog'::regnamespace");
    expect(rows.map((r) => r.proname as string).filter((n) => !SET_RETURNING.has(n))).toEqual([]);
  });

  it("every plain aggregate in pg_catalog is known (ordered-set ones are recognised by WITHIN GROUP)", async () => {
    const rows = await db.query("SELECT DISTINCT p.proname FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid WHERE a.aggkind = 'n' AND p.pronamespace = 'pg_catalog'::regnamespace");
    expect(rows.map((r) => r.proname as string).filter((n) => !AGGREGATES.has(n))).toEqual([]);
  });
});
