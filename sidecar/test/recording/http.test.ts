import { Agent, request } from "node:http";
import { readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { recordingsCommand } from "../../src/cli/recordings.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { AGENT_TOKEN, CUSTOMER, rawRequest, startUpstream, UPSTREAM_SECRET, type Upstream } from "../http/fixtures.js";
import { BUNDLE } from "../support/regate.js";
import { keepOutput, outputDir, writeSecrets } from "../support/test-output.js";

// HTTP requests through regate with recording on, read back with `regate recordings`: the same sequence the
// agent saw, grouped by connection and by MCP session; no protected value and no secret in any file. The
// directory is under build/test-output/, where the suite's secrets sweep greps it.

async function cli(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => (err.push(String(s)), true));
  try {
    return { status: recordingsCommand(args, {}), stdout: out.join(""), stderr: err.join("") };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const dir = join(outputDir("suite", "recording-http"), "recordings");
let upstream: Upstream;
let app: App;
const lines: string[] = [];
const seen: { method: string; path: string; status: number; body: number }[] = [];
const MCP_SESSION = "mcp-session-4f1e2d3c";

/** One keep-alive connection for all requests (what an agent's HTTP client does), so one recording. */
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<number> {
  const payload = body !== undefined ? JSON.stringify(body) : undefined;
  let got = 0;
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      `http://127.0.0.1:${app.ports.http}/api${path}`,
      { method, agent: keepAlive, headers: { authorization: `Bearer ${AGENT_TOKEN}`, ...(payload !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) } : {}), ...headers } },
      (res) => {
        res.on("data", (c: Buffer) => (got += c.length));
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
  if (!headers["mcp-session-id"]) seen.push({ method, path, status, body: got });
  return status;
}

beforeAll(async () => {
  upstream = await startUpstream();
  const config = loadConfig({
    text: stringify({
      policy: { bundle: BUNDLE, watch_interval_ms: 0 },
      agents: { tokens: [{ subject: "support-bot", groups: ["support"], token: { value: AGENT_TOKEN } }] },
      postgres: { enabled: false },
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: upstream.url, credential: { type: "bearer", secret: { value: UPSTREAM_SECRET } } }] },
      admin: { enabled: false },
      recording: { enabled: true, dir, http_idle_seconds: 2, checkpoint_records: 3 },
    }),
    env: {},
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) lines.push(`${line}\n`);
      cb();
    },
  });
  app = await startApp({ config, log: createLogger({ level: "info", destination: sink }) });
  writeSecrets(join(dir, ".."), [AGENT_TOKEN, UPSTREAM_SECRET]);

  // One keep-alive connection (fetch reuses it): a GET whose response is masked, a POST whose body carries
  // protected values and secrets the agent typed, a DELETE the policy refuses.
  await call("GET", "/customers/1");
  await call("POST", "/orders?email=" + encodeURIComponent(CUSTOMER.email), {
    email: CUSTOMER.email,
    ssn: CUSTOMER.ssn,
    note: `card ${CUSTOMER.card_number}, my token is ${AGENT_TOKEN}, theirs ${UPSTREAM_SECRET}`,
    items: [{ sku: "A-1", qty: 2 }],
  });
  await call("DELETE", "/orders/7");
  // An MCP client's session, told apart by its Mcp-Session-Id.
  const rpc = (id: number, name: string, args: unknown) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
  await call("POST", "/mcp", rpc(1, "lookup_customer", { email: CUSTOMER.email }), { "mcp-session-id": MCP_SESSION });
  await call("POST", "/mcp", rpc(2, "delete_customer", { id: 1 }), { "mcp-session-id": MCP_SESSION });
  // Both groups end after two seconds without a request.
  await vi.waitFor(() => expect(listed().filter((r) => r.end_reason === "idle")).toHaveLength(2), { timeout: 15_000, interval: 200 });
}, 60_000);

afterAll(async () => {
  keepAlive.destroy();
  await app?.close();
  await upstream?.close();
  keepOutput("suite", "recording-http-log", lines.join(""), [AGENT_TOKEN, UPSTREAM_SECRET]);
});

type Row = { session: string; protocol?: string; application_name?: string; statements: number; refused: number; end_reason?: string };
function listed(): Row[] {
  const out: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  try {
    recordingsCommand(["list", "--dir", dir, "--json"], {});
  } finally {
    o.mockRestore();
  }
  return JSON.parse(out.join("")) as Row[];
}

