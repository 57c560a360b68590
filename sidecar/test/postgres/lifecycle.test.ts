import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { BUNDLE, startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let dir: string;

beforeAll(async () => {
  db = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "regate-life-"));
});

afterAll(async () => {
  await db?.stop();
});

async function run(regate: TestRegate, sql: string, params?: unknown[]): Promise<{ rows?: unknown[]; code?: string }> {
  const c = new pg.Client({ connectionString: regate.url() });
  await c.connect();
  try {
    return { rows: (await c.query(sql, params)).rows };
  } catch (e) {
    return { code: (e as pg.DatabaseError).code };
  } finally {
    await c.end();
  }
}

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe("hot reload while serving", () => {
  it("a corrupt bundle is refused and the old revision keeps deciding; a good one takes over", async () => {
    const path = join(dir, "bundle.tar.gz");
    copyFileSync(BUNDLE, path);
    const regate = await startRegate(db, { policy: { bundle: path, watch_interval_ms: 100 } });
    try {
      const first = regate.app.store.active!.revision;
      expect((await run(regate, "SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);

      writeFileSync(join(dir, "tmp"), "this is not a bundle");
      renameSync(join(dir, "tmp"), path);
      await until(() => regate.logs().includes("new policy bundle refused"));
      expect((await run(regate, "SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
      expect((await run(regate, "DELETE FROM orders")).code).toBe("42501");
      expect(regate.decisions().at(-1)!.bundles.regate.revision).toBe(first);

      // A new revision of the example policy, built by the real opa CLI.
      const next = join(dir, "next.tar.gz");
      execFileSync(join(packageRoot, ".bin/opa"), ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", join(packageRoot, "testdata/opa/wasm-capabilities.json"), "--ignore", "*_test.rego", "-r", "reloaded-rev-2", "-o", next, join(packageRoot, "rego")], { stdio: "pipe" });
      renameSync(next, path);
      await until(() => regate.app.store.active?.revision === "reloaded-rev-2");
      expect((await run(regate, "SELECT 3 AS three")).rows).toEqual([{ three: 3 }]);
      expect(regate.decisions().at(-1)!.bundles.regate.revision).toBe("reloaded-rev-2");
    } finally {
      await regate.stop();
    }
  });
});

describe("decision logs", () => {
  it("system.log.mask erases bind parameters of statements on PII tables", async () => {
    const regate = await startRegate(db);
    try {
      await run(regate, "SELECT id FROM customers WHERE email = $1", ["someone@example.com"]);
      const d = regate.decisions().find((x) => x.input?.postgres?.message === "bind");
      expect(d).toBeDefined();
      expect(d!.input.postgres.parameters).toBeUndefined();
      expect(d!.erased).toEqual(["/input/postgres/parameters"]);
      expect(regate.logs()).not.toContain("someone@example.com");
      await run(regate, "SELECT id FROM orders WHERE status = $1", ["paid"]);
      const o = regate.decisions().filter((x) => x.input?.postgres?.message === "bind").at(-1);
      expect(o!.input.postgres.parameters).toEqual([{ value: "paid", format: "text", type_oid: 0 }]);
    } finally {
      await regate.stop();
    }
  });

  it("dry-run logs the real decision and lets the statement through", async () => {
    const regate = await startRegate(db, { policy: { dry_run: true } });
    try {
      const before = await db.query("SELECT status FROM payments WHERE id = 3");
      const other = before[0].status === "refunded" ? "captured" : "refunded";
      const r = await run(regate, `UPDATE payments SET status = '${other}' WHERE id = 3`);
      expect(r.code).toBeUndefined();
      const d = regate.decisions().at(-1)!;
      expect(d.dry_run).toBe(true);
      expect(d.outcome).toBe("approve");
      await db.query("UPDATE payments SET status = $1 WHERE id = 3", [before[0].status]);
    } finally {
      await regate.stop();
    }
  });
});

describe("admin listener", () => {
  it("serves healthz, readyz (bundle and upstream) and Prometheus metrics", async () => {
    const regate = await startRegate(db, { admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } } });
    try {
      const base = `http://127.0.0.1:${regate.app.ports.admin}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      await run(regate, "SELECT 1");
      await run(regate, "DELETE FROM orders");
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/regate_decisions_total\{outcome="allow",kind="postgres"\} \d+/);
      expect(metrics).toMatch(/regate_decisions_total\{outcome="deny",kind="postgres"\} \d+/);
      expect(metrics).toContain("regate_decision_duration_seconds_bucket");
      expect(metrics).toMatch(/regate_bundle_info\{revision="[^"]+"\} 1/);
      expect(metrics).toContain("regate_active_sessions");
    } finally {
      await regate.stop();
    }
    const down = await startRegate(db, { admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } }, postgres: { upstream: { port: 1 } } });
    try {
      const r = await fetch(`http://127.0.0.1:${down.app.ports.admin}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ problems: ["postgres upstream unreachable"] });
    } finally {
      await down.stop();
    }
  });
});
