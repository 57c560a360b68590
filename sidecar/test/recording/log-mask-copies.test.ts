// What the policy's system.log.mask keeps out of the decision log stays out of every copy regate makes: the
// copies the input holds of the same values (MCP arguments and batches read from the body, the raw query beside
// parsed_query) and the session recordings (a deny's reasons, a statement's text and Bind values). Real bundle
// (rego/ plus three mask rules a deployment might add), real PostgreSQL, real regate, real HTTP upstream; the
// recordings are read back with the CLI and must still verify.

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { recordingsCommand } from "../../src/cli/recordings.js";
import { packageRoot } from "../../src/paths.js";
import { startUpstream, type Upstream } from "../http/fixtures.js";
import { CAPABILITIES, OPA } from "../policy/opa.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";

// The example's own mask erases the body of requests on customer paths and rewrites the text of a statement
// on a PII table that holds a literal, and Bind values of such statements. These add what a deployment whose
// reasons quote what it protects, and whose queries carry e-mail addresses, would add.
const EXTRA_MASK = `package system.log

mask contains "/result/deny" if count(input.result.deny) > 0

mask contains "/input/http/parsed_query" if input.input.http.parsed_query.email

# Order statuses here are free text a customer typed: their values stay out of logs.
mask contains "/input/postgres/parameters" if {
	some s in input.input.postgres.statements
	some t in s.tables
	t.name == "orders"
}

mask contains {"op": "upsert", "path": concat("", ["/input/postgres/statements/", format_int(i, 10), "/sql"]), "value": "[order statement erased]"} if {
	some i, s in input.input.postgres.statements
	some t in s.tables
	t.name == "orders"
	contains(s.sql, "'")
}
`;

/** Values that must reach no log line, no OCSF event and no recording; none has the shape of a detector's. */
const ARGUMENT = "Zephyrine-Quill-4471";
const BATCH_ARGUMENT = "Orlando-Vantablack-0925";
const QUERY_VALUE = "Marigold-Sextant-3318";
const LITERAL = "Pelican-Brindle-7702";
const PARAMETER = "Tamarind-Gossamer-5150";
const REASONS = ["DELETE requests are not allowed", "DELETE without WHERE is not allowed"];

function buildBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), "regate-copies-"));
  cpSync(join(packageRoot, "rego"), join(dir, "rego"), { recursive: true });
  writeFileSync(join(dir, "rego", "system", "log", "deployment_mask.rego"), EXTRA_MASK);
  const out = join(dir, "bundle.tar.gz");
  execFileSync(OPA, ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", CAPABILITIES, "--ignore", "*_test.rego", "-r", "copies", "-o", out, "rego"], { cwd: dir, stdio: "pipe" });
  return out;
}

function cli(...args: string[]): { status: number; stdout: string } {
  const out: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    return { status: recordingsCommand(args, {}), stdout: out.join("") };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

let db: TestPostgres;
let upstream: Upstream;
let regate: TestRegate;
let root: string;
let dir: string;
let ocsf: string;

async function http(method: string, path: string, body?: unknown): Promise<number> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const res = await fetch(`http://127.0.0.1:${regate.app.ports.http}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${AGENT.token}`, ...(payload ? { "content-type": "application/json" } : {}) },
    ...(payload ? { body: payload } : {}),
  });
  await res.arrayBuffer();
  return res.status;
}

const rpc = (id: number, args: unknown) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "update_customer", arguments: args } });

