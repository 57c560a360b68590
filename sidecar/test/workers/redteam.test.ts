import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RELIABILITY_AGENT, type RegateChild } from "../reliability/support/regate-child.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { exec } from "../support/exec.js";
import { until } from "../support/wait.js";
import { adminCall, connect, onBothWorkers, RESPONDER, startWorkers, workerOf } from "./support.js";

// workers: 2, an attacker's pass over what docs/workers.md promises beyond the cases workers.test.ts,
// lock-window.test.ts and lock-http.test.ts cover (those use incident.locks.store: memory).
//
// incident.locks.store: postgres. A single process that places a lock applies it before the admin API
// answers; the other workers used to learn of it only from NOTIFY, as separate replicas do. While that
// notification is late (a LISTEN connection that is slow, stalled or reconnecting), the agent's session on
// the other worker went on writing after the operator was told the agent is locked. The listeners are
// stopped here (SIGSTOP on their backends) so that the notification cannot arrive: what the test sees
// does not depend on how fast the machine is.
//
// postgres.budgets.agent_rows_per_hour. The workers spend leases of the primary's count; rows past a lease
// used to go ahead on credit until the primary answered (the rest of one socket read, per connection). A
// socket read holds about 5,000 narrow rows, so an agent that streamed on a dozen connections at once got
// tens of thousands of rows against a limit of 1,000 (one process gives it 1,000). Rows past the lease now
// wait for it.

let db: TestPostgres;
let regate: RegateChild;
let budgets: RegateChild;
const AGENT_ROWS = 1000;
const FRESH = { user: "fresh", token: "fresh-agent-token-5c20" };
const COPIER = { user: "copier", token: "copier-agent-token-77d1" };
const AGENT_BYTES = 50_000;
const stopped: number[] = [];
const open: pg.Client[] = [];

beforeAll(async () => {
  db = await startPostgres();
  await db.query(`GRANT CREATE ON DATABASE ${db.database} TO ${db.users.scram.user}`);
  regate = await startWorkers(db, "redteam-pg-locks", {
    incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }], locks: { store: "postgres" } },
  });
  budgets = await startWorkers(db, "redteam-agent-rows", {
    agents: {
      tokens: [
        { subject: RELIABILITY_AGENT.user, groups: ["agents"], token: { env: "REL_AGENT_TOKEN" } },
        { subject: FRESH.user, groups: ["agents"], token: { value: FRESH.token } },
        { subject: COPIER.user, groups: ["agents"], token: { value: COPIER.token } },
      ],
    },
    postgres: { budgets: { agent_rows_per_hour: AGENT_ROWS, agents: { [COPIER.user]: { agent_rows_per_hour: 0, agent_bytes_per_hour: AGENT_BYTES } } } },
  });
}, 120_000);

afterAll(async () => {
  await budgets?.stop();
  for (const pid of stopped) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // gone already
    }
  }
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await regate?.stop();
  await db?.stop();
});

async function amount(id: number): Promise<number> {
  const rows = await db.query("SELECT amount::float8 AS a FROM orders WHERE id = $1", [id]);
  return rows[0].a as number;
}