describe("recording HTTP requests", () => {
  it("replay shows the connection's requests, decisions and statuses in the order the agent saw them", async () => {
    const conn = listed().find((r) => r.protocol === "http" && !r.application_name)!;
    expect(conn).toMatchObject({ statements: 3, refused: 1, end_reason: "idle" });
    const replay = await cli("replay", conn.session, "--dir", dir, "--json");
    expect(replay.stderr).toBe("");
    const records = JSON.parse(replay.stdout) as Record<string, any>[];
    expect(records[0]).toMatchObject({ type: "start", protocol: "http", principal: { subject: "support-bot" }, target: "api" });
    const requests = records.filter((r) => r["type"] === "request");
    const responses = records.filter((r) => r["type"] === "response");
    expect(requests.map((r) => `${r["request"].method} ${r["request"].path}`)).toEqual(["GET /customers/1", "POST /orders", "DELETE /orders/7"]);
    expect(requests.map((r) => r["decision"].outcome)).toEqual(["allow", "allow", "deny"]);
    expect(responses.map((r) => r["status"])).toEqual(seen.map((s) => s.status));
    expect(seen.map((s) => s.status)).toEqual([200, 200, 403]);
    // Each response follows its request and names the same decision.
    for (const [i, r] of requests.entries()) expect(responses[i]!["decision_id"]).toBe(r["decision"].decision_id);
    expect(responses[0]).toMatchObject({ masked: true });
    // Bytes on the agent's connection: the body it read plus the status line and headers.
    for (const [i, r] of responses.entries()) expect(r["bytes"]).toBeGreaterThan(seen[i]!.body + 60);
    const total = responses.reduce((n, r) => n + Number(r["bytes"]), 0);
    expect(records.at(-1)).toMatchObject({ type: "end", reason: "idle", requests: 3, refused: 1, bytes: total });

    // The POST body as recorded: fields the decision masks replaced whole, detectors over the rest, secrets gone.
    const post = requests[1]!["request"];
    expect(post.body.email).toBe("****");
    expect(post.body.ssn).toBe("****");
    expect(post.body.items).toEqual([{ sku: "A-1", qty: 2 }]);
    expect(post.body.note).toBe("card ****, my token is ****, theirs ****");
    expect(post.query).toEqual({ email: "****" });

    const text = await cli("replay", conn.session, "--dir", dir);
    const timeline = text.stdout.trim().split("\n");
    expect(timeline[0]).toMatch(/START .*principal support-bot/);
    expect(timeline[1]).toMatch(/ALLOW {2}GET \[api\] \/customers\/1 /);
    expect(timeline[2]).toMatch(/-> HTTP 200 .* masked/);
    expect(timeline[5]).toMatch(/DENY {2}DELETE \[api\] \/orders\/7 .*DELETE requests are not allowed/);
    expect(timeline[6]).toMatch(/-> HTTP 403/);
  });

  it("an MCP session is a recording of its own, with each tool call and its decision", async () => {
    const mcp = listed().find((r) => r.application_name?.startsWith("mcp-session "))!;
    expect(mcp).toMatchObject({ statements: 2, refused: 1 });
    // The MCP session id is kept as a hash prefix: enough to group by, not enough to take the session over.
    expect(readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8")).join("")).not.toContain(MCP_SESSION);
    const records = JSON.parse((await cli("replay", mcp.session, "--dir", dir, "--json")).stdout) as Record<string, any>[];
    const requests = records.filter((r) => r["type"] === "request");
    expect(requests.map((r) => [r["request"].mcp.tool, r["decision"].outcome])).toEqual([
      ["lookup_customer", "allow"],
      ["delete_customer", "deny"],
    ]);
    expect(requests[0]!["request"].mcp.arguments).toEqual({ email: "****" });
  });

  it("verify passes, and the journal holds periodic checkpoints of each session", async () => {
    const v = await cli("verify", "--dir", dir);
    expect(v.stdout).toMatch(/^ok: 2 recordings/m);
    expect(v.status).toBe(0);
    const journal = readFileSync(join(dir, "journal.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(journal.filter((r) => r["type"] === "checkpoint").length).toBeGreaterThanOrEqual(2);
  });

  it("no file holds a protected value or a secret", () => {
    const all = readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
    for (const v of [CUSTOMER.email, CUSTOMER.ssn, CUSTOMER.card_number, CUSTOMER.phone, AGENT_TOKEN, UPSTREAM_SECRET, Buffer.from(AGENT_TOKEN).toString("base64").replace(/=+$/, "")]) {
      expect(all).not.toContain(v);
    }
  });

  it("a connection's recording ends when the connection closes (reason client)", async () => {
    const before = listed().filter((r) => r.end_reason === "client").length;
    // agent: false: one request on a connection of its own, closed after the response.
    const res = await rawRequest(`http://127.0.0.1:${app.ports.http}/api/orders/5`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(listed().filter((r) => r.end_reason === "client")).toHaveLength(before + 1), { timeout: 5000, interval: 50 });
    const ended = listed().filter((r) => r.end_reason === "client").at(-1)!;
    expect(ended).toMatchObject({ protocol: "http", statements: 1, refused: 0 });
  });

  it("a request whose record cannot be written is refused (503 RECORDING_UNAVAILABLE) and not forwarded, until recording works again", async () => {
    const before = upstream.requests.length;
    const away = `${dir}.away`;
    renameSync(dir, away);
    try {
      // A new connection is a new recording: its file cannot be created.
      const refused = await rawRequest(`http://127.0.0.1:${app.ports.http}/api/orders`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body.toString("utf8"))).toMatchObject({ code: "RECORDING_UNAVAILABLE" });
    } finally {
      renameSync(away, dir);
    }
    expect(upstream.requests.length).toBe(before);
    // The next decision is refused but recorded, which is how recovery is seen; the one after goes through.
    expect((await rawRequest(`http://127.0.0.1:${app.ports.http}/api/orders`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } })).status).toBe(503);
    expect((await rawRequest(`http://127.0.0.1:${app.ports.http}/api/orders`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } })).status).toBe(200);
  });
});