beforeAll(async () => {
  db = await startPostgres();
  upstream = await startUpstream();
  root = mkdtempSync(join(tmpdir(), "regate-copies-run-"));
  dir = join(root, "recordings");
  ocsf = join(root, "ocsf.jsonl");
  regate = await startRegate(db, {
    policy: { bundle: buildBundle(), watch_interval_ms: 0 },
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: upstream.url }] },
    recording: { enabled: true, dir, http_idle_seconds: 1 },
    export: { ocsf: { enabled: true, sink: "file", file: ocsf } },
  });

  // An MCP call and a batch on a customer path: the example mask erases their body.
  await http("POST", "/customers/1", rpc(1, { note: ARGUMENT }));
  await http("POST", "/customers/1", [rpc(2, { note: BATCH_ARGUMENT }), rpc(3, { note: "x" })]);
  // The deployment's mask erases parsed_query when it has an e-mail parameter; the raw query is its copy.
  await http("GET", `/orders?email=${QUERY_VALUE}`);
  // A deny whose reason the deployment's mask keeps out of the log.
  await http("DELETE", "/orders/7");

  const c = new pg.Client({ connectionString: regate.url(), application_name: "copies" });
  await c.connect();
  // The decision masks no column of orders, so the recording's own rule (literals and Bind values go when
  // columns are masked: redact.ts) keeps them; the deployment's log mask does not.
  await c.query(`SELECT id FROM public.orders WHERE status = '${LITERAL}'`).catch(() => undefined);
  await c.query("SELECT id FROM public.orders WHERE status = $1", [PARAMETER]).catch(() => undefined);
  await c.query("DELETE FROM public.orders").catch(() => undefined);
  await c.end();
  await vi.waitFor(() => expect(existsSync(dir) && readdirSync(dir).filter((f) => f.endsWith(".jsonl") && f !== "journal.jsonl").length).toBeGreaterThanOrEqual(2), { timeout: 15_000, interval: 100 });
  // The HTTP groups end after a second without a request; the Postgres session ended with its client.
  await vi.waitFor(() => expect(listed().every((r) => r.end_reason !== undefined)).toBe(true), { timeout: 15_000, interval: 200 });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await upstream?.close();
  await db?.stop();
});

function listed(): { session: string; end_reason?: string }[] {
  const r = cli("list", "--dir", dir, "--json");
  return JSON.parse(r.stdout) as { session: string; end_reason?: string }[];
}

function recordingText(): string {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
}

describe("copies of what the log mask hides", () => {
  it("the decisions were taken on the real values (the test is not vacuous)", () => {
    const logged = regate.decisions().filter((d) => d["input"]?.kind === "http");
    expect(logged.length).toBeGreaterThanOrEqual(4);
    const mcp = logged.filter((d) => (d["erased"] ?? []).includes("/input/http/mcp"));
    expect(mcp.length).toBeGreaterThanOrEqual(3);
    expect(regate.decisions().some((d) => d["outcome"] === "deny" && d["input"]?.kind === "postgres")).toBe(true);
  });

  it("the decision log carries no MCP argument, batch member or raw query the mask hid", () => {
    const logs = regate.logs();
    for (const v of [ARGUMENT, BATCH_ARGUMENT, QUERY_VALUE, LITERAL, PARAMETER]) expect(logs, v).not.toContain(v);
    const batch = regate.decisions().find((d) => (d["erased"] ?? []).includes("/input/http/mcp_batch"));
    expect(batch?.["input"]?.http?.parsed_body).toBe("[erased by system.log.mask]");
    expect(batch?.["input"]?.http?.mcp).toBeUndefined();
    expect(batch?.["input"]?.http?.mcp_batch).toBeUndefined();
    const query = regate.decisions().find((d) => (d["erased"] ?? []).includes("/input/http/parsed_query"));
    expect(query?.["erased"]).toContain("/input/http/query");
  });

  it("the SIEM export carries no raw query the mask hid", () => {
    const text = readFileSync(ocsf, "utf8");
    expect(text).toContain("/api/orders");
    expect(text).not.toContain(QUERY_VALUE);
  });

  it("no recording carries a hidden argument, query value, reason, literal or Bind value", () => {
    const text = recordingText();
    expect(text).toContain('"path":"/customers/1"');
    expect(text).toContain('"message":"query"');
    for (const v of [ARGUMENT, BATCH_ARGUMENT, QUERY_VALUE, LITERAL, PARAMETER, ...REASONS]) expect(text, v).not.toContain(v);
    // The denials are still there, without their reasons; the statements with the text the log shows.
    expect(text).toContain('"outcome":"deny"');
    expect(text).toContain('"sql":"[order statement erased]"');
  });

  it("the recordings still verify and replay", () => {
    expect(cli("verify", "--dir", dir).status).toBe(0);
    for (const r of listed()) {
      const replay = cli("replay", r.session, "--dir", dir);
      expect(replay.status).toBe(0);
      for (const v of [ARGUMENT, QUERY_VALUE, LITERAL, PARAMETER, ...REASONS]) expect(replay.stdout).not.toContain(v);
    }
  });
});
