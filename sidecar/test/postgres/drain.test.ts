import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, BUNDLE } from "../support/regate.js";
import { regateArgv } from "../support/compiled-regate.js";

let db: TestPostgres;

beforeAll(async () => {
  db = await startPostgres();
});

afterAll(async () => {
  await db?.stop();
});

describe("regate run", () => {
  it("on SIGTERM stops accepting, lets the running statement finish, then exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-drain-"));
    const port = await freePort();
    const config = join(dir, "regate.yaml");
    writeFileSync(
      config,
      stringify({
        policy: { bundle: BUNDLE },
        agents: { tokens: [{ subject: AGENT.user, token: { value: AGENT.token } }] },
        postgres: { listen: { port }, upstream: { host: db.host, port: db.port, database: db.database, user: db.users.scram.user, password: { env: "UPSTREAM_PW" } } },
        admin: { enabled: false, drain_timeout_ms: 10_000 },
      }),
    );
    // node itself, not npx: the signal must reach regate, not a wrapper.
    const child = spawn(process.execPath, regateArgv("run", "--config", config), { env: { ...process.env, UPSTREAM_PW: db.users.scram.password }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!out.includes("postgres listener ready")) {
      if (Date.now() > deadline) throw new Error(`regate did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = `postgres://${AGENT.user}:${AGENT.token}@127.0.0.1:${port}/db?sslmode=disable`;
    const c = new pg.Client({ connectionString: url });
    // After its statement, the session is told why it ends.
    const ended = new Promise<{ code?: string }>((resolve) => c.on("error", (e) => resolve(e as { code?: string })));
    await c.connect();
    const running = c.query("SELECT pg_sleep(1.5), 'finished' AS state");
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    await expect(new pg.Client({ connectionString: url }).connect()).rejects.toThrow();
    expect((await running).rows[0].state).toBe("finished");
    expect((await ended).code).toBe("57P01");
    await c.end().catch(() => undefined);
    expect(await exited).toBe(0);
    expect(out).toContain("draining");
  }, 120_000);
});
