import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// Fourth masking red-team pass, through regate with the example policy, judged by the rows that reach the
// client. Each attack returns the first part of customer 2's SSN (607), or a form it can be read back from,
// in clear when run directly; through regate it must come back masked or be refused.
//
// Found:
// - Set-returning functions run in step pad the shorter ones with NULLs. In `ROWS FROM (generate_series(1,
//   <masked>), generate_series(1, 1000)) r(a, b)`, and in a select list with two such functions, the first `b`
//   beside a NULL `a` is the masked value plus one; `b` was made of its own (constant) arguments only and went
//   out in clear (608). Now every column of a multi-function ROWS FROM is made of all their arguments, and a
//   select-list set-returning function's value is made of what chooses its level's rows.
// - TABLESAMPLE's percentage and REPEATABLE seed choose which rows of the sampled table are kept: with a masked
//   seed, the ids kept are the ids the same sample with the seed written out keeps, so the agent reads the seed
//   off by sampling with each candidate. The ids went out in clear; now the sample relates what it is made of
//   to every column of the sampled table, as a WHERE comparing them would.
// - `UPDATE/DELETE ... WHERE CURRENT OF cur RETURNING id` returns the row the cursor stands on. With the
//   cursor's rows chosen by a masked value (`WHERE id = <part of an SSN>`, `ORDER BY abs(id - <...>)`), FETCH
//   sent it masked and RETURNING sent it in clear. Now what chose the cursor's rows chooses the statement's row,
//   as a LIMIT would: the outputs are masked, and the command tag is counted like any other. The statement lists
//   the cursor's tables as read, so the policy's masks apply when it names no masked table itself. A PREPAREd
//   one finds its cursor when EXECUTE runs (refused: not known when prepared), and an extended-protocol statement
//   parsed on one cursor is refused at Bind once the session's cursors changed.
//
// Tried and already safe (masked or refused): aggregate ORDER BY and WITHIN GROUP over a distance to the masked
// value, WITH ORDINALITY, recursive CTE SEARCH/CYCLE columns, INTERSECT/EXCEPT, array slices, composite field
// access, row comparisons, positions/lengths/hashes, jsonpath with variables, jsonb_to_recordset, JSON_TABLE and
// XMLTABLE ordinality, XML constructors, ranges and multiranges, ROLLUP/CUBE/GROUPING, lag/lead/nth_value/ntile
// with masked offsets, LIMIT/OFFSET/FETCH FIRST, LEFT/RIGHT/FULL joins on the masked value (the NULL side),
// ON CONFLICT DO UPDATE ... WHERE and MERGE WHEN MATCHED AND ... with RETURNING, UPDATE ... FROM, data-modifying
// CTEs, multi-argument unnest, setval and advisory locks (refused), COPY of a masked sample (refused), cast and
// jsonpath errors (text withheld).

/** The first part of customer 2's SSN as an integer: what every attack below recovers. */
const X = `(SELECT split_part(ssn, '-', 1)::int FROM customers WHERE id = 2)`;
const M = "****";

let db: TestPostgres;
let regate: TestRegate;
let direct: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  direct = new pg.Client({ connectionString: db.url() });
  await direct.connect();
}, 120_000);

