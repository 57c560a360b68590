import { Agent, request } from "node:http";
import { Writable } from "node:stream";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { recordingsCommand } from "../../src/cli/recordings.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { MCP_GROUPS_PER_AGENT } from "../../src/recording/http.js";
import { AGENT_TOKEN, startUpstream, UPSTREAM_SECRET, type Upstream } from "../http/fixtures.js";
import { BUNDLE } from "../support/regate.js";
import { outputDir } from "../support/test-output.js";

// Red-team pass 4 on recordings, through real regate and a real HTTP upstream, read back with the CLI a
// responder uses.
// - The agent chooses the names of the JSON members it sends: a member named `__proto__` (what a prototype-
//   pollution payload for a JavaScript upstream looks like) and two names that redact to the same `****` were
//   left out of the record while the upstream got them; every member must be recorded.
// - Every string the agent chose goes through the detectors: the MCP `id` and the content type kept an
//   e-mail address in clear that the body's copy had redacted.
// - A byte of a record changed into invalid UTF-8 (where the record held a U+FFFD) decoded to the same text,
//   hashed the same, and verified: verify must judge the file's bytes.
// - Each `Mcp-Session-Id` the agent names opened a recording (an open file) for http_idle_seconds: one agent
//   sending fresh ids held a file descriptor per request until regate ran out of them and every agent was
//   refused. An agent's MCP recordings are bounded; the one unused the longest is ended `evicted`.

const dir = join(outputDir("suite", "recording-redteam-4"), "recordings");
let upstream: Upstream;
let app: App;

/** A request on one keep-alive connection, in the MCP session `mcp`. */
function mcpCall(agent: Agent, mcp: string, marker: string): Promise<number> {
  const raw = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "lookup_customer", arguments: { q: marker } } });
  return new Promise<number>((resolve, reject) => {
    const req = request(
      `http://127.0.0.1:${app.ports.http}/api/mcp`,
      { method: "POST", agent, headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", "content-length": String(Buffer.byteLength(raw)), "mcp-session-id": mcp } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(raw);
  });
}

/** One request on a connection of its own, closed after the response: one recording, ended `client`. */
function post(path: string, raw: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request(
      `http://127.0.0.1:${app.ports.http}/api${path}`,
      { method: "POST", agent: new Agent({ keepAlive: false }), headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", "content-length": String(Buffer.byteLength(raw)), connection: "close", ...headers } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(raw);
  });
}

async function cli(...args: string[]): Promise<{ status: number; stdout: string }> {
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

type Rec = Record<string, unknown> & { type: string; request?: { body?: Record<string, unknown>; mcp?: Record<string, unknown>; content_type?: string } };

/** The file (and its records) of the ended recording whose request carried `marker`. */
async function recordingWith(marker: string): Promise<{ file: string; records: Rec[] }> {
  let found: { file: string; records: Rec[] } | undefined;
  await vi.waitFor(
    () => {
      for (const file of readdirSync(dir).filter((n) => n.endsWith(".jsonl") && n !== "journal.jsonl")) {
        const text = readFileSync(join(dir, file), "utf8");
        if (!text.includes(marker)) continue;
        const records = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Rec);
        if (records.at(-1)?.type === "end") found = { file, records };
      }
      expect(found).toBeDefined();
    },
    { timeout: 10_000, interval: 50 },
  );
  return found!;
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
      recording: { enabled: true, dir, http_idle_seconds: 60 },
    }),
    env: {},
  });
  app = await startApp({ config, log: createLogger({ level: "info", destination: new Writable({ write: (_c, _e, cb) => cb() }) }) });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await upstream?.close();
});

