import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../src/paths.js";

// `make run`, driven the way the README tells a person to: the fixed ports and the demo token.
const PSQL_URL = "postgres://demo-agent:demo-agent-token@127.0.0.1:6432/demo?sslmode=disable";
const HTTP = "http://127.0.0.1:8080/api";
const AUTH = { Authorization: "Bearer demo-agent-token" };

let started: ChildProcess | undefined;
// A test that times out never reaches its finally: the detached make run must not outlive the suite.
afterAll(() => {
  if (started?.pid && started.exitCode === null) {
    try {
      process.kill(-started.pid, "SIGINT");
    } catch {
      // already gone
    }
  }
});

/**
 * `make run` up to its ready line. Its fixed ports (55432, 6432, 8080) lie in Linux's ephemeral range, so a
 * socket of another suite running meanwhile can hold one (CI saw PostgreSQL's bind fail, and once the test
 * give up after 12 s of quick attempts: a client connection of another suite can live that long): a run that exits on
 * "Address already in use" before it is ready is started again, up to eight times, waiting longer each time.
 */
async function makeRun(): Promise<{ child: ChildProcess; io: { stdout: string; stderr: string }; exited: Promise<number | null> }> {
  const deadline = Date.now() + 240_000;
  for (let attempt = 1; ; attempt++) {
    const child = spawn("make", ["run"], { cwd: packageRoot, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    started = child;
    const io = { stdout: "", stderr: "" };
    child.stdout!.on("data", (d: Buffer) => (io.stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (io.stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // 'close' comes once the pipes are drained too: 'exit' can come before the last of stderr is read.
    const drained = new Promise<void>((resolve) => child.on("close", () => resolve()));
    while (!io.stderr.includes("Ctrl-C stops everything")) {
      if (child.exitCode !== null) await drained;
      if (child.exitCode !== null && attempt < 8 && `${io.stderr}${io.stdout}`.includes("Address already in use")) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`make run did not come up:\n${io.stderr}\n${io.stdout}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    if (io.stderr.includes("Ctrl-C stops everything")) return { child, io, exited };
    await new Promise((r) => setTimeout(r, 1000 * attempt));
  }
}

describe("make run", () => {
  it("brings up the embedded database, the demo API and regate; Ctrl-C stops it all", async () => {
    const { child, io, exited } = await makeRun();
    try {
      expect(io.stderr).toContain(`psql "${PSQL_URL}"`);

      const masked = execFileSync("psql", [PSQL_URL, "-Atc", "SELECT email FROM customers WHERE id = 2"], { encoding: "utf8" }).trim();
      expect(masked).toMatch(/^\*\*\*@example\.\w+$/);

      const c = new pg.Client({ connectionString: PSQL_URL });
      await c.connect();
      await expect(c.query("DELETE FROM orders")).rejects.toMatchObject({ code: "42501", message: expect.stringContaining("DELETE without WHERE") });
      // Held for a reviewer (make run turns approvals on): the reviewer printed on stderr refuses it.
      const notices: string[] = [];
      c.on("notice", (n) => notices.push(n.message ?? ""));
      const held = c.query("UPDATE payments SET status = 'refunded' WHERE id = 1").then(() => undefined, (e: pg.DatabaseError) => e);
      const token = /reviewer token (\S+)/.exec(io.stderr)?.[1];
      const admin = /approvals\s+(http:\/\/127\.0\.0\.1:\d+)\/approvals\/ui/.exec(io.stderr)?.[1];
      expect(token && admin).toBeTruthy();
      let pending: { id: string } | undefined;
      for (let i = 0; i < 200 && !pending; i++) {
        const list = (await (await fetch(`${admin}/approvals?status=pending`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { approvals: { id: string }[] };
        pending = list.approvals[0];
        if (!pending) await new Promise((r) => setTimeout(r, 50));
      }
      expect(pending).toBeDefined();
      const refused = await fetch(`${admin}/approvals/${pending!.id}/refuse`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ comment: "not in the demo" }) });
      expect(refused.status).toBe(200);
      expect(await held).toMatchObject({ code: "42501", message: expect.stringContaining("not in the demo") });
      expect(notices.join("\n")).toContain(pending!.id);
      expect((await c.query("SELECT count(*)::int AS n FROM orders")).rows[0].n).toBeGreaterThan(0);
      await c.end();

      const del = await fetch(`${HTTP}/orders/1`, { method: "DELETE", headers: AUTH });
      expect(del.status).toBe(403);
      expect(await del.json()).toMatchObject({ error: "denied", reason: expect.stringContaining("DELETE requests are not allowed") });
      const get = await fetch(`${HTTP}/customers/2`, { headers: AUTH });
      expect(get.status).toBe(200);
      expect((await get.json()).email).toMatch(/^\*\*\*@/);
      expect(io.stdout).toContain('"msg":"Decision Log"');
    } finally {
      try {
        process.kill(-child.pid!, "SIGINT");
      } catch {
        // it already exited: the error above says why
      }
    }
    await exited;
    expect(io.stderr).toContain("SIGINT: stopping regate");
    // Everything it started is gone: the fixed ports are free again, the embedded database's included (make
    // exits first; the database stops a moment later, and a leaked one would hold 55432 for the next run).
    await expect(new pg.Client({ connectionString: PSQL_URL }).connect()).rejects.toThrow();
    const embeddedUp = () =>
      new Promise<boolean>((resolve) => {
        const s = connect(55432, "127.0.0.1");
        s.once("connect", () => (s.destroy(), resolve(true)));
        s.once("error", () => resolve(false));
      });
    const deadline = Date.now() + 30_000;
    while ((await embeddedUp()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await embeddedUp(), "the embedded PostgreSQL still listens on 55432 after make run exited").toBe(false);
  }, 300_000);
});
