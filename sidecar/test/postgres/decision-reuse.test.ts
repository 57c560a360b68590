import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// The example policy declares its Postgres decisions reusable across time, parameter values and budgets.
// A reuse is still a logged decision, names the decision it reuses, and never crosses what the key holds.

let db: TestPostgres;
let regate: TestRegate;
let c: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
});

afterAll(async () => {
  await c?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

const decisionsFor = (sql: string) => regate.decisions().filter((d) => d["input"]?.postgres?.statements?.[0]?.sql === sql);

describe("decision reuse", () => {
  it("the same statement is decided once and reused after, each use logged with reused_from", async () => {
    const sql = "SELECT id, status FROM orders WHERE id < 3 ORDER BY id";
    const first = await c.query(sql);
    const second = await c.query(sql);
    expect(second.rows).toEqual(first.rows);
    const logged = decisionsFor(sql);
    expect(logged).toHaveLength(2);
    expect(logged[0]!["reused_from"]).toBeUndefined();
    expect(logged[1]!["reused_from"]).toBe(logged[0]!["decision_id"]);
    expect(logged[1]!["decision_id"]).not.toBe(logged[0]!["decision_id"]);
    expect(logged[1]!["outcome"]).toBe("allow");
    expect(logged[1]!["result"]["cache"]).toEqual({ ttl_seconds: 60, across: ["time", "parameters", "budget", "constants"] });
  });

  it("across parameters: a Bind with other values reuses the decision, and the log holds this Bind's values", async () => {
    const sql = "SELECT id FROM orders WHERE id = $1";
    await c.query(sql, [1]);
    await c.query(sql, [2]);
    const logged = decisionsFor(sql);
    expect(logged).toHaveLength(2);
    expect(logged[1]!["reused_from"]).toBe(logged[0]!["decision_id"]);
    expect(logged[1]!["input"]["postgres"]["parameters"][0]["value"]).toBe("2");
  });

  it("a refusal is reused as a refusal; masks are reused with it", async () => {
    const denied = "SELECT secret FROM internal.api_keys";
    for (let i = 0; i < 2; i++) await expect(c.query(denied)).rejects.toMatchObject({ code: "42501" });
    const d = decisionsFor(denied);
    expect(d.map((x) => x["outcome"])).toEqual(["deny", "deny"]);
    expect(d[1]!["reused_from"]).toBe(d[0]!["decision_id"]);

    const masked = "SELECT email FROM customers ORDER BY id LIMIT 1";
    const a = await c.query(masked);
    const b = await c.query(masked);
    expect(b.rows).toEqual(a.rows);
    expect(String(a.rows[0].email)).not.toMatch(/^[^*]+@/);
  });

  it("nothing is reused across a transaction-status or search_path change", async () => {
    const sql = "SELECT count(*) FROM orders";
    await c.query(sql);
    await c.query("BEGIN");
    await c.query(sql);
    await c.query("COMMIT");
    await c.query("SET search_path = \"\$user\", public, pg_temp");
    await c.query(sql);
    await c.query("RESET search_path");
    const d = decisionsFor(sql);
    expect(d).toHaveLength(3);
    expect(d.every((x) => x["reused_from"] === undefined)).toBe(true);
  });
});
