// Red team of statements whose work happens elsewhere than their own text shows, through regate with the
// example policy, judged by what the database did and what the agent got: MOVE and COMMIT run a cursor's
// query, EXPLAIN ANALYZE prints counts of the rows a statement chose, an unqualified call (or an operator)
// runs whichever function the search_path picks. Each attack returns customer 2's SSN (or part of it) or an internal key
// when run directly against the database. The must-allow cases beside them keep ordinary uses working.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptOn, connectClient, type Outcome } from "../support/attempt.js";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let apiKey: string;

// Customer 2 in testdata/demo/seed.sql; get_byte's error prints the SSN's digits as one number.
const SSN = "607-59-5353";
const SSN_DIGITS = "607595353";
const PART = "607";
const ERRS_WITH_SSN = "SELECT get_byte('\\x00'::bytea, replace(ssn, '-', '')::int) FROM customers WHERE id = 2";
const COUNTS_SSN = "SELECT 1 FROM customers c, generate_series(1, split_part(c.ssn, '-', 1)::int) g WHERE c.id = 2";

beforeAll(async () => {
  db = await startPostgres();
  // Set up by the database owner: functions over a masked column and over internal.*, and a view of a masked column.
  await db.query(`CREATE FUNCTION public.get_ssn(int) RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT ssn FROM public.customers WHERE id = $1';
    CREATE FUNCTION public.get_key(int) RETURNS text LANGUAGE sql STABLE AS 'SELECT secret FROM internal.api_keys WHERE id = $1';
    CREATE FUNCTION public.lower(int) RETURNS text LANGUAGE sql AS 'SELECT ssn FROM public.customers WHERE id = $1';
    CREATE VIEW public.ssn_parts AS SELECT id, split_part(ssn, '-', 1)::int AS p1 FROM public.customers;
    CREATE VIEW public.checked_customers AS SELECT id, full_name FROM public.customers WHERE get_byte('\\x00'::bytea, replace(ssn, '-', '')::int) IS NOT NULL;
    CREATE FUNCTION public.key_of(int, int) RETURNS text LANGUAGE sql STABLE AS 'SELECT secret FROM internal.api_keys WHERE id = $1';
    CREATE OPERATOR public.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = public.key_of);
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO app_scram;
    GRANT SELECT ON public.ssn_parts, public.checked_customers TO app_scram`);
  apiKey = String((await db.query("SELECT secret FROM internal.api_keys WHERE id = 1"))[0].secret);
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

const attempt = (sql: string): Promise<Outcome> => attemptOn(agent, sql);

/** Runs the steps in order on the agent's connection; the outcome of each. */
async function steps(sqls: string[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const sql of sqls) out.push(await attempt(sql));
  await attempt("ROLLBACK");
  return out;
}

/** Everything the agent got, as one text. */
const seen = (outcomes: Outcome[]): string => JSON.stringify(outcomes);

/** The same steps straight to the database, on one connection: what the attack yields there. */
async function direct(sqls: string[]): Promise<string> {
  const c = new pg.Client({ connectionString: db.url() });
  await c.connect();
  const out: string[] = [];
  try {
    for (const sql of sqls) {
      try {
        out.push(JSON.stringify((await c.query(sql)).rows));
      } catch (e) {
        out.push((e as Error).message);
      }
    }
  } finally {
    await c.end();
  }
  return out.join("\n");
}

describe("MOVE and COMMIT run a cursor's query: its error text is the statement's", () => {
  const cases: [string, string[], number][] = [
    ["MOVE computes the rows it skips", ["BEGIN", `DECLARE c CURSOR FOR ${ERRS_WITH_SSN}`, "MOVE 1 IN c"], 2],
    ["MOVE ALL, backwards in a SCROLL cursor", ["BEGIN", `DECLARE c SCROLL CURSOR FOR ${ERRS_WITH_SSN}`, "MOVE LAST IN c"], 2],
    ["COMMIT keeps a WITH HOLD cursor's rows by running its query", ["BEGIN", `DECLARE c CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}`, "COMMIT"], 2],
    ["END is COMMIT", ["BEGIN", `DECLARE c CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}`, "END"], 2],
    // The example policy lets a decision be reused: one taken for a COMMIT that kept no cursor is not this one's.
    ["a COMMIT decided before the cursor existed", ["BEGIN", "COMMIT", "BEGIN", `DECLARE c CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}`, "COMMIT"], 4],
  ];
  it.each(cases)("%s: the server's SQLSTATE, none of the value", async (_name, sqls, failing) => {
    expect(await direct(sqls)).toContain(SSN_DIGITS);
    const out = await steps(sqls);
    expect(out.slice(0, failing).map((o) => o.code)).toEqual(out.slice(0, failing).map(() => undefined));
    expect(out[failing]!.code).toBe("2202E");
    expect(out[failing]!.message).toMatch(/regate withheld the server's message text/);
    expect(seen(out)).not.toContain(SSN_DIGITS);
  });

  it("a WITH HOLD cursor declared by the extended protocol outside a block: the Sync's commit runs its query", async () => {
    // Parse/Bind/Execute/Sync: the error comes with the Sync, after the DECLARE's CommandComplete.
    const text = `DECLARE x CURSOR WITH HOLD FOR ${ERRS_WITH_SSN.replace("id = 2", "id = $1")}`;
    const direct = new pg.Client({ connectionString: db.url() });
    await direct.connect();
    const there = await direct.query({ text, values: [2] }).then(() => "", (e: Error) => e.message);
    await direct.end();
    expect(there).toContain(SSN_DIGITS);
    const err = await agent.query({ text, values: [2] }).then(() => undefined, (e: pg.DatabaseError) => e);
    expect(err?.code).toBe("2202E");
    expect(err?.message).toMatch(/regate withheld the server's message text/);
    expect(JSON.stringify(err)).not.toContain(SSN_DIGITS);
  });

  it("a WITH HOLD cursor over masked columns commits, and MOVE and FETCH from it after COMMIT work, masked", async () => {
    const out = await steps(["BEGIN", "DECLARE h CURSOR WITH HOLD FOR SELECT id, ssn FROM customers WHERE id < 5 ORDER BY id", "COMMIT", "MOVE 1 IN h", "FETCH ALL FROM h", "CLOSE h"]);
    expect(out.map((o) => o.code)).toEqual(out.map(() => undefined));
    expect(out[4]!.rows!.map((r) => r["id"])).toEqual([2, 3, 4]);
    expect(out[4]!.rows!.every((r) => r["ssn"] === "****")).toBe(true);
    expect(seen(out)).not.toContain(SSN);
  });

  it("a cursor over an allowed query is declared, moved and fetched as the database does it", async () => {
    const sqls = ["BEGIN", "DECLARE o SCROLL CURSOR FOR SELECT id, status FROM orders WHERE id <= 5 ORDER BY id", "MOVE 2 IN o", "FETCH 2 FROM o", "MOVE BACKWARD 1 IN o", "FETCH PRIOR FROM o", "CLOSE o", "COMMIT"];
    const out = await steps(sqls);
    expect(out.map((o) => o.code)).toEqual(out.map(() => undefined));
    expect(JSON.stringify(out.map((o) => o.rows))).toBe(JSON.stringify((await direct(sqls)).split("\n").map((l) => JSON.parse(l))));
  });

  it("COMMIT after a cursor without HOLD over masked columns is judged as a COMMIT", async () => {
    const out = await steps(["BEGIN", `DECLARE c CURSOR FOR ${ERRS_WITH_SSN}`, "COMMIT"]);
    expect(out.map((o) => o.code)).toEqual([undefined, undefined, undefined]);
  });
});

describe("a view's filter runs when the view is read", () => {
  it("its error text is withheld: the view reads the masked column, though no output shows it", async () => {
    const sql = "SELECT id FROM checked_customers WHERE id = 2";
    expect(await direct([sql])).toContain(SSN_DIGITS);
    const r = await attempt(sql);
    expect(r.code).toBe("2202E");
    expect(r.message).toMatch(/regate withheld the server's message text/);
    expect(seen([r])).not.toContain(SSN_DIGITS);
  });
});

describe("EXPLAIN ANALYZE prints how many rows each step chose", () => {
  it.each([
    COUNTS_SSN,
    "SELECT g FROM customers c, generate_series(1, 999) g WHERE c.id = 2 AND g <= split_part(c.ssn, '-', 1)::int",
    "SELECT 1 FROM ssn_parts v, generate_series(1, v.p1) g WHERE v.id = 2",
    "SELECT (SELECT count(*) FROM generate_series(1, split_part(c.ssn, '-', 1)::int)) FROM customers c WHERE c.id = 2",
  ])("refused when the statement reads masked columns: %s", async (query) => {
    const sql = `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${query}`;
    expect(await direct([sql])).toMatch(new RegExp(`rows=${PART}\\b`));
    const r = await attempt(sql);
    expect(r.code).toBe("42501");
    expect(r.message).toContain("EXPLAIN ANALYZE of a statement that reads masked columns is not allowed");
    expect(r.message).toContain("Next: use EXPLAIN without ANALYZE");
    expect(seen([r])).not.toMatch(new RegExp(`rows=${PART}\\b`));
  });

  it.each([
    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT id, status FROM orders WHERE id < 3",
    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT id, full_name FROM customers WHERE id < 3",
    "EXPLAIN (COSTS OFF) SELECT ssn, email FROM customers WHERE id = 2",
    `EXPLAIN (VERBOSE, COSTS OFF) ${COUNTS_SSN}`,
  ])("allowed when it reads none, and plain EXPLAIN always: %s", async (sql) => {
    const r = await attempt(sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.rows).toEqual(await db.query(sql));
    if (sql.includes("ANALYZE")) expect(seen([r])).toContain("actual rows=2.00");
  });
});

describe("an unqualified call runs whichever function the search_path picks", () => {
  it.each([
    ["SELECT get_ssn(2)", SSN, "get_ssn may resolve to public.get_ssn"],
    ["SELECT get_key(1) AS k", "", "get_key may resolve to public.get_key"],
    ["SELECT k FROM (SELECT get_key(1) AS k) s", "", "get_key may resolve to public.get_key"],
    // pg_catalog has lower(text), but lower(int) is public's: the argument type picks it.
    ["SELECT lower(2)", SSN, "lower may resolve to public.lower"],
  ])("%s is refused", async (sql, secret, reason) => {
    const expected = secret || apiKey;
    expect(await direct([sql])).toContain(expected);
    const r = await attempt(sql);
    expect(r.code).toBe("42501");
    expect(r.message).toContain(`function ${reason}, which is not allowed`);
    expect(r.message).toContain("Next: call built-in functions (pg_catalog) only");
    expect(seen([r])).not.toContain(expected);
  });

  it.each(["SELECT 1 === 1 AS k", "SELECT 1 OPERATOR(public.===) 1 AS k", "SELECT id FROM orders WHERE (1 === 1) LIKE 'rk_live_c%' LIMIT 1"])(
    "an operator is a function call too: %s is refused",
    async (sql) => {
      if (!sql.includes("LIKE")) expect(await direct([sql])).toContain(apiKey);
      const r = await attempt(sql);
      expect(r.code).toBe("42501");
      expect(r.message).toMatch(/operator (public\.)?=== is not allowed: it is not one of PostgreSQL's built-in operators/);
      expect(seen([r])).not.toContain(apiKey);
    },
  );

  it("built-in operators, unqualified or qualified with pg_catalog, are allowed", async () => {
    const sql = `SELECT 1 != 2 AS a, 'ab' LIKE 'a%' AS b, '{"k": 1}'::jsonb ->> 'k' AS c, ARRAY[1, 2] @> ARRAY[1] AS d, 1 OPERATOR(pg_catalog.+) 2 AS e, 'x' || 'y' AS f`;
    const r = await attempt(sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.rows).toEqual(await db.query(sql));
  });

  it("qualified, it was refused already", async () => {
    const r = await attempt("SELECT public.get_ssn(2)");
    expect(r.code).toBe("42501");
    expect(r.message).toContain("function public.get_ssn is not allowed");
  });

  it("built-in functions called unqualified are allowed", async () => {
    const sql = "SELECT upper('x') AS u, length('abc') AS n, count(*) AS c, max(g) AS m FROM generate_series(1, 3) g";
    const r = await attempt(sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.rows).toEqual(await db.query(sql));
  });
});

describe("COPY of unprotected data keeps working", () => {
  it.each(["text", "csv", "binary"])("COPY orders TO STDOUT in %s", async (format) => {
    const sql = `COPY (SELECT id, status FROM orders WHERE id <= 20 ORDER BY id) TO STDOUT WITH (FORMAT ${format})`;
    const through = await exec("psql", [regate.url(), "-Atc", sql]);
    const straight = await exec("psql", [db.url(), "-Atc", sql]);
    expect(through.status, through.stderr).toBe(0);
    expect(through.stdout).toBe(straight.stdout);
  });

  it("COPY of a table with masked columns is still refused, and the session goes on", async () => {
    const r = await attempt("COPY (SELECT p1 FROM ssn_parts WHERE id = 2) TO STDOUT");
    expect(r.code).toBe("42501");
    expect((await attempt("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });
});
