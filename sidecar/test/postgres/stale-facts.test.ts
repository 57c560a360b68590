import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// A decision taken through regate's caches must equal one taken cold. Judged by outcomes (rows or
// SQLSTATE) on a long-lived agent connection against a fresh connection for every single attempt.

let db: TestPostgres;
let regate: TestRegate;
let warm: pg.Client;

const STALENESS_MS = 200;

beforeAll(async () => {
  db = await startPostgres();
  await db.query("CREATE TABLE internal.orders (id int, secret text)");
  await db.query("INSERT INTO internal.orders VALUES (1, 'internal-order-secret')");
  await db.query("CREATE VIEW public.v AS SELECT status AS x FROM public.orders");
  regate = await startRegate(db, { postgres: { catalog: { max_staleness_ms: STALENESS_MS } } });
  warm = await connect();
});

afterAll(async () => {
  await warm?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

type Outcome = { ok: true; rows: string } | { ok: false; code: string };

async function attempt(c: pg.Client, sql: string, params?: unknown[]): Promise<Outcome> {
  try {
    const r = await c.query(sql, params);
    return { ok: true, rows: JSON.stringify(r.rows) };
  } catch (e) {
    return { ok: false, code: (e as pg.DatabaseError).code ?? "?" };
  }
}

async function cold(searchPath: string, sql: string, params?: unknown[]): Promise<Outcome> {
  const c = await connect();
  try {
    const set = await attempt(c, `SET search_path = ${searchPath}`);
    if (!set.ok) return set;
    return await attempt(c, sql, params);
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe("no decision from stale facts", () => {
  it("a search_path change after a cached analysis is seen (simple and extended protocol)", async () => {
    const c = await connect();
    try {
      expect((await attempt(c, "SELECT * FROM orders LIMIT 1")).ok).toBe(true);
      expect((await attempt(c, "SELECT * FROM orders LIMIT 3")).ok).toBe(true);
      expect((await attempt(c, "SELECT * FROM orders WHERE id = $1", [1])).ok).toBe(true);
      expect((await attempt(c, "SET search_path = internal, public")).ok).toBe(true);
      const simple = await attempt(c, "SELECT * FROM orders LIMIT 1");
      const extended = await attempt(c, "SELECT * FROM orders WHERE id = $1", [1]);
      expect(simple).toEqual({ ok: false, code: "42501" });
      expect(extended).toEqual({ ok: false, code: "42501" });
      // Other constants, same template: the template was learnt under the old search_path, and is not used.
      expect(await attempt(c, "SELECT * FROM orders LIMIT 2")).toEqual({ ok: false, code: "42501" });
    } finally {
      await c.end();
    }
  });

  it("a view redefined by another connection is judged by its new body once the staleness bound passes", async () => {
    const c = await connect();
    try {
      expect((await attempt(c, "SELECT x FROM v LIMIT 1")).ok).toBe(true);
      await db.query("CREATE OR REPLACE VIEW public.v AS SELECT secret AS x FROM internal.api_keys");
      await new Promise((r) => setTimeout(r, STALENESS_MS * 3));
      const after = await attempt(c, "SELECT x FROM v LIMIT 1");
      expect(after).toEqual({ ok: false, code: "42501" });
      // And a connection that never ran the text before.
      expect(await cold("public", "SELECT x FROM v LIMIT 1")).toEqual({ ok: false, code: "42501" });
    } finally {
      await db.query("CREATE OR REPLACE VIEW public.v AS SELECT status AS x FROM public.orders");
      await c.end();
    }
  });

  const corpus: [string, unknown[]?][] = [
    ["SELECT * FROM orders LIMIT 2"],
    ["SELECT id FROM orders WHERE id = $1", [1]],
    ["SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id"],
    ["SELECT x FROM v LIMIT 1"],
    ["SELECT * FROM v WHERE x = $1", ["paid"]],
    ["WITH t AS (SELECT * FROM orders) SELECT id FROM t LIMIT 1"],
    ["SELECT (SELECT max(id) FROM orders)"],
    ["SELECT id FROM payments LIMIT 1"],
    ["SELECT * FROM api_keys"],
    ["TABLE orders LIMIT 1"],
    ["SELECT o.id FROM orders o WHERE EXISTS (SELECT 1 FROM v WHERE v.x = o.status) LIMIT 1"],
  ];
  const searchPaths = ["public", "internal, public", "public, internal", "\"$user\", public"];
  const viewBodies = ["SELECT status AS x FROM public.orders", "SELECT secret AS x FROM internal.api_keys", "SELECT secret AS x FROM internal.orders"];

  it("property: over the corpus x search_paths x view bodies changed by another connection, warm = cold", async () => {
    const mismatches: string[] = [];
    let compared = 0;
    for (const body of viewBodies) {
      await db.query(`CREATE OR REPLACE VIEW public.v AS ${body}`);
      await new Promise((r) => setTimeout(r, STALENESS_MS * 3));
      for (const path of searchPaths) {
        expect((await attempt(warm, `SET search_path = ${path}`)).ok).toBe(true);
        for (const [sql, params] of corpus) {
          // Twice on the warm connection: the second is served by every cache regate has.
          await attempt(warm, sql, params);
          const w = await attempt(warm, sql, params);
          const c = await cold(path, sql, params);
          compared++;
          if (JSON.stringify(w) !== JSON.stringify(c)) mismatches.push(`${body} | ${path} | ${sql}: warm ${JSON.stringify(w)} cold ${JSON.stringify(c)}`);
        }
      }
    }
    await db.query("CREATE OR REPLACE VIEW public.v AS SELECT status AS x FROM public.orders");
    expect(mismatches).toEqual([]);
    expect(compared).toBe(viewBodies.length * searchPaths.length * corpus.length);
  }, 120_000);
});
