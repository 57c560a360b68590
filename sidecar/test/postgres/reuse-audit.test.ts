import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { buildBundle, OPA } from "../reliability/support/bundles.js";
import { connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { until } from "../support/wait.js";

// An attacker's audit of decision reuse (issue 15): a reused decision must be the decision a cold regate
// would take for the same input, judged by what the client sees and by the decision log.

let db: TestPostgres;

beforeAll(async () => {
  db = await startPostgres();
});

afterAll(async () => {
  await db?.stop();
});

const connect = (r: TestRegate): Promise<pg.Client> => connectClient(r.url());

const CLOSED = `package regate

deny contains "orders are closed" if {
	some s in input.postgres.statements
	some t in s.tables
	t.name == "orders"
}
`;

describe("decision reuse across a bundle reload", () => {
  it("a new bundle with the same revision string (make bundle twice on a dirty tree) is not served the old decisions", async () => {
    // `make bundle` names the revision after the commit (`<sha>-dirty` while rego/ is edited): two different
    // policies may carry one revision. The bundle's bytes differ, so regate loads the new one; its decisions
    // must be the new policy's.
    const dir = mkdtempSync(join(tmpdir(), "regate-reuse-audit-"));
    const path = join(dir, "bundle.tar.gz");
    copyFileSync(buildBundle("same-rev", {}), path);
    const closed = buildBundle("same-rev", { "closed.rego": CLOSED });
    const r = await startRegate(db, { policy: { bundle: path, watch_interval_ms: 100 } });
    const c = await connect(r);
    try {
      const sql = "SELECT id FROM orders ORDER BY id LIMIT 1";
      expect((await c.query(sql)).rows).toHaveLength(1);
      expect((await c.query("SELECT id FROM orders WHERE id = $1", [1])).rows).toHaveLength(1);
      const loaded = r.app.store.active;
      copyFileSync(closed, join(dir, "next"));
      renameSync(join(dir, "next"), path);
      await until(() => r.app.store.active !== loaded);
      expect(r.app.store.active?.revision).toBe("same-rev");
      const fresh = await connect(r);
      await expect(fresh.query(sql)).rejects.toMatchObject({ code: "42501" });
      await fresh.end();
      await expect(c.query(sql)).rejects.toMatchObject({ code: "42501" });
      // The new bundle's decision is kept in place of the old one, and reused.
      await expect(c.query(sql)).rejects.toMatchObject({ code: "42501" });
      const last = r.decisions().filter((d) => d["input"]?.postgres?.statements?.[0]?.sql === sql).slice(-2);
      expect(last[0]!["reused_from"]).toBeUndefined();
      expect(last[1]!["reused_from"]).toBe(last[0]!["decision_id"]);
      await expect(c.query("SELECT id FROM orders WHERE id = $1", [2])).rejects.toMatchObject({ code: "42501" });
      // Other constants, same template.
      await expect(c.query("SELECT id FROM orders ORDER BY id LIMIT 2")).rejects.toMatchObject({ code: "42501" });
    } finally {
      await c.end().catch(() => undefined);
      await r.stop();
    }
  });
});

/** The example policy with its cache directive's ttl_seconds set to `ttl`, plus `extra` rego files. */
function exampleWithTtl(ttl: number, extra: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "regate-ttl-bundle-"));
  cpSync(join(packageRoot, "rego"), join(dir, "rego"), { recursive: true });
  const decision = join(dir, "rego", "regate", "decision.rego");
  writeFileSync(decision, readFileSync(decision, "utf8").replaceAll('"ttl_seconds": 60', `"ttl_seconds": ${ttl}`));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, "rego", "regate", name), text);
  const out = join(dir, "bundle.tar.gz");
  execFileSync(OPA, ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", join(packageRoot, "testdata", "opa", "wasm-capabilities.json"), "--ignore", "*_test.rego", "-r", `ttl-${ttl}`, "-o", out, join(dir, "rego")], { stdio: "pipe", timeout: 120_000 });
  return out;
}

describe("reuse scope: ttl_seconds and the principal", () => {
  it("a decision is not reused past its ttl_seconds, nor by another agent whose groups the policy reads", async () => {
    const bundle = exampleWithTtl(1, {
      "audit_groups.rego": `package regate

deny contains "read-only agents may not write" if {
	"read-only" in input.session.principal.groups
	some s in input.postgres.statements
	some t in s.tables
	t.access == "write"
}
`,
    });
    const r = await startRegate(db, {
      policy: { bundle },
      agents: {
        tokens: [
          { subject: "test-agent", groups: ["agents"], token: { value: "agent-token-7f3a9c" } },
          { subject: "ro-agent", groups: ["agents", "read-only"], token: { value: "ro-agent-token-51d0e2" } },
        ],
      },
    });
    try {
      const sql = "UPDATE orders SET amount = amount WHERE id = 7";
      const a = await connect(r);
      const other = (id: number) => `UPDATE orders SET amount = amount WHERE id = ${id}`;
      const pause = () => new Promise((res) => setTimeout(res, 1200));
      // The same text: reused, then evaluated again once the ttl has passed.
      await a.query(sql);
      await a.query(sql);
      await pause();
      await a.query(sql);
      // Other constants (the template is learnt by then): reused through the template, and not past the ttl.
      await a.query(other(8));
      await a.query(other(9));
      await pause();
      await a.query(other(10));
      await a.query(other(11));
      await a.end();
      const lines = r.decisions().filter((d) => String(d["input"]?.postgres?.statements?.[0]?.sql).startsWith("UPDATE orders SET amount = amount WHERE id = "));
      const reused = lines.map((d) => d["reused_from"] !== undefined);
      expect(lines).toHaveLength(7);
      expect([reused[0], reused[1], reused[2]]).toEqual([false, true, false]);
      expect(reused[4]).toBe(true);
      expect([reused[5], reused[6]]).toEqual([false, true]);
      expect(lines[6]!["reused_from"]).toBe(lines[5]!["decision_id"]);
      const ro = new pg.Client({ connectionString: r.url("ro-agent", "ro-agent-token-51d0e2") });
      ro.on("error", () => undefined);
      await ro.connect();
      await expect(ro.query(sql)).rejects.toMatchObject({ code: "42501" });
      await ro.end();
    } finally {
      await r.stop();
    }
  });
});