afterAll(async () => {
  await direct?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

type Outcome = { rows: unknown[][] } | { refused: string };

/** Every row of every result, as arrays, or the SQLSTATE of the error; a new connection each time. */
async function run(client: pg.Client | null, sql: string): Promise<Outcome> {
  const c = client ?? new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  if (!client) await c.connect();
  try {
    const r = await c.query({ text: sql, rowMode: "array" });
    const results = (Array.isArray(r) ? r : [r]) as pg.QueryResult[];
    return { rows: results.flatMap((x) => x.rows as unknown[][]) };
  } catch (e) {
    await c.query("ROLLBACK").catch(() => undefined);
    return { refused: (e as { code?: string }).code ?? "?" };
  } finally {
    if (!client) await c.end().catch(() => undefined);
  }
}

const viaRegate = (sql: string) => run(null, sql);
const straight = (sql: string) => run(direct, sql);

/** The ids a 50% Bernoulli sample with this seed keeps among orders 1 to 12. */
const sample = (seed: string) => `SELECT id FROM orders TABLESAMPLE BERNOULLI (50) REPEATABLE (${seed}) WHERE id <= 12 ORDER BY id`;

describe("values chosen by a masked one through the way rows are produced come back masked", () => {
  // [name, attack, what it returns run directly, what the agent gets through regate]
  const attacks: [string, string, unknown[][], Outcome][] = [
    [
      "ROWS FROM pads the shorter function with NULLs",
      `SELECT b FROM ROWS FROM (generate_series(1, ${X}), generate_series(1, 1000)) r(a, b) WHERE a IS NULL ORDER BY b LIMIT 1`,
      [[608]],
      { rows: [[M]] },
    ],
    [
      "ROWS FROM WITH ORDINALITY, the function reading a LATERAL column",
      `SELECT b FROM customers c, ROWS FROM (generate_series(1, split_part(c.ssn, '-', 1)::int), generate_series(1, 1000)) WITH ORDINALITY r(a, b, o) WHERE c.id = 2 AND a IS NULL ORDER BY b LIMIT 1`,
      [[608]],
      { rows: [[M]] },
    ],
    [
      "select-list set-returning functions run in step",
      `SELECT b FROM (SELECT generate_series(1, split_part(ssn, '-', 1)::int) a, generate_series(1, 1000) b FROM customers WHERE id = 2) s WHERE a IS NULL ORDER BY b LIMIT 1`,
      [[608]],
      { rows: [[M]] },
    ],
    [
      "select-list unnest and generate_subscripts in step",
      `SELECT b FROM (SELECT unnest(ARRAY(SELECT generate_series(1, split_part(ssn, '-', 1)::int))) a, generate_subscripts(ARRAY(SELECT generate_series(1, 1000)), 1) b FROM customers WHERE id = 2) s WHERE a IS NULL ORDER BY b LIMIT 1`,
      [[608]],
      { rows: [[M]] },
    ],
    ["TABLESAMPLE with a masked seed", sample(X), [[2], [6], [7], [8], [9]], { rows: [[M], [M], [M], [M], [M]] }],
    [
      "TABLESAMPLE with a masked seed in a LATERAL subquery",
      `SELECT o.id FROM customers c, LATERAL (SELECT id FROM orders TABLESAMPLE BERNOULLI (50) REPEATABLE (split_part(c.ssn, '-', 1)::int) WHERE id <= 12 ORDER BY id) o WHERE c.id = 2`,
      [[2], [6], [7], [8], [9]],
      { rows: [[M], [M], [M], [M], [M]] },
    ],
    [
      "TABLESAMPLE with a masked percentage",
      `SELECT id FROM orders TABLESAMPLE BERNOULLI ((SELECT ascii(ssn) - 6 FROM customers WHERE id = 2)) REPEATABLE (1) WHERE id <= 3 ORDER BY id`,
      [[2], [3]],
      { rows: [[M], [M]] },
    ],
    [
      "UPDATE ... WHERE CURRENT OF a cursor whose rows a masked value chose",
      `BEGIN; DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id = ${X} FOR UPDATE; FETCH cur; UPDATE orders SET status = status WHERE CURRENT OF cur RETURNING id; ROLLBACK`,
      [[607], [607]],
      { rows: [[M], [M]] },
    ],
    [
      "DELETE ... WHERE CURRENT OF a cursor ordered by the distance to a masked value",
      `BEGIN; DECLARE cur CURSOR FOR SELECT id FROM orders ORDER BY abs(id - ${X}) FOR UPDATE; FETCH cur; DELETE FROM orders WHERE CURRENT OF cur RETURNING id, status; ROLLBACK`,
      [[607], [607, "shipped"]],
      { rows: [[M], [M, M]] },
    ],
    [
      "UPDATE ... WHERE CURRENT OF such a cursor without RETURNING: its tag counts a row chosen by the masked value",
      `BEGIN; DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id = ${X} FOR UPDATE; FETCH cur; UPDATE orders SET status = status WHERE CURRENT OF cur; ROLLBACK`,
      [[607]],
      { refused: "42501" },
    ],
  ];
  it.each(attacks)("%s", async (_name, sql, clear, expected) => {
    expect(await straight(sql)).toEqual({ rows: clear });
    expect(await viaRegate(sql)).toEqual(expected);
  });

  it("the masked seed's sample is the sample of the seed written out: the ids would name it", async () => {
    expect(await straight(sample("607"))).toEqual(await straight(sample(X)));
  });
});

/** Runs `steps` in order on one connection through regate (or straight to the database); `named:` runs a named statement. */
async function session(steps: string[], throughRegate = true): Promise<Outcome[]> {
  const c = new pg.Client({ connectionString: throughRegate ? regate.url() : db.url() });
  c.on("error", () => undefined);
  await c.connect();
  const out: Outcome[] = [];
  try {
    for (const step of steps) {
      const named = step.startsWith("named:");
      try {
        const r = await c.query(named ? { name: "at_cursor", text: step.slice(6), rowMode: "array" } : { text: step, rowMode: "array" });
        out.push({ rows: r.rows as unknown[][] });
      } catch (e) {
        out.push({ refused: (e as { code?: string }).code ?? "?" });
      }
    }
  } finally {
    await c.end().catch(() => undefined);
  }
  return out;
}

describe("WHERE CURRENT OF across statements: the cursor is the one open when the statement runs", () => {
  const masked = `DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id = ${X} FOR UPDATE`;
  const ids = `DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id > 600 ORDER BY id FOR UPDATE`;
  const update = `UPDATE orders SET status = status WHERE CURRENT OF cur RETURNING id`;

  it("a statement of its own, and in a data-modifying CTE", async () => {
    const cte = `WITH u AS (${update}) SELECT id FROM u`;
    for (const last of [update, cte]) {
      const steps = ["BEGIN", masked, "FETCH cur", last, "ROLLBACK"];
      expect((await session(steps, false))[3]).toEqual({ rows: [[607]] });
      expect((await session(steps))[3]).toEqual({ rows: [[M]] });
    }
  });

  it("PREPARE cannot know the cursor its EXECUTE will find: refused", async () => {
    const steps = ["BEGIN", ids, `PREPARE p AS ${update}`, "CLOSE cur", masked, "FETCH cur", "EXECUTE p", "ROLLBACK"];
    expect((await session(steps, false))[6]).toEqual({ rows: [[607]] });
    expect((await session(steps))[2]).toEqual({ refused: "42501" });
  });

  it("an extended-protocol statement parsed on one cursor is refused at Bind once the cursor is declared anew", async () => {
    const steps = ["BEGIN", ids, "FETCH cur", `named:${update}`, "CLOSE cur", masked, "FETCH cur", `named:${update}`, "ROLLBACK"];
    expect((await session(steps, false))[7]).toEqual({ rows: [[607]] });
    const through = await session(steps);
    expect(through[3]).toEqual({ rows: [[601]] });
    expect(through[7]).toEqual({ refused: "0A000" });
  });

  it("must stay allowed: an extended-protocol statement run again on the same cursor", async () => {
    const steps = ["BEGIN", ids, "FETCH cur", `named:${update}`, "FETCH cur", `named:${update}`, "ROLLBACK"];
    expect(await session(steps)).toEqual(await session(steps, false));
  });
});

describe("must stay allowed", () => {
  // [name, statement, what the agent gets: the rows as the database returns them]
  const allowed: [string, string][] = [
    ["ROWS FROM of constants", `SELECT b, a FROM ROWS FROM (generate_series(1, 2), generate_series(1, 3)) r(a, b)`],
    ["select-list set-returning functions beside ids", `SELECT c.id, unnest(ARRAY[c.id, 1]) u, generate_series(1, 2) g FROM customers c WHERE c.id <= 2 ORDER BY 1, 3`],
    ["a set-returning function beside a join on ids", `SELECT o.id, generate_series(1, 2) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id <= 2 ORDER BY 1, 2`],
    ["a set-returning function in FROM beside an unmasked column", `SELECT c.full_name, g FROM customers c, generate_series(1, 2) g WHERE c.id <= 2 ORDER BY 1, 2`],
    ["TABLESAMPLE with a constant seed", sample("607")],
    ["TABLESAMPLE of a table joined on ids", `SELECT o.id, o.status FROM orders o TABLESAMPLE BERNOULLI (50) REPEATABLE (7) JOIN customers c ON c.id = o.customer_id WHERE o.id <= 12 ORDER BY 1`],
    [
      "WHERE CURRENT OF a cursor over ids",
      `BEGIN; DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id > 600 ORDER BY id FOR UPDATE; FETCH cur; UPDATE orders SET status = status WHERE CURRENT OF cur RETURNING id, status; ROLLBACK`,
    ],
    [
      "WHERE CURRENT OF a cursor over ids, without RETURNING",
      `BEGIN; DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id > 600 ORDER BY id FOR UPDATE; FETCH cur; UPDATE orders SET status = status WHERE CURRENT OF cur; ROLLBACK`,
    ],
  ];
  it.each(allowed)("%s", async (_name, sql) => {
    const clear = await straight(sql);
    expect("rows" in clear && clear.rows.length).toBeGreaterThan(0);
    expect(await viaRegate(sql)).toEqual(clear);
  });
});
