import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// Statements that differ only in constants (simple protocol: pgbench -M simple, ORMs that inline values)
// share one analysis, and the example policy's decision across them (`across: constants`). Judged by what
// the database returned for each statement and by the decision log: each statement is its own logged
// decision with its own text, the first evaluated and the others reusing it; refusals stay refusals;
// statements whose constants change the facts are never shared.

let db: TestPostgres;
let regate: TestRegate;
let c: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  await db.query("CREATE TABLE internal.orders (id int, secret text)");
  await db.query("INSERT INTO internal.orders VALUES (1, 'internal-order-secret')");
  regate = await startRegate(db);
  c = await connect();
});

afterAll(async () => {
  await c?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: regate.url() });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

const logged = (sql: string) => regate.decisions().filter((d) => d["input"]?.postgres?.statements?.[0]?.sql === sql);
const code = (p: Promise<unknown>) => p.then(() => "ok", (e: pg.DatabaseError) => e.code);

describe("statements that differ only in constants", () => {
  it("each gets its own rows; the first is evaluated, the rest reuse its decision, each logged with its own text", async () => {
    const direct = new pg.Client({ connectionString: db.url() });
    await direct.connect();
    try {
      const ids = [3, 1, 4, 15, 9, 26];
      for (const id of ids) {
        const sql = `SELECT id, status, amount FROM orders WHERE id = ${id}`;
        const through = await c.query(sql);
        expect(through.rows).toEqual((await direct.query(sql)).rows);
        expect(through.rows[0]?.id).toBe(id);
      }
      const lines = ids.map((id) => logged(`SELECT id, status, amount FROM orders WHERE id = ${id}`));
      for (const l of lines) expect(l).toHaveLength(1);
      // The first two are evaluated (the second is the one whose template gets checked), the others reuse.
      const evaluated = lines.filter((l) => l[0]!["reused_from"] === undefined);
      expect(evaluated.length).toBeLessThanOrEqual(2);
      const reused = lines.filter((l) => l[0]!["reused_from"] !== undefined);
      expect(reused.length).toBeGreaterThanOrEqual(ids.length - 2);
      for (const l of reused) expect(evaluated.map((e) => e[0]!["decision_id"])).toContain(l[0]!["reused_from"]);
      // The policy said so: its evaluated decision lets the constants vary.
      expect(evaluated[0]![0]!["result"].cache.across).toContain("constants");
    } finally {
      await direct.end();
    }
  });

  it("a refusal stays a refusal for every constant, and strings an attacker picks change nothing", async () => {
    for (const v of ["1", "2", "'x'", "'internal.api_keys'"]) {
      expect(await code(c.query(`SELECT secret FROM internal.api_keys WHERE id = ${v}`))).toBe("42501");
    }
    for (const v of ["'public.orders'", "'internal.api_keys'", "'select secret from internal.api_keys'"]) {
      expect(await code(c.query(`SELECT query_to_xml(${v}, true, true, '')`))).toBe("42501");
    }
    // The same session still works.
    expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });

  it("constants that change the facts are never shared: set_config's search_path takes effect as it would cold", async () => {
    const s = await connect();
    try {
      expect(await code(s.query("SELECT set_config('search_path', 'public', false)"))).toBe("ok");
      expect(await code(s.query("SELECT id FROM orders LIMIT 1"))).toBe("ok");
      // Same template, another constant: internal first. orders is now internal.orders: refused.
      expect(await code(s.query("SELECT set_config('search_path', 'internal, public', false)"))).toBe("ok");
      expect(await code(s.query("SELECT id FROM orders LIMIT 1"))).toBe("42501");
    } finally {
      await s.end();
    }
  });

  it("a refusal worded from the statement's text is not reused across constants", async () => {
    const a = "WITH d AS (DELETE FROM orders RETURNING id) SELECT 'a', count(*) FROM d";
    const b = "WITH d AS (DELETE FROM orders RETURNING id) SELECT 'b', count(*) FROM d";
    expect(await code(c.query(a))).toBe("42501");
    expect(await code(c.query(b))).toBe("42501");
    expect(logged(b)[0]!["reused_from"]).toBeUndefined();
    expect(logged(b)[0]!["result"].cache.across).not.toContain("constants");
    // Nothing was deleted.
    expect((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n).toBe(5000);
  });
});
