import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyze, initSqlParser } from "../../src/postgres/sql/index.js";
import { connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// An attacker's third pass at statements that differ only in constants (issue 15). A template's facts are
// taken with each constant a parameter of its own, so they hold for constants the analysis does not look
// at. Where it does look at them (has_where's tautologies: `id + 1 = id + 1`, `status LIKE '%'`, `id <> ALL('{}')`,
// `id = 1 OR id <> 1`), a statement that restricts its rows must not lend its facts to one of the same
// template that does not. Each case primes a session with restricting statements of the template (in one
// transaction, rolled back after), by simple Query or by Parse, then sends the tautology: it
// must be refused as on a cold session, and the database must have deleted nothing. Before the fix the warm
// session's DELETE ran and removed every row. Writes whose constants are only compared with columns (pgbench's
// UPDATE ... WHERE aid = 42) still share their template.

let db: TestPostgres;
let r: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  // Three orders and nothing that refers to them: a write the policy allows changes a row or two, no budget is reached.
  await db.query("TRUNCATE public.orders CASCADE");
  await db.query("INSERT INTO public.orders (id, customer_id, amount, status, created_at) VALUES (1, 1, 1, 'paid', now()), (2, 2, 2, 'paid', now()), (3, 3, 3, 'paid', now())");
  r = await startRegate(db);
});

afterAll(async () => {
  await r?.stop();
  await db?.stop();
});

type Outcome = { ok: true; rows: number } | { ok: false; code: string };

async function attempt(c: pg.Client, sql: string | pg.QueryConfig): Promise<Outcome> {
  try {
    return { ok: true, rows: (await c.query(sql)).rowCount ?? -1 };
  } catch (e) {
    return { ok: false, code: (e as pg.DatabaseError).code ?? "?" };
  }
}

const REFUSED = { ok: false, code: "42501" } as const;

/** Runs `sql` inside a transaction rolled back after: the demo data stays as it is for the next case. */
async function rolledBack(c: pg.Client, sql: string): Promise<Outcome> {
  await c.query("BEGIN");
  try {
    return await attempt(c, sql);
  } finally {
    await c.query("ROLLBACK");
  }
}

describe("a tautology of constants does not borrow the facts of a restricting statement of its template", () => {
  // [restricting statement (allowed, changes no or few rows), the same template's tautology (every row)]
  // [restricting statements of one template (allowed, each deleting a row at most), its tautology (every row)]
  const cases: [string[], string][] = [
    [["DELETE FROM orders WHERE id + 1 = id + 2", "DELETE FROM orders WHERE id + 3 = id + 4", "DELETE FROM orders WHERE id + 5 = id + 6"], "DELETE FROM orders WHERE id + 1 = id + 1"],
    [["DELETE FROM orders WHERE coalesce(id, 0) = coalesce(id, 1)", "DELETE FROM orders WHERE coalesce(id, 2) = coalesce(id, 3)", "DELETE FROM orders WHERE coalesce(id, 4) = coalesce(id, 5)"], "DELETE FROM orders WHERE coalesce(id, 0) = coalesce(id, 0)"],
    [["DELETE FROM orders WHERE id = 1 OR id <> 2", "DELETE FROM orders WHERE id = 3 OR id <> 4", "DELETE FROM orders WHERE id = 5 OR id <> 6"], "DELETE FROM orders WHERE id = 1 OR id <> 1"],
    [["DELETE FROM orders WHERE id < 1 OR id >= 20", "DELETE FROM orders WHERE id < 0 OR id >= 30", "DELETE FROM orders WHERE id < -1 OR id >= 40"], "DELETE FROM orders WHERE id < 10 OR id >= 10"],
    [["DELETE FROM orders WHERE status LIKE 'zz%'", "DELETE FROM orders WHERE status LIKE 'yy%'", "DELETE FROM orders WHERE status LIKE 'xx'"], "DELETE FROM orders WHERE status LIKE '%'"],
    [["DELETE FROM orders WHERE id <> ALL('{1,2,3}')", "DELETE FROM orders WHERE id <> ALL('{1,2,3,4}')", "DELETE FROM orders WHERE id <> ALL('{1,2,3,5}')"], "DELETE FROM orders WHERE id <> ALL('{}')"],
    [["DELETE FROM orders WHERE CASE id + 1 WHEN id + 2 THEN true ELSE false END", "DELETE FROM orders WHERE CASE id + 3 WHEN id + 4 THEN true ELSE false END", "DELETE FROM orders WHERE CASE id + 5 WHEN id + 6 THEN true ELSE false END"], "DELETE FROM orders WHERE CASE id + 1 WHEN id + 1 THEN true ELSE false END"],
  ];
  for (const [restricting, tautology] of cases) {
    for (const protocol of ["simple", "extended"] as const) {
      it(`${protocol}: ${restricting[0]} | ${tautology}`, async () => {
        const cold = await connectClient(r.url());
        const warm = await connectClient(r.url());
        // Simple: the text alone. Extended: a Parse of a named statement (node-postgres sends Parse/Bind/Execute).
        const as = (sql: string, name: string): string | pg.QueryConfig => (protocol === "simple" ? sql : { name, text: sql });
        try {
          expect(await rolledBack(cold, tautology)).toEqual(REFUSED);
          // One transaction, rolled back after: the restricting statements may change a row, the data stays.
          await warm.query("BEGIN");
          for (const [i, sql] of restricting.entries()) expect((await attempt(warm, as(sql, `r${i}`))).ok).toBe(true);
          expect(await attempt(warm, as(tautology, "t"))).toEqual(REFUSED);
          await warm.query("ROLLBACK");
          expect(await db.query("SELECT count(*)::int AS n FROM public.orders")).toEqual([{ n: 3 }]);
        } finally {
          await cold.end();
          await warm.end();
        }
      });
    }
  }

  it("a write whose constants are only compared with columns still shares its template (pgbench's UPDATE)", async () => {
    const c = await connectClient(r.url());
    try {
      await c.query("BEGIN");
      const texts = [1, 2, 3, 1, 2].map((id, i) => `UPDATE orders SET amount = amount + ${i + 1} WHERE id = ${id}`);
      for (const sql of texts) expect(await attempt(c, sql)).toEqual({ ok: true, rows: 1 });
      await c.query("ROLLBACK");
      const reused = texts.slice(2).map((sql) => r.decisions().find((d) => d["input"]?.postgres?.statements?.[0]?.sql === sql)?.["reused_from"]);
      for (const from of reused) expect(from).toEqual(expect.any(String));
    } finally {
      await c.end();
    }
  });

  it("the fingerprint (statements with one have the same facts) keeps the constants a fact read", async () => {
    await initSqlParser();
    const facts = (sql: string) => analyze(sql, { searchPath: ["public"], user: "agent" });
    const [restricting, tautology] = [facts("DELETE FROM orders WHERE id + 1 = id + 2"), facts("DELETE FROM orders WHERE id + 1 = id + 1")];
    expect([restricting.statements[0]?.has_where, tautology.statements[0]?.has_where]).toEqual([true, false]);
    expect(restricting.fingerprint).not.toBe(tautology.fingerprint);
    // Constants only compared with columns are replaced, as before.
    expect(facts("DELETE FROM orders WHERE id = 1").fingerprint).toBe(facts("DELETE FROM orders WHERE id = 2").fingerprint);
  });
});
