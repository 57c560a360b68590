import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientGate } from "../clients/run.js";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// An agent behind a tool often sees only an error's first line: that line must say regate refused it,
// why, the decision id and what to do next. Judged by what psql and the pg driver print.

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const FIRST_LINE = /^regate refused this statement: (.+) \(decision ([0-9a-f-]{36})\)\. Next: (.+)\.$/;

const cases: { sql: string; reason: string; next: RegExp }[] = [
  { sql: "SELECT secret FROM internal.api_keys", reason: "internal.* is never accessible; reading internal.api_keys is not allowed", next: /do not retry/ },
  { sql: "DELETE FROM orders", reason: "DELETE without WHERE is not allowed", next: /add a WHERE clause/ },
  { sql: "UPDATE payments SET status = 'refunded' WHERE id = 1", reason: "approval required: writes to public.payments need approval", next: /human reviewer/ },
  // A driver's rewritten batch (pgjdbc reWriteBatchedInserts) of thousands of rows: too long, not wrong.
  {
    sql: `INSERT INTO orders (customer_id, amount, status, created_at) VALUES ${Array.from({ length: 4000 }, () => "(1, 1, 'paid', now())").join(", ")}`,
    reason: "statement is longer than 65536 bytes, more than regate analyses (postgres.limits.max_statement_bytes)",
    next: /smaller statements/,
  },
];

describe("the first line says it all", () => {
  it.each(cases)("pg: $reason", async ({ sql, reason, next }) => {
    const c = new pg.Client({ connectionString: regate.url() });
    await c.connect();
    try {
      const err = await c.query(sql).then(() => undefined, (e: pg.DatabaseError) => e);
      const m = FIRST_LINE.exec(err?.message ?? "");
      expect(m, err?.message).not.toBeNull();
      expect(m![1]).toBe(reason);
      expect(m![3]).toMatch(next);
      // The id on the first line is the logged decision's.
      expect(regate.decisions().some((d) => d["decision_id"] === m![2] && d["outcome"] !== "allow")).toBe(true);
      expect(err?.hint).toMatch(/nothing ran|not run/);
    } finally {
      await c.end();
    }
  });

  const psql = clientGate("psql");
  it.skipIf(psql.skip)(psql.title("psql -c shows the same first line, and the database is untouched"), async () => {
    psql.require();
    const before = await db.query("SELECT count(*)::int AS n FROM orders");
    const r = await exec("psql", [regate.url(), "-X", "-c", "DELETE FROM orders"]);
    const line = r.stderr.split("\n")[0]!.replace(/^ERROR:\s+/, "");
    expect(line).toMatch(FIRST_LINE);
    expect(line).toContain("add a WHERE clause");
    expect(await db.query("SELECT count(*)::int AS n FROM orders")).toEqual(before);
  });
});