describe("statements that differ only in constants: warm = cold", () => {
  // [first, then]: the second is run on a connection that just ran the first (its analysis and decision may
  // be shared through the template) and on a fresh connection; outcome, rows and logged decision must match.
  const pairs: [string, string][] = [
    ["SELECT full_name, ssn FROM customers ORDER BY 1 LIMIT 3", "SELECT full_name, ssn FROM customers ORDER BY 2 LIMIT 3"],
    ["SELECT id, email FROM customers ORDER BY 1 LIMIT 2 OFFSET 0", "SELECT id, email FROM customers ORDER BY 2 LIMIT 2 OFFSET 5"],
    ["SELECT count(*) FROM pg_class WHERE oid = 'public.orders'::regclass", "SELECT count(*) FROM pg_class WHERE oid = 'internal.api_keys'::regclass"],
    ["SELECT to_regclass('public.orders')", "SELECT to_regclass('internal.api_keys')"],
    ["SELECT pg_relation_size('public.orders') > -1", "SELECT pg_relation_size('internal.api_keys') > -1"],
    ["SELECT currval('public.orders_id_seq') IS NULL", "SELECT currval('internal.api_keys_id_seq') IS NULL"],
    ["SELECT has_table_privilege('public.orders', 'SELECT')", "SELECT has_table_privilege('internal.api_keys', 'SELECT')"],
    ["SELECT current_setting('application_name')", "SELECT current_setting('search_path')"],
    ["SELECT format('%s', 'x')", "SELECT format('%I', 'internal.api_keys')"],
    ["SELECT id FROM orders WHERE status = 'paid' LIMIT 1", "SELECT id FROM orders WHERE status = 'x'' OR ''1''=''1' LIMIT 1"],
    ["SELECT id FROM orders WHERE status = '$1' LIMIT 1", "SELECT id FROM orders WHERE status = '$2' LIMIT 1"],
    ["SELECT 1 AS a", "SELECT 1e400 AS a"],
    ["SELECT id FROM orders WHERE id = 1", "SELECT id FROM orders WHERE id = 99999999999999999999999999"],
    ["SELECT xmlparse(document '<a/>')", "SELECT xmlparse(document '<a>&secret;</a>')"],
    ["SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', status) FROM orders') LIMIT 1", "SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', secret) FROM internal.api_keys') LIMIT 1"],
    ["SELECT 'public.orders'::regclass::oid > 0", "SELECT 'internal.api_keys'::regclass::oid > 0"],
    ["SELECT email FROM customers WHERE id = 1", "SELECT email FROM customers WHERE id = 2"],
    ["SELECT (SELECT email FROM customers WHERE id = 1) AS e", "SELECT (SELECT email FROM customers WHERE id = 2) AS e"],
    ["SELECT json_extract_path_text(row_to_json(c), 'full_name') FROM customers c WHERE id = 1", "SELECT json_extract_path_text(row_to_json(c), 'ssn') FROM customers c WHERE id = 1"],
    ["SELECT to_json(c) ->> 'full_name' FROM customers c WHERE id = 1", "SELECT to_json(c) ->> 'ssn' FROM customers c WHERE id = 1"],
    ["SELECT (c).full_name FROM (SELECT c FROM customers c WHERE id = 1) s", "SELECT (c).ssn FROM (SELECT c FROM customers c WHERE id = 1) s"],
    ["SELECT substr(full_name, 1, 3) FROM customers WHERE id = 1", "SELECT substr(ssn, 1, 3) FROM customers WHERE id = 1"],
  ];

  it("outcome, rows and decision", async () => {
    const r = await startRegate(db);
    const mismatches: string[] = [];
    try {
      const decisionOf = (sql: string) => {
        const d = r.decisions().filter((x) => x["input"]?.postgres?.statements?.[0]?.sql === sql).at(-1);
        return d ? { outcome: d["outcome"], reasons: d["reasons"], mask: d["result"]?.mask } : undefined;
      };
      for (const [first, then] of pairs) {
        const warm = await connect(r);
        const w1 = await outcome(warm, first);
        const w = await outcome(warm, then);
        const wd = decisionOf(then);
        const w2 = await outcome(warm, then);
        await warm.end();
        const cold = await connect(r);
        const c = await outcome(cold, then);
        const cd = decisionOf(then);
        await cold.end();
        if (JSON.stringify([w, w2, wd]) !== JSON.stringify([c, c, cd])) {
          mismatches.push(`${first} (${JSON.stringify(w1)}) then ${then}: warm ${JSON.stringify([w, w2, wd])} cold ${JSON.stringify([c, cd])}`);
        }
      }
    } finally {
      await r.stop();
    }
    expect(mismatches).toEqual([]);
  }, 120_000);
});

async function outcome(c: pg.Client, sql: string): Promise<{ ok: true; rows: string } | { ok: false; code: string; message: string }> {
  try {
    return { ok: true, rows: JSON.stringify((await c.query(sql)).rows) };
  } catch (e) {
    const err = e as pg.DatabaseError;
    return { ok: false, code: err.code ?? "?", message: err.message.replace(/\(decision [0-9a-f-]+\)/, "") };
  }
}
