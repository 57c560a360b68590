import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../src/paths.js";
import type { Report } from "../src/whatif/index.js";
import { startUpstream, type Upstream } from "./http/fixtures.js";
import { exec, execOk } from "./support/exec.js";
import { startPostgres, type TestPostgres } from "./support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "./support/regate.js";
import { regateArgv } from "./support/compiled-regate.js";

// regate whatif (issue 18) end to end: a decision log captured from real psql, pg and HTTP sessions through
// regate, replayed by the CLI against a candidate bundle built with the real opa from a modified rego/.

const OPA = join(packageRoot, ".bin", "opa");
const OPS = { user: "ops-agent", token: "ops-agent-token-51c2" };
const UNKNOWN_KIND_RULE = 'deny contains "unknown input kind" if not input.kind in {"postgres", "http"}';

let db: TestPostgres;
let upstream: Upstream;
let dir: string;
/** Bundles: yesterday's (refunds did not need approval yet), the current one, the candidate. */
const bundles = { old: "", current: "", candidate: "", freeze: "" };
/** The captured stdout of regate: under the old bundle (gzipped, as a rotated log), then the current one. */
let oldLog: string;
let currentLog: string;
let decisionLines = 0;

/** A copy of rego/ with `edits` applied (each must match exactly once), built as `make bundle` builds it. */
async function buildBundle(name: string, edits: [file: string, from: string, to: string][]): Promise<string> {
  const src = join(dir, `rego-${name}`);
  cpSync(join(packageRoot, "rego"), src, { recursive: true });
  for (const [file, from, to] of edits) {
    const path = join(src, file);
    const text = readFileSync(path, "utf8");
    if (text.split(from).length !== 2) throw new Error(`${file}: expected exactly one ${JSON.stringify(from)}`);
    writeFileSync(path, text.replace(from, to));
  }
  const out = join(dir, `${name}.tar.gz`);
  const caps = join(packageRoot, "testdata", "opa", "wasm-capabilities.json");
  await execOk(OPA, ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", caps, "--ignore", "*_test.rego", "-r", name, "-o", out, src]);
  return out;
}

async function session(bundle: string, traffic: (regate: TestRegate, http: string) => Promise<void>): Promise<string> {
  const regate = await startRegate(db, {
    policy: { bundle },
    agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }, { subject: OPS.user, groups: ["ops"], token: { value: OPS.token } }] },
    http: {
      enabled: true,
      listen: { host: "127.0.0.1", port: 0 },
      routes: [{ name: "api", prefix: "/api", upstream: `${upstream.url}/api`, credential: { type: "bearer", secret: { value: "upstream-secret-9d1e" } } }],
    },
  });
  try {
    await traffic(regate, `http://127.0.0.1:${regate.app.ports.http!}`);
  } catch (err) {
    console.error(regate.logs().split("\n").filter((l) => /"level":"(error|warn)"/.test(l)).join("\n"));
    throw err;
  } finally {
    await regate.stop();
  }
  decisionLines += regate.decisions().length;
  return `${regate.logs()}\n`;
}

async function psql(regate: TestRegate, ...statements: string[]): Promise<void> {
  // One -c per statement: each is its own Query message and its own decision; errors do not stop psql.
  await exec("psql", [regate.url(), "-X", "-q", ...statements.flatMap((s) => ["-c", s])]);
}

async function driver(regate: TestRegate, user: { user: string; token: string }, sql: string, params: unknown[]): Promise<void> {
  const c = new pg.Client({ connectionString: regate.url(user.user, user.token) });
  await c.connect();
  try {
    await c.query(sql, params);
  } finally {
    await c.end();
  }
}

