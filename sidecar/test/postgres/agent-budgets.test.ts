import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// Agent-wide budgets (postgres.budgets agent_*): counted per subject across all of its connections,
// concurrent and successive. Judged by the rows the clients received, the errors they got and what the
// database kept. Each test uses its own agent: the windows last an hour.

let db: TestPostgres;
let regate: TestRegate;
const AGENT_ROWS = 1000;
const names = ["duo", "solo", "again", "capped", "chatty", "quiet"] as const;
type Name = (typeof names)[number];
const token = (n: Name) => `${n}-agent-token-5d1f`;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, {
    agents: { tokens: names.map((n) => ({ subject: n, groups: ["agents"], token: { value: token(n) } })) },
    postgres: {
      budgets: {
        // Each connection alone stays under its own limit; the agent's are what must hold.
        rows_per_session: 5000,
        statements_per_minute: 100,
        agent_rows_per_hour: AGENT_ROWS,
        agents: { capped: { agent_rows_per_hour: 100 }, chatty: { agent_statements_per_minute: 4 } },
      },
    },
  });
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function client(n: Name): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url(n, token(n)) });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

const rowsOf = (n: number) => `SELECT g, repeat('x', 100) AS pad FROM generate_series(1, ${n}) g`;
const run = (c: pg.Client, sql: string) => c.query(sql).then((r) => ({ rows: r.rowCount ?? 0, err: undefined }), (e: pg.DatabaseError) => ({ rows: 0, err: e }));
/** A statement that returns no row: the session still works once the agent's rows are spent. */
const alive = async (c: pg.Client) => expect((await c.query("SELECT 1 AS one WHERE false")).rowCount).toBe(0);

describe("agent budgets (one process)", () => {
  it("two concurrent connections of one agent are cut together at the agent's limit, each under its own; another agent is unaffected", async () => {
    const [a, b, other] = await Promise.all([client("duo"), client("duo"), client("solo")]);
    try {
      const [ra, rb, ro] = await Promise.all([run(a, rowsOf(700)), run(b, rowsOf(700)), run(other, rowsOf(700))]);
      const cut = [ra, rb].filter((r) => r.err);
      expect(cut).toHaveLength(1);
      expect(cut[0]!.err!.code).toBe("54000");
      expect(cut[0]!.err!.message).toMatch(/budget exceeded: agent_rows_per_hour \(1000, across all of this agent's connections\); it refills in \d+s; the result was cut after \d+ rows/);
      const cutAfter = Number(/cut after (\d+) rows/.exec(cut[0]!.err!.message)![1]);
      // Exactly the agent's limit reached the agent, whichever connection took which part.
      expect(ra.rows + rb.rows + cutAfter).toBe(AGENT_ROWS);
      expect(ro).toEqual({ rows: 700, err: undefined });
      await alive(a);
      await alive(b);
    } finally {
      await Promise.all([a.end(), b.end(), other.end()]);
    }
    const running = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 700)%' AND state = 'active' AND pid <> pg_backend_pid()");
    expect(running[0].n).toBe(0);
  });

  it("reconnecting does not reset the agent's budget", async () => {
    const first = await client("again");
    expect(await run(first, rowsOf(600))).toEqual({ rows: 600, err: undefined });
    await first.end();
    const second = await client("again");
    try {
      const r = await run(second, rowsOf(600));
      expect(r.err?.code).toBe("54000");
      expect(r.err?.message).toContain("agent_rows_per_hour (1000");
      expect(r.err?.message).toContain("cut after 400 rows");
      await alive(second);
      // Spent: the next row-returning statement is cut at its first row, on this connection or a new one.
      expect((await run(second, "SELECT 1")).err?.message).toContain("cut after 0 rows");
      const third = await client("again");
      expect((await run(third, "SELECT 1")).err?.code).toBe("54000");
      await third.end();
    } finally {
      await second.end();
    }
  });

  it("a per-agent override applies to that agent only", async () => {
    const c = await client("capped");
    try {
      const r = await run(c, rowsOf(150));
      expect(r.err?.code).toBe("54000");
      expect(r.err?.message).toContain("agent_rows_per_hour (100, across all of this agent's connections)");
      expect(r.err?.message).toContain("cut after 100 rows");
    } finally {
      await c.end();
    }
  });

  it("agent_statements_per_minute spans connections; a refused statement never runs, reused decision or not", async () => {
    const orders = async () => Number((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n);
    const before = await orders();
    const [a, b] = await Promise.all([client("chatty"), client("chatty")]);
    const other = await client("quiet");
    try {
      // The example policy lets a decision be reused across budgets: the second SELECT 1 of each session is a reuse.
      for (const c of [a, a, b, b]) expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      const again = await run(a, "SELECT 1 AS one");
      expect(again.err?.code).toBe("54000");
      expect(again.err?.message).toMatch(/agent_statements_per_minute \(4, across all of this agent's connections\); it refills in \d+s/);
      // The refused SELECT was a reuse of that session's earlier decision: the budget veto applied to it all the same.
      const chatty = regate.decisions().filter((d) => d["input"]?.session?.principal?.subject === "chatty" && d["input"]?.postgres?.statements?.[0]?.sql === "SELECT 1 AS one");
      expect(chatty.at(-1)).toMatchObject({ outcome: "deny", reused_from: chatty[0]!["decision_id"] });
      const write = await run(b, "INSERT INTO orders (customer_id, amount, status, created_at) VALUES (1, 1, 'pending', now())");
      expect(write.err?.code).toBe("54000");
      const fresh = await client("chatty");
      expect((await run(fresh, "SELECT 1 AS one")).err?.code).toBe("54000");
      await fresh.end();
      expect(await orders()).toBe(before);
      for (let i = 0; i < 6; i++) expect((await other.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await Promise.all([a.end(), b.end(), other.end()]);
    }
  });

  it("the policy sees the agent's use in input.budget.used", () => {
    const mine = regate.decisions().filter((d) => d["input"]?.session?.principal?.subject === "again");
    const last = mine.at(-1)!;
    expect(last["input"]["budget"]["limits"]["agent_rows_per_hour"]).toBe(AGENT_ROWS);
    expect(last["input"]["budget"]["used"]["agent_rows_last_hour"]).toBe(AGENT_ROWS);
  });
});
