// Fault: the upstream backend of one session stops answering (SIGSTOP) in the middle of the session.
// Judged by the clients' view: the other agent's session is served meanwhile, and the frozen session
// gets its answer once the backend runs again (regate has no statement timeout of its own: see
// docs/reliability.md).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
const clients: pg.Client[] = [];

async function agent(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("upstream backend stops answering", () => {
  it("other sessions are served while one backend is frozen; the frozen session resumes with the right answer", async () => {
    const frozen = await agent();
    const other = await agent();
    const pid = Number((await frozen.query("SELECT pg_backend_pid() AS pid")).rows[0].pid);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGSTOP");
    let answered = false;
    try {
      const pending = frozen.query("SELECT 42 AS n").then((r) => {
        answered = true;
        return r;
      });
      for (let i = 0; i < 5; i++) await expect(other.query("SELECT $1::int AS n", [i])).resolves.toMatchObject({ rows: [{ n: i }] });
      await new Promise((r) => setTimeout(r, 500));
      expect(answered).toBe(false);
      process.kill(pid, "SIGCONT");
      await expect(pending).resolves.toMatchObject({ rows: [{ n: 42 }] });
    } finally {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    await expect(frozen.query("SELECT 43 AS n")).resolves.toMatchObject({ rows: [{ n: 43 }] });
  }, 60_000);
});