async function http(base: string, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${OPS.token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "regate-whatif-"));
  [db, upstream, bundles.old, bundles.current, bundles.candidate] = await Promise.all([
    startPostgres(),
    startUpstream(),
    buildBundle("old", [["regate/http.rego", 'approve contains "refunds need approval" if {', 'approve contains "refunds need approval" if {\n\tfalse']]),
    buildBundle("current", []),
    // Tightens one rule (orders are no longer writable) and loosens another (HTTP DELETE is no longer denied).
    buildBundle("candidate", [
      ["regate/postgres.rego", 't.name in {"orders", "payments"}', 't.name == "payments"'],
      ["regate/http.rego", 'deny contains "DELETE requests are not allowed" if {\n\treq.method == "DELETE"\n\tnot req.mcp_session_end\n}\n', ""],
    ]),
  ]);

  oldLog = await session(bundles.old, async (regate, api) => {
    await psql(regate, "SELECT id, status FROM orders WHERE id = 1");
    expect(await http(api, "POST", "/api/refunds", { order_id: 1 })).toBe(200);
  });
  // A candidate with a time rule: a change freeze from the moment between the two captures on.
  const freezeFrom = new Date().toISOString();
  const freeze = buildBundle("freeze", [["regate/decision.rego", UNKNOWN_KIND_RULE, `${UNKNOWN_KIND_RULE}\n\ndeny contains "change freeze" if input.time.rfc3339 >= "${freezeFrom}"`]]);
  currentLog = await session(bundles.current, async (regate, api) => {
    await psql(
      regate,
      "SELECT id, status FROM orders WHERE id = 1",
      "UPDATE orders SET status = status WHERE id = 1",
      "UPDATE orders SET status = status WHERE id = 2",
      "SELECT * FROM internal.api_keys",
      "SELECT email FROM customers WHERE id = 1",
    );
    // Bind parameters on a table with PII: the log mask erases them (partial input).
    await driver(regate, AGENT, "SELECT full_name FROM customers WHERE id = $1", [1]);
    await driver(regate, OPS, "UPDATE orders SET status = status WHERE id = $1", [3]);
    expect(await http(api, "GET", "/api/orders/1")).toBe(200);
    expect(await http(api, "DELETE", "/api/orders/1")).toBe(403);
    expect(await http(api, "DELETE", "/api/orders/2")).toBe(403);
    expect(await http(api, "POST", "/api/refunds", { order_id: 2 })).toBe(403);
    // A body sent to a customer endpoint: the log mask rewrites it (partial input).
    expect(await http(api, "POST", "/api/customers/1", { email: "new@example.org" })).toBe(200);
  });
  bundles.freeze = await freeze;
  writeFileSync(join(dir, "old.log.gz"), gzipSync(oldLog));
  writeFileSync(join(dir, "current.log"), currentLog);
}, 240_000);