describe("what the agent sent is all in the recording", () => {
  it("records a member named __proto__ and both members whose names redact alike", async () => {
    const raw = `{"__proto__":{"cmd":"DROP TABLE orders"},"a@example.com":"first","b@example.org":"second","marker":"rt4-proto"}`;
    expect(await post("/orders", raw)).toBe(200);
    // What the upstream got: every member.
    expect(upstream.requests.at(-1)?.body).toBe(raw);
    const { file, records } = await recordingWith("rt4-proto");
    const body = records.find((r) => r.type === "request")!.request!.body!;
    expect(Object.prototype.hasOwnProperty.call(body, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(body, "__proto__")!.value).toEqual({ cmd: "DROP TABLE orders" });
    // Both values, under the redacted name and the same name suffixed; neither address in clear.
    expect(body).toMatchObject({ "****": "first", "**** (2)": "second", marker: "rt4-proto" });
    expect(readFileSync(join(dir, file), "utf8")).not.toMatch(/a@example\.com|b@example\.org/);
    expect((await cli("verify", file, "--dir", dir)).status).toBe(0);
  });

  it("runs the detectors over the MCP id and the content type; plain names are kept as sent", async () => {
    const raw = JSON.stringify({ jsonrpc: "2.0", id: "alice@example.com", method: "tools/call", params: { name: "lookup_customer", arguments: { q: "rt4-mcp" } } });
    await post("/mcp", raw, { "content-type": "application/json; profile=bob@example.com" });
    expect(upstream.requests.at(-1)?.body).toBe(raw);
    const { file, records } = await recordingWith("rt4-mcp");
    const req = records.find((r) => r.type === "request")!.request!;
    expect(req.mcp).toMatchObject({ type: "request", method: "tools/call", tool: "lookup_customer", arguments: { q: "rt4-mcp" } });
    expect(req.mcp!["id"]).not.toContain("alice@example.com");
    expect(req.content_type).toMatch(/^application\/json; profile=/);
    expect(readFileSync(join(dir, file), "utf8")).not.toMatch(/alice@example\.com|bob@example\.com/);
  });
});

describe("an agent's MCP sessions cannot hold a file each without bound", () => {
  it("ends the agent's least recently used MCP recording past the bound; every recording verifies", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const live = () => app.recorder!.liveFiles().size;
    const before = live();
    const extra = 20;
    try {
      for (let i = 0; i < MCP_GROUPS_PER_AGENT + extra; i++) expect(await mcpCall(agent, `rt4-mcp-session-${i}`, `rt4-cap-${i}`)).toBe(200);
      expect(live() - before).toBe(MCP_GROUPS_PER_AGENT);
      // Must-allow: a session in use goes on in its own recording (no new file).
      const files = readdirSync(dir).length;
      expect(await mcpCall(agent, `rt4-mcp-session-${MCP_GROUPS_PER_AGENT + extra - 1}`, "rt4-cap-again")).toBe(200);
      expect(readdirSync(dir).length).toBe(files);
    } finally {
      agent.destroy();
    }
    // The first ones were ended, each with its end record and its `closed` journal entry.
    const first = await recordingWith("rt4-cap-0\"");
    expect(first.records.at(-1)).toMatchObject({ type: "end", reason: "evicted", requests: 1 });
    expect((await cli("verify", "--dir", dir)).status).toBe(0);
  }, 60_000);
});

describe("verify judges the bytes on disk", () => {
  it("catches a byte of a record changed into invalid UTF-8", async () => {
    // The agent's body holds U+FFFD (bytes EF BF BD); someone with write access replaces them by one byte 0xFF,
    // which a UTF-8 decoder reads as U+FFFD again.
    expect(await post("/orders", `{"note":"rt4-utf8 \uFFFD"}`)).toBe(200);
    const { file, records } = await recordingWith("rt4-utf8");
    const line = records.findIndex((r) => r.type === "request") + 1;
    expect((await cli("verify", file, "--dir", dir)).status).toBe(0);
    const path = join(dir, file);
    const bytes = readFileSync(path);
    const at = bytes.indexOf(Buffer.from("rt4-utf8 \uFFFD", "utf8")) + "rt4-utf8 ".length;
    const edited = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]);
    expect(edited.equals(bytes)).toBe(false);
    writeFileSync(path, edited);
    const v = await cli("verify", file, "--dir", dir, "--json");
    expect(v.status).toBe(2);
    const report = JSON.parse(v.stdout) as { problems: { file: string; line?: number; message: string }[] };
    expect(report.problems).toContainEqual({ file, line, message: "not valid UTF-8 (a byte was changed)" });
  });
});
