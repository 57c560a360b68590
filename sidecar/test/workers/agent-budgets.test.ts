import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RELIABILITY_AGENT, type RegateChild } from "../reliability/support/regate-child.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { onBothWorkers, startWorkers, workerOf } from "./support.js";

// Agent-wide budgets with workers: 2: the primary keeps each agent's windows and the workers spend leases
// of them, so an agent whose connections land on both workers still gets its limit once, not once per worker.

let db: TestPostgres;
let regate: RegateChild;
const AGENT_ROWS = 1000;
const CHATTY = { user: "chatty", token: "chatty-agent-token-41e0" };
const OTHER = { user: "other", token: "other-agent-token-9a77" };
/** Wide rows: one 64 KiB socket read carries about 30 of them, so what runs ahead of a lease stays small. */
const rowsOf = (n: number) => `SELECT g, repeat('x', 2000) AS pad FROM generate_series(1, ${n}) g`;
/**
 * What may run ahead of the agent's leases: the rest of one 64 KiB socket read per connection (33 of these
 * rows), or be leased and left unspent on a worker (a lease is 1000 / 32 = 32 rows).
 */
const SLACK = 2 * Math.ceil(65_536 / 2000);

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  regate = await startWorkers(db, "agent-budgets", {
    agents: {
      tokens: [
        { subject: RELIABILITY_AGENT.user, groups: ["agents"], token: { env: "REL_AGENT_TOKEN" } },
        { subject: CHATTY.user, groups: ["agents"], token: { value: CHATTY.token } },
        { subject: OTHER.user, groups: ["agents"], token: { value: OTHER.token } },
      ],
    },
    postgres: { budgets: { rows_per_session: 5000, agent_rows_per_hour: AGENT_ROWS, agents: { [CHATTY.user]: { agent_statements_per_minute: 4 } } } },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

/** One client of the agent on each worker; the others made on the way are closed. */
async function onEachWorker(url: string): Promise<[pg.Client, pg.Client]> {
  const clients = await onBothWorkers(url, 1);
  const a = clients.find((c) => workerOf(c) === 0)!;
  const b = clients.find((c) => workerOf(c) === 1)!;
  await Promise.all(clients.filter((c) => c !== a && c !== b).map((c) => c.end()));
  return [a, b];
}

const run = (c: pg.Client, sql: string) => c.query(sql).then((r) => ({ rows: r.rowCount ?? 0, err: undefined as pg.DatabaseError | undefined }), (e: pg.DatabaseError) => ({ rows: 0, err: e }));
const delivered = (r: { rows: number; err: pg.DatabaseError | undefined }) => (r.err ? Number(/cut after (\d+) rows/.exec(r.err.message)?.[1] ?? 0) : r.rows);

describe("agent budgets, workers: 2", () => {
  it("an agent streaming on both workers at once is cut at its one limit; a new connection on either worker finds it spent; another agent is unaffected", async () => {
    const [a, b] = await onEachWorker(regate.url());
    const [x, y] = await onEachWorker(regate.url(OTHER.user, OTHER.token));
    try {
      const [ra, rb, rx, ry] = await Promise.all([run(a, rowsOf(700)), run(b, rowsOf(700)), run(x, rowsOf(300)), run(y, rowsOf(300))]);
      const cut = [ra, rb].filter((r) => r.err);
      expect(cut.length).toBeGreaterThanOrEqual(1);
      for (const r of cut) {
        expect(r.err!.code).toBe("54000");
        expect(r.err!.message).toMatch(/agent_rows_per_hour \(1000, across all of this agent's connections\)/);
      }
      const total = delivered(ra) + delivered(rb);
      console.log(`rows the agent received across both workers: ${total} (limit ${AGENT_ROWS})`);
      expect(total).toBeGreaterThanOrEqual(AGENT_ROWS - SLACK);
      expect(total).toBeLessThanOrEqual(AGENT_ROWS + SLACK);
      expect([rx.rows, ry.rows]).toEqual([300, 300]);
      // The sessions live on.
      for (const c of [a, b]) expect((await c.query("SELECT 1 AS one WHERE false")).rowCount).toBe(0);
    } finally {
      await Promise.all([a, b, x, y].map((c) => c.end()));
    }
    const [c, d] = await onEachWorker(regate.url());
    try {
      for (const r of await Promise.all([run(c, rowsOf(200)), run(d, rowsOf(200))])) {
        expect(r.err?.code).toBe("54000");
        expect(delivered(r)).toBeLessThanOrEqual(SLACK);
      }
    } finally {
      await Promise.all([c.end(), d.end()]);
    }
  }, 60_000);

  it("agent_statements_per_minute holds across workers", async () => {
    const [a, b] = await onEachWorker(regate.url(CHATTY.user, CHATTY.token));
    try {
      const results = [];
      for (const c of [a, b, a, b, a, b]) results.push(await run(c, "SELECT 1 AS one"));
      expect(results.filter((r) => !r.err)).toHaveLength(4);
      for (const r of results.filter((r) => r.err)) {
        expect(r.err!.code).toBe("54000");
        expect(r.err!.message).toMatch(/agent_statements_per_minute \(4, across all of this agent's connections\); it refills in \d+s/);
      }
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  }, 60_000);
});
