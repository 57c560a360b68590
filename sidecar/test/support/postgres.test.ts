import { existsSync } from "node:fs";
import { createServer } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_COUNTS } from "../../../testdata/demo/generate.js";
import { freePort, startPostgres, type TestPostgres } from "./postgres.js";

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
