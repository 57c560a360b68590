import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { clientGate } from "../clients/run.js";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, AGENT, type TestRegate } from "../support/regate.js";

// Budgets are judged by what the client received and what the database kept.

let db: TestPostgres;
let regate: TestRegate;
const ROWS = 100;
const BIG = "SELECT g, repeat('x', 50) AS pad FROM generate_series(1, 5000000) g";

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, {
    agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }, { subject: "slow-agent", groups: ["agents"], token: { value: "slow-agent-token" } }] },
    postgres: { budgets: { rows_per_statement: ROWS, agents: { "slow-agent": { statements_per_minute: 3 } } } },
  });
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function client(user?: string, token?: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url(user, token) });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

const orders = async () => Number((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n);

describe("budgets (pg driver)", () => {
  it("a result past rows_per_statement is cut with 54000 naming the budget; the session goes on", async () => {
    const c = await client();
    try {
      const err = await c.query(BIG).then(() => undefined, (e: pg.DatabaseError) => e);
      expect(err?.code).toBe("54000");
      expect(err?.message).toContain("rows_per_statement (100)");
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      // Extended protocol, same cut.
      const err2 = await c.query("SELECT g FROM generate_series(1, $1::int) g", [5_000_000]).then(() => undefined, (e: pg.DatabaseError) => e);
      expect(err2?.code).toBe("54000");
      expect((await c.query("SELECT $1::int AS n", [7])).rows).toEqual([{ n: 7 }]);
      // A result within the budget is whole.
      expect((await c.query(`SELECT g FROM generate_series(1, ${ROWS}) g`)).rowCount).toBe(ROWS);
    } finally {
      await c.end();
    }
    // Nothing still running upstream on behalf of the cut statements.
    const running = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 5000000)%' AND state = 'active' AND pid <> pg_backend_pid()");
    expect(running[0].n).toBe(0);
  });

  it("a write whose RETURNING crosses the budget leaves the database untouched, in and out of a transaction", async () => {
    const before = await orders();
    const c = await client();
    try {
      const insert = "INSERT INTO orders (customer_id, amount, status, created_at) SELECT 1, 1, 'pending', now() FROM generate_series(1, 20000) RETURNING id";
      const e1 = await c.query(insert).then(() => undefined, (e: pg.DatabaseError) => e);
      expect(e1?.code).toBe("54000");
      expect(await orders()).toBe(before);

      await c.query("BEGIN");
      await c.query("INSERT INTO orders (customer_id, amount, status, created_at) VALUES (1, 1, 'pending', now())");
      const e2 = await c.query(insert).then(() => undefined, (e: pg.DatabaseError) => e);
      expect(e2?.code).toBe("54000");
      // The server failed the transaction block: what follows is refused until ROLLBACK, as after any error.
      const e3 = await c.query("SELECT 1").then(() => undefined, (e: pg.DatabaseError) => e);
      expect(e3?.code).toBe("25P02");
      await c.query("ROLLBACK");
      expect(await orders()).toBe(before);
      expect((await c.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
      // Within the budget, the same kind of write commits and returns every row.
      const ok = await c.query("INSERT INTO orders (customer_id, amount, status, created_at) SELECT 1, 1, 'pending', now() FROM generate_series(1, 5) RETURNING id");
      expect(ok.rowCount).toBe(5);
      expect(await orders()).toBe(before + 5);
      await c.query("DELETE FROM orders WHERE id = ANY($1::int[])", [ok.rows.map((r: { id: number }) => r.id)]).catch(() => undefined);
    } finally {
      await c.end();
    }
  });

  it("extended protocol: an autocommit write whose RETURNING crosses the budget is rolled back; within it, committed", async () => {
    const before = await orders();
    const c = await client();
    try {
      const insert = "INSERT INTO orders (customer_id, amount, status, created_at) SELECT $1::int, 1, 'pending', now() FROM generate_series(1, $2::int) RETURNING id";
      const err = await c.query(insert, [1, 20000]).then(() => undefined, (e: pg.DatabaseError) => e);
      expect(err?.code).toBe("54000");
      expect(err?.message).not.toContain("committed");
      expect(await orders()).toBe(before);
      const ok = await c.query(insert, [1, 3]);
      expect(ok.rowCount).toBe(3);
      expect(await orders()).toBe(before + 3);
      // The session is back to autocommit: a later statement is not inside regate's transaction.
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      const inTx = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'");
      expect(inTx[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });

  it("statements_per_minute: a per-agent override refuses the fourth statement before it runs, and says when it refills", async () => {
    const c = await client("slow-agent", "slow-agent-token");
    try {
      for (let i = 0; i < 3; i++) await c.query("SELECT 1");
      const err = await c.query("SELECT 1").then(() => undefined, (e: pg.DatabaseError) => e);
      expect(err?.code).toBe("54000");
      expect(err?.message).toMatch(/statements_per_minute \(3\); it refills in \d+s/);
    } finally {
      await c.end();
    }
    // The refusal is a logged decision with its reason (the logged decision is the enforced one).
    const refused = regate.decisions().filter((d) => d["input"]?.session?.principal?.subject === "slow-agent" && d["result"] !== undefined);
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(regate.logs()).toContain("BUDGET_EXCEEDED");
  });

  it("the policy sees the budget and its use in input.budget", () => {
    const last = regate.decisions().at(-1)!;
    expect(last["input"]["budget"]["limits"]["rows_per_statement"]).toBe(ROWS);
    expect(typeof last["input"]["budget"]["used"]["session_rows"]).toBe("number");
  });
});

describe("budgets (other clients)", () => {
  const psql = clientGate("psql");
  it.skipIf(psql.skip)(psql.title("psql: the cut result is an error, the next statement in the same session runs"), async () => {
    psql.require();
    const r = await exec("psql", [regate.url(), "-X", "-v", "ON_ERROR_STOP=0", "-At", "-c", BIG, "-c", "SELECT 'still-here'"]);
    expect(r.stderr).toContain("rows_per_statement (100)");
    expect(r.stdout.trim().split("\n").at(-1)).toBe("still-here");
    expect(r.stdout).not.toContain("|x");
  });

  const asyncpg = clientGate("asyncpg");
  it.skipIf(asyncpg.skip)(asyncpg.title("asyncpg (binary, extended protocol): cut, then the connection is usable"), async () => {
    asyncpg.require();
    const python = join(packageRoot, ".venv", "bin", "python");
    const script = `
import asyncio, asyncpg, sys
async def main():
    c = await asyncpg.connect(sys.argv[1])
    try:
        await c.fetch("SELECT g FROM generate_series(1, 5000000) g")
        print("no error")
    except asyncpg.PostgresError as e:
        print(e.sqlstate)
    print(await c.fetchval("SELECT $1::int + 1", 41))
    await c.close()
asyncio.run(main())
`;
    const r = await exec(python, ["-c", script, regate.url()]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual(["54000", "42"]);
  });
});