afterAll(async () => {
  await db?.stop();
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function whatif(args: string[], input?: string) {
  return exec(process.execPath, regateArgv("whatif", ...args), input === undefined ? {} : { input });
}

const keys = (groups: { key: string; count: number }[]) => groups.map((g) => [g.key, g.count]);

describe("regate whatif on a real decision log", () => {
  it("the captured log holds the decisions and other log lines", () => {
    expect(decisionLines).toBe(14);
    expect(`${oldLog}${currentLog}`.split("\n").filter(Boolean).length).toBeGreaterThan(14);
  });

  it("reports exactly the two changed rules, by reason and by principal, with examples; --fail-on trips", async () => {
    const r = await whatif(["--bundle", bundles.candidate, "--baseline", bundles.current, "--json", "--fail-on", "deny-to-allow,allow-to-approve", join(dir, "old.log.gz"), join(dir, "current.log")]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(2);
    const report = JSON.parse(r.stdout) as Report & { fail_on: string[]; failed: string[] };
    expect(report.failed).toEqual(["deny-to-allow"]);
    expect(report.candidate.revision).toBe("candidate");
    expect(report.baseline).toEqual({ bundle: bundles.current, revision: "current" });
    expect(report).toMatchObject({ decisions: 14, compared: 11, unchanged: 6 });
    expect(report.lines_skipped).toBeGreaterThan(0);
    expect(Object.keys(report.changes)).toEqual(["allow-to-deny", "deny-to-allow"]);

    const tightened = report.changes["allow-to-deny"]!;
    expect(tightened.count).toBe(3);
    expect(keys(tightened.by_reason)).toEqual([["+ writing public.orders is not allowed", 3]]);
    expect(keys(tightened.by_principal)).toEqual([
      ["test-agent", 2],
      ["ops-agent", 1],
    ]);
    expect(tightened.by_reason[0]!.examples.map((e) => [e.principal, e.statement])).toEqual([
      ["test-agent", "UPDATE orders SET status = status WHERE id = 1"],
      ["test-agent", "UPDATE orders SET status = status WHERE id = 2"],
      ["ops-agent", "UPDATE orders SET status = status WHERE id = $1"],
    ]);
    expect(tightened.by_reason[0]!.examples[0]!.at).toMatch(/current\.log:\d+$/);

    const loosened = report.changes["deny-to-allow"]!;
    expect(loosened.count).toBe(2);
    expect(keys(loosened.by_reason)).toEqual([["- DELETE requests are not allowed", 2]]);
    expect(keys(loosened.by_principal)).toEqual([["ops-agent", 2]]);
    expect(loosened.by_principal[0]!.examples.map((e) => e.statement)).toEqual(["DELETE /orders/1", "DELETE /orders/2"]);

    // The log mask erased bind parameters of one and rewrote the body of another: reported apart, unchanged.
    expect(report.partial_input.count).toBe(2);
    expect(report.partial_input.changes).toEqual({});
    expect(report.partial_input.examples.map((e) => [e.statement, e.erased, e.masked, e.reproduced])).toEqual([
      ["SELECT full_name FROM customers WHERE id = $1", ["/input/postgres/parameters"], [], true],
      ["POST /customers/1", [], ["/input/http/parsed_body"], true],
    ]);

    // Logged under yesterday's bundle, which let refunds through: the current bundle asks for approval.
    expect(report.not_reproducible.count).toBe(1);
    expect(report.not_reproducible.examples[0]).toMatchObject({
      principal: "ops-agent",
      statement: "POST /refunds",
      logged_revision: "old",
      logged: { outcome: "allow" },
      baseline: { outcome: "approve", reasons: ["refunds need approval"] },
    });
    expect(report.not_reproducible.examples[0]!.at).toMatch(/old\.log\.gz:\d+$/);
    expect(report.unusable.count).toBe(0);
  });

  it("exits 0 when no --fail-on kind occurred; text report", async () => {
    const r = await whatif(["--bundle", bundles.candidate, "--baseline", bundles.current, "--fail-on", "allow-to-approve,mask-removed", "--examples", "1", join(dir, "old.log.gz"), join(dir, "current.log")]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("14 decisions");
    expect(r.stdout).toContain(": 11 compared, 6 unchanged, 5 changed; 2 partial input, 1 not reproducible\n");
    expect(r.stdout).toMatch(/\nallow-to-deny: 3\n  by reason:\n {7}3 {2}\+ writing public\.orders is not allowed\n {12}test-agent: UPDATE orders SET status = status WHERE id = 1 {2}\[.*current\.log:\d+ [0-9a-f-]{36}\]\n  by principal:\n {7}2 {2}test-agent\n/);
    expect(r.stdout).toMatch(/\ndeny-to-allow: 2\n  by reason:\n {7}2 {2}- DELETE requests are not allowed\n/);
    expect(r.stdout).toContain("logged allow with 4 masks (revision old); baseline approve (refunds need approval)");
  });

  it("without --baseline the logged decisions are the baseline (stdin, plain text)", async () => {
    const r = await whatif(["--bundle", bundles.candidate, "--json", "-"], `${oldLog}${currentLog}`);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.baseline).toBe("logged decisions");
    expect(report.not_reproducible.count).toBe(0);
    // The refund logged under the old bundle now shows as a change: what --baseline is there to tell apart.
    expect(Object.fromEntries(Object.entries(report.changes).map(([k, g]) => [k, g.count]))).toEqual({ "allow-to-deny": 3, "allow-to-approve": 1, "deny-to-allow": 2 });
    expect(report.changes["allow-to-approve"]!.by_reason[0]!.examples[0]!.at).toMatch(/^-:\d+$/);
  });

  it("time-dependent rules are judged at the logged time, not at replay time", async () => {
    const r = await whatif(["--bundle", bundles.freeze, "--baseline", bundles.current, "--json", join(dir, "old.log.gz"), join(dir, "current.log")]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    // Every complete decision logged after the freeze began changes; the one before it (old.log.gz) does not.
    expect(report).toMatchObject({ compared: 11, unchanged: 1 });
    expect(Object.fromEntries(Object.entries(report.changes).map(([k, g]) => [k, g.count]))).toEqual({ "allow-to-deny": 6, "approve-to-deny": 1, "reasons-changed": 3 });
    expect(keys(report.changes["allow-to-deny"]!.by_reason)).toEqual([["+ change freeze", 6]]);
    for (const g of Object.values(report.changes)) for (const e of g.by_reason.flatMap((x) => x.examples)) expect(e.at).toMatch(/current\.log:\d+$/);
  });

  it("refuses an unknown --fail-on kind and a broken bundle with exit 1", async () => {
    const typo = await whatif(["--bundle", bundles.candidate, "--fail-on", "deny-to-alow", join(dir, "current.log")]);
    expect(typo.status).toBe(1);
    expect(typo.stderr).toMatch(/^regate whatif: --fail-on: unknown kind deny-to-alow; known: /);
    const broken = join(dir, "broken.tar.gz");
    writeFileSync(broken, "not a bundle");
    const bad = await whatif(["--bundle", broken, join(dir, "current.log")]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("regate: bundle is not a gzip tarball\n");
  });
});
