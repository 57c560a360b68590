// Fault: the database stops answering altogether (every PostgreSQL process frozen with SIGSTOP: the kernel
// still holds the TCP connections, so keepalive sees nothing). regate's silence watch asks the server on a
// fresh connection; nobody answers, so the waiting session ends with 08006 and says why, instead of hanging
// for ever. A long query is silent too, and is left alone: the server says its backend is there.
import { execFileSync } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, { postgres: { limits: { upstream_silence_ms: 600, upstream_probe_timeout_ms: 600 } } });
}, 120_000);
afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function agent(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

/** The postmaster and every process it started. */
function serverPids(): number[] {
  const main = db.pid()!;
  const children = execFileSync("pgrep", ["-P", String(main)], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  return [main, ...children];
}

describe("the database stops answering", () => {
  it("a long query is silent but alive: it is left to finish", async () => {
    const c = await agent();
    try {
      const started = Date.now();
      await expect(c.query("SELECT pg_sleep(2.5), 1 AS n")).resolves.toMatchObject({ rows: [{ n: 1 }] });
      expect(Date.now() - started).toBeGreaterThanOrEqual(2400);
      // It was looked into, and found alive (not merely never checked).
      expect(regate.logs()).toMatch(/"verdict":"alive"/);
    } finally {
      await c.end();
    }
  });

  it("a frozen server: the waiting session ends with 08006 naming the silence; after it thaws, new sessions work", async () => {
    const c = await agent();
    const pids = serverPids();
    for (const p of pids) process.kill(p, "SIGSTOP");
    let err: (Error & { code?: string }) | undefined;
    const started = Date.now();
    try {
      err = await c.query("SELECT 42 AS n").then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
    } finally {
      for (const p of pids) process.kill(p, "SIGCONT");
    }
    const waited = Date.now() - started;
    expect(err?.code).toBe("08006");
    expect(err?.message).toMatch(/the database stopped answering \(no reply for \d+s, and a new connection could not reach it within 600 ms\)/);
    // Silence (0.6 s), at most one check period (0.15 s), the probe's timeout (0.6 s), and a loaded machine.
    expect(waited).toBeLessThan(8000);
    await c.end().catch(() => undefined);
    const again = await agent();
    try {
      await expect(again.query("SELECT 43 AS n")).resolves.toMatchObject({ rows: [{ n: 43 }] });
    } finally {
      await again.end();
    }
  }, 60_000);
});
