// PostgreSQL plans an SQL prepared statement again at EXECUTE when a relation it reads or the search_path
// changed since PREPARE, and so does regate with its facts: an EXECUTE after such a change is judged on the
// statement as it will run now, not refused as unknown (it was, until the agent prepared it again).
// Real PostgreSQL, node-postgres, the example policy.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let c: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, { postgres: { catalog: { max_staleness_ms: 200 } } });
  c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
}, 120_000);

afterAll(async () => {
  await c?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

const settle = () => new Promise((r) => setTimeout(r, 600));
const attempt = (sql: string) => c.query(sql).then((r) => r.rows, (e: pg.DatabaseError) => e);

describe("SQL prepared statements after the catalog or the search_path changed", () => {
  it("a table altered by another connection: EXECUTE runs, re-judged", async () => {
    expect(await attempt("PREPARE by_id(int) AS SELECT id FROM public.orders WHERE id = $1")).toEqual([]);
    expect(await attempt("EXECUTE by_id(1)")).toEqual([{ id: 1 }]);
    await db.query("ALTER TABLE public.orders ADD COLUMN replan_probe int");
    await settle();
    expect(await attempt("EXECUTE by_id(1)")).toEqual([{ id: 1 }]);
    expect(await attempt("EXECUTE by_id(2)")).toEqual([{ id: 2 }]);
    await db.query("ALTER TABLE public.orders DROP COLUMN replan_probe");
  });

  it("masking holds on the statement taken again: the PII column is still masked after its table changed", async () => {
    const { id, ssn: real } = (await db.query("SELECT id, ssn FROM public.customers WHERE ssn IS NOT NULL ORDER BY id LIMIT 1"))[0] as { id: number; ssn: string };
    expect(await attempt("PREPARE pii(int) AS SELECT id, ssn FROM public.customers WHERE id = $1")).toEqual([]);
    const before = (await attempt(`EXECUTE pii(${id})`)) as Record<string, unknown>[];
    expect(before).toHaveLength(1);
    expect(before[0]!["ssn"]).not.toBe(real);
    await db.query("ALTER TABLE public.customers ADD COLUMN replan_note text");
    await settle();
    const after = (await attempt(`EXECUTE pii(${id})`)) as Record<string, unknown>[];
    expect(after).toEqual(before);
    expect(JSON.stringify(after)).not.toContain(real);
    await db.query("ALTER TABLE public.customers DROP COLUMN replan_note");
  });

  it("a table the statement reads replaced by a view over an internal table: the EXECUTE is judged on the view and refused", async () => {
    await db.query("CREATE TABLE public.replan_t (id int); INSERT INTO public.replan_t VALUES (7)");
    expect(await attempt("PREPARE from_t AS SELECT id FROM public.replan_t")).toEqual([]);
    expect(await attempt("EXECUTE from_t")).toEqual([{ id: 7 }]);
    await db.query("DROP TABLE public.replan_t; CREATE VIEW public.replan_t AS SELECT 1 AS id FROM internal.api_keys LIMIT 1");
    await settle();
    const refused = await attempt("EXECUTE from_t");
    expect(refused).toBeInstanceOf(Error);
    expect((refused as pg.DatabaseError).code).toBe("42501");
    await db.query("DROP VIEW public.replan_t");
  });

  it("the search_path changed to put an internal table first: the EXECUTE, which PostgreSQL parses again under it, is refused", async () => {
    await db.query("CREATE TABLE public.replan_keys (n int); CREATE TABLE internal.replan_keys (n int); INSERT INTO internal.replan_keys VALUES (1), (2)");
    expect(await attempt("PREPARE keys AS SELECT count(*)::int AS n FROM replan_keys")).toEqual([]);
    expect(await attempt("EXECUTE keys")).toEqual([{ n: 0 }]);
    const set = await attempt("SET search_path = internal, public");
    const run = await attempt("EXECUTE keys");
    // Refused one way or the other: the SET itself, or the EXECUTE that would read internal.replan_keys.
    expect(set instanceof Error || run instanceof Error).toBe(true);
    if (!(run instanceof Error)) expect(run).toEqual([{ n: 0 }]);
    await attempt("RESET search_path");
    await db.query("DROP TABLE public.replan_keys; DROP TABLE internal.replan_keys");
  });
});