describe("workers: 2, incident.locks.store: postgres", () => {
  it("once POST /locks answered, the agent's session on the other worker writes nothing more and a new one is refused, even with its NOTIFY stalled", async () => {
    const clients = await onBothWorkers(regate.url(), 1);
    open.push(...clients);
    const other = clients.find((c) => workerOf(c) === 1)!;
    await other.query("SELECT 1");
    let ended: (Error & { code?: string }) | undefined;
    other.on("error", (e: Error & { code?: string }) => (ended ??= e));
    // Every lock-store listener backend (both workers'): no NOTIFY reaches either worker until SIGCONT.
    const listeners = await until(async () => {
      const rows = await db.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'regate-locks-listen'");
      return rows.length === 2 && rows.map((r: { pid: number }) => r.pid);
    }, 10_000);
    for (const pid of listeners) {
      process.kill(pid, "SIGSTOP");
      stopped.push(pid);
    }
    const before = await amount(1);
    const lock = await adminCall(regate, "POST", "/locks", { target: { principal: "reliability-agent" }, message: "redteam pg lock" });
    expect(lock.status).toBe(201);

    const write = await other.query("UPDATE orders SET amount = amount + 1 WHERE id = 1").then(
      () => "ran",
      (e: Error & { code?: string }) => e.code ?? e.message,
    );
    expect(write).not.toBe("ran");
    expect(await amount(1)).toBe(before);
    // What the agent was told: its session was ended by the lock, naming it.
    expect(ended?.code).toBe("57P01");
    expect(ended?.message).toContain(`agent locked (${lock.body.id}`);

    // A new connection is refused on whichever worker it lands (round-robin: a few reach both).
    for (let i = 0; i < 4; i++) {
      const refused = await connect(regate.url()).then(
        (c) => (open.push(c), "admitted"),
        (e: Error & { code?: string }) => e.code,
      );
      expect(refused).toBe("42501");
    }
  }, 60_000);
});

/** Rows as they reach the agent (pg emits each DataRow), and how the statement ended. */
function streamed(c: pg.Client, sql: string): Promise<{ rows: number; code: string | undefined }> {
  return new Promise((resolve) => {
    let rows = 0;
    const q = c.query(new pg.Query(sql));
    q.on("row", () => rows++);
    q.on("end", () => resolve({ rows, code: undefined }));
    q.on("error", (e: Error & { code?: string }) => resolve({ rows, code: e.code }));
  });
}

describe("workers: 2, postgres.budgets.agent_rows_per_hour and agent_bytes_per_hour", () => {
  it("an agent streaming narrow rows on a dozen connections at once gets its limit, not a socket read per connection", async () => {
    const clients: pg.Client[] = [];
    for (let i = 0; i < 12; i++) clients.push(await connect(budgets.url()));
    open.push(...clients);
    expect(new Set(clients.map(workerOf))).toEqual(new Set([0, 1]));
    const results = await Promise.all(clients.map((c) => streamed(c, "SELECT 1 FROM generate_series(1, 200000)")));
    const total = results.reduce((n, r) => n + r.rows, 0);
    console.log(`rows the agent received on 12 connections against agent_rows_per_hour ${AGENT_ROWS}: ${total}`);
    expect(results.map((r) => r.code)).toEqual(results.map(() => "54000"));
    expect(total).toBeLessThanOrEqual(AGENT_ROWS);
  }, 60_000);

  it("agent_bytes_per_hour: COPY TO STDOUT on a dozen connections at once (psql) delivers no more than the limit", async () => {
    const copies = await Promise.all(
      Array.from({ length: 12 }, () => exec("psql", [budgets.url(COPIER.user, COPIER.token), "-X", "-q", "-c", "COPY (SELECT g FROM generate_series(1, 200000) g) TO STDOUT"])),
    );
    const bytes = copies.reduce((n, r) => n + Buffer.byteLength(r.stdout), 0);
    console.log(`COPY bytes the agent received on 12 connections against agent_bytes_per_hour ${AGENT_BYTES}: ${bytes}`);
    for (const r of copies) expect(r.stderr).toContain("agent_bytes_per_hour");
    expect(bytes).toBeLessThanOrEqual(AGENT_BYTES);
  }, 60_000);

  it("an agent within its limit gets its whole result, in one read, on either worker", async () => {
    const clients = await onBothWorkers(budgets.url(FRESH.user, FRESH.token), 1);
    open.push(...clients);
    const results = await Promise.all(clients.map((c) => streamed(c, "SELECT 1 FROM generate_series(1, 400)")));
    expect(results).toEqual(results.map(() => ({ rows: 400, code: undefined })));
  }, 60_000);
});
