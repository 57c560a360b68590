import { copyFileSync, mkdtempSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "../reliability/support/bundles.js";
import { connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, Raw, sync } from "../support/raw-pg.js";
import { BUNDLE, startRegate, type TestRegate } from "../support/regate.js";
import { until } from "../support/wait.js";

// A named prepared statement without parameters is decided at its Parse. node-postgres (a `name`), JDBC
// (after prepareThreshold executions) and others then run it again with Bind/Execute only. Each of those
// executions must be decided as a cold regate would decide it now, and logged: the decision taken at
// Parse may be reused only as the policy's `cache` directive allows (same bundle, within ttl_seconds),
// and vetoes (budgets, locks) apply to every execution.

let db: TestPostgres;

beforeAll(async () => {
  db = await startPostgres();
});

afterAll(async () => {
  await db?.stop();
});

const connect = (r: TestRegate): Promise<pg.Client> => connectClient(r.url());

const named = (name: string, text: string) => ({ name, text });

describe("a named prepared statement without parameters, run again by Bind/Execute", () => {
  it("every execution has its own decision line", async () => {
    const r = await startRegate(db);
    const c = await connect(r);
    try {
      const sql = "SELECT id FROM orders ORDER BY id LIMIT 1";
      for (let i = 0; i < 5; i++) await c.query(named("audit_lines", sql));
      const lines = r.decisions().filter((d) => d["input"]?.postgres?.statements?.[0]?.sql === sql);
      expect(lines).toHaveLength(5);
      expect(new Set(lines.map((d) => d["decision_id"])).size).toBe(5);
      // Evaluated or reused as the policy allows; a reuse names an evaluated decision of this statement.
      const evaluated = new Set(lines.filter((d) => d["reused_from"] === undefined).map((d) => d["decision_id"]));
      expect(lines.every((d) => d["reused_from"] === undefined || evaluated.has(d["reused_from"]))).toBe(true);
      expect(lines.filter((d) => d["reused_from"] !== undefined).length).toBeGreaterThanOrEqual(3);
    } finally {
      await c.end();
      await r.stop();
    }
  });

  it("statements_per_minute counts every execution", async () => {
    const r = await startRegate(db, { postgres: { budgets: { statements_per_minute: 3 } } });
    const c = await connect(r);
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 6; i++) {
        outcomes.push(
          await c.query(named("audit_budget", "SELECT 1 AS one")).then(
            () => "ok",
            (e: pg.DatabaseError) => e.code ?? "?",
          ),
        );
      }
      expect(outcomes).toEqual(["ok", "ok", "ok", "54000", "54000", "54000"]);
    } finally {
      await c.end();
      await r.stop();
    }
  });

  it("a new bundle decides the next execution (the old revision's decision is not reused)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-prepared-audit-"));
    const path = join(dir, "bundle.tar.gz");
    copyFileSync(BUNDLE, path);
    const closed = buildBundle("orders-closed", {
      "closed.rego": `package regate

deny contains "orders are closed" if {
	some s in input.postgres.statements
	some t in s.tables
	t.name == "orders"
}
`,
    });
    const r = await startRegate(db, { policy: { bundle: path, watch_interval_ms: 100 } });
    const c = await connect(r);
    try {
      const sql = "SELECT id FROM orders ORDER BY id LIMIT 1";
      await c.query(named("audit_reload", sql));
      copyFileSync(closed, join(dir, "next"));
      renameSync(join(dir, "next"), path);
      await until(() => r.app.store.active?.revision === "orders-closed");
      // A cold regate (a fresh session) refuses it now...
      const fresh = await connect(r);
      await expect(fresh.query(sql)).rejects.toMatchObject({ code: "42501" });
      await fresh.end();
      // ...and so must the session that prepared it under the old bundle.
      await expect(c.query(named("audit_reload", sql))).rejects.toMatchObject({ code: "42501" });
    } finally {
      await c.end().catch(() => undefined);
      await r.stop();
    }
  });

  it("a lock refuses the next execution once the lock is in place", async () => {
    const r = await startRegate(db);
    const c = await connect(r);
    const amount = async () => Number((await db.query("SELECT amount FROM public.orders WHERE id = 1"))[0].amount);
    try {
      // orders is writable with a WHERE: each execution that ran moved the amount by one.
      const before = await amount();
      const bump = "UPDATE orders SET amount = amount + 1 WHERE id = 1";
      await c.query(named("audit_lock", bump));
      await r.app.locks.add({ target: { principal: "test-agent" }, message: "audit lock" }, "auditor");
      // The lock is in place: no statement of this agent may run from now on.
      await c.query(named("audit_lock", bump)).catch(() => undefined);
      expect((await amount()) - before).toBe(1);
    } finally {
      await c.end().catch(() => undefined);
      await r.stop();
    }
  });
});

describe("two executions of one Parse in one batch (Parse, Bind, Execute, Bind, Execute, Sync)", () => {
  it("each execution is decided and logged; statements_per_minute counts both", async () => {
    const r = await startRegate(db, { postgres: { budgets: { statements_per_minute: 1 } } });
    const c = await Raw.open(r.url());
    try {
      const sql = "SELECT 42 AS answer";
      c.send(parse(sql, "twice"), bind("twice"), execute(), bind("twice"), execute(), sync());
      const replies = await c.readies(1);
      const rows = replies.filter((m) => m.type === "D").length;
      const errors = replies.filter((m) => m.type === "E").map((m) => m.body.toString("utf8").split("\0").find((f) => f.startsWith("C")));
      // The budget admits one statement a minute: the second execution is refused, not run.
      expect(rows).toBe(1);
      expect(errors).toEqual(["C54000"]);
      const lines = r.decisions().filter((d) => d["input"]?.postgres?.statements?.[0]?.sql === sql);
      expect(lines).toHaveLength(2);
    } finally {
      c.close();
      await r.stop();
    }
  });
});
