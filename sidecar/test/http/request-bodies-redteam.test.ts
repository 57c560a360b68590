// Red team: MCP over the HTTP+SSE transport (protocol 2024-11-05), which the TypeScript SDK's
// SSEServerTransport, FastMCP's `transport="sse"` and mcp-go's SSEServer still serve. The agent opens a GET
// event stream first; each call is POSTed to the endpoint the stream announces, answered 202, and its result
// is sent on that stream, which carries no Mcp-Session-Id. The holes, judged by what the agent read:
//   - the result of a call the example policy masks (MCP answers written as prose: email, SSN and card
//     found by shape) reached the agent as the server wrote it, masked only with the GET's own rules;
//   - on a route with a credential, an `endpoint` event whose session id ended in what could begin a form of
//     that credential was held back until another event came, and none comes before the agent posts: the
//     agent never learnt where to post, one session in a few.
// And one on the request side, judged by the tool the upstream ran: a JSON-RPC call sent as JSON lines
// (`application/jsonl,application/json`, `application/x-ndjson`) was handed to the policy as text, while the
// MCP Python SDK (which takes any element of a listed Content-Type) and readers that ignore the type
// (Starlette's request.json()) ran it: the example policy never saw `delete_customer`.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { DecisionPipeline } from "../../src/decision/index.js";
import { packageRoot } from "../../src/paths.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, authed, closeServer, CUSTOMER, listen, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";
import { startFrameworkUpstream, type FrameworkUpstream } from "./framework-upstream.js";

const PROSE = `Customer ${CUSTOMER.name}, email ${CUSTOMER.email}, SSN ${CUSTOMER.ssn}, card ${CUSTOMER.card_number}`;
const REPORT = "report ready: 12 orders, call 415-555-2671 for details";
/** The session id of the hand-written server: it ends in "u", the first letter of the route's credential. */
const QUIET_SESSION = "5c1d0e2au";

let ran: string[] = [];
/** Tools the Go-style reader (/decoder) ran. */
let decoded: string[] = [];
let upstream: Server;
let frameworks: FrameworkUpstream;
let fastmcp: ChildProcess;
let python: string;
let gw: GatewayUnderTest;

/**
 * The first JSON document of a body, the rest ignored, as Go's json.NewDecoder(r.Body).Decode reads a body
 * (many Go JSON-RPC handlers do).
 */
function firstDocument(text: string): unknown {
  const start = text.search(/\S/);
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = Math.max(start, 0); i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if ((c === "}" || c === "]") && --depth === 0) return JSON.parse(text.slice(start, i + 1));
  }
  throw new SyntaxError("no JSON document");
}

/** The SDK's HTTP+SSE server, as its README wires it: GET /sse opens a session, POST /messages?sessionId= carries calls. */
function sdkServer(): Server {
  const transports = new Map<string, SSEServerTransport>();
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://upstream");
    if (req.method === "GET" && url.pathname === "/sse") {
      const transport = new SSEServerTransport("/messages", res);
      transports.set(transport.sessionId, transport);
      res.on("close", () => transports.delete(transport.sessionId));
      const server = new McpServer({ name: "crm-sse", version: "1.0.0" });
      server.registerTool("get_customer", { inputSchema: { id: z.number() } }, () => {
        ran.push("get_customer");
        return { content: [{ type: "text", text: PROSE }] };
      });
      server.registerTool("run_report", {}, () => {
        ran.push("run_report");
        return { content: [{ type: "text", text: REPORT }] };
      });
      void server.connect(transport);
      return;
    }
    const transport = transports.get(url.searchParams.get("sessionId") ?? "");
    if (req.method === "POST" && url.pathname === "/messages" && transport) return void transport.handlePostMessage(req, res);
    if (req.method === "POST" && url.pathname === "/decoder/rpc") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
        const doc = firstDocument(Buffer.concat(chunks).toString()) as { method?: string; params?: { name?: string } };
        if (doc.method === "tools/call" && typeof doc.params?.name === "string") decoded.push(doc.params.name);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
      return;
    }
    // A hand-written server: it announces its endpoint, then says nothing until a call comes.
    if (req.method === "GET" && url.pathname === "/quiet/sse") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(`event: endpoint\ndata: /quiet/messages?session_id=${QUIET_SESSION}\n\n`);
      return;
    }
    res.writeHead(404).end();
  });
}

beforeAll(async () => {
  await promisify(execFile)("bash", [join(packageRoot, "scripts", "pinned-venv.sh"), join(packageRoot, "sidecar", "test", "http", "mcp-requirements.txt"), "mcp-venv", "import mcp.server.fastmcp"], { timeout: 300_000 });
  fastmcp = spawn(join(packageRoot, "build", "mcp-venv", "bin", "python"), [join(packageRoot, "sidecar", "test", "http", "fastmcp_upstream.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: fastmcp.stdout! }).once("line", resolve);
    fastmcp.once("exit", (code) => reject(new Error(`fastmcp_upstream.py exited ${code}`)));
  });
  python = `http://127.0.0.1:${(JSON.parse(first) as { port: number }).port}`;
  frameworks = await startFrameworkUpstream();
  upstream = sdkServer();
  const url = await listen(upstream);
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
  gw = await startGateway({
    routes: [
      { name: "crm", prefix: "/", upstream: url, credential: { type: "bearer", value: UPSTREAM_SECRET } },
      { name: "frameworks", prefix: "/fw", upstream: frameworks.url, credential: { type: "bearer", value: UPSTREAM_SECRET } },
      { name: "py", prefix: "/py", upstream: python, credential: { type: "bearer", value: UPSTREAM_SECRET } },
    ],
    decider,
    limits: { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 5000 },
  });
}, 300_000);

afterAll(async () => {
  await gw?.close();
  if (upstream) await closeServer(upstream);
  await frameworks?.close();
  fastmcp?.stdin?.end();
});

/** The SDK's own HTTP+SSE client, through regate with the agent's token on every request. */
async function sseClient(): Promise<Client> {
  const client = new Client({ name: "agent", version: "1.0.0" });
  const transport = new SSEClientTransport(new URL(`${gw.url}/sse`), {
    fetch: (url, init) => fetch(url, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), authorization: `Bearer ${AGENT_TOKEN}` } }),
  });
  await client.connect(transport);
  return client;
}

const text = (r: Awaited<ReturnType<Client["callTool"]>>): string => (r.content as { type: string; text: string }[]).map((c) => c.text).join("");

describe("MCP over HTTP+SSE: a call's answer comes on the GET stream", () => {
  it("the answer of a call the policy masks is masked there, as a streamable HTTP answer is", async () => {
    ran = [];
    const client = await sseClient();
    try {
      const got = text(await client.callTool({ name: "get_customer", arguments: { id: 1 } }));
      expect(ran).toEqual(["get_customer"]);
      for (const raw of [CUSTOMER.email, CUSTOMER.ssn, CUSTOMER.card_number]) expect(got).not.toContain(raw);
      expect(got).toContain("***@example.com");
      expect(got).toContain(`Customer ${CUSTOMER.name}`);
    } finally {
      await client.close();
    }
  });

  it("must-allow: the session works end to end, tools are listed and a call with nothing to mask keeps its text", async () => {
    ran = [];
    const client = await sseClient();
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["get_customer", "run_report"]);
      // Only the detectors the example policy runs on MCP answers (email, SSN, card): a phone number in prose passes.
      expect(text(await client.callTool({ name: "run_report", arguments: {} }))).toBe(REPORT);
      expect(ran).toEqual(["run_report"]);
    } finally {
      await client.close();
    }
  });
});

describe("an event stream that goes quiet is not held back", () => {
  it("an endpoint event whose session id ends in what could start the route credential reaches the agent whole", async () => {
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/quiet/sse`, { headers: authed({ accept: "text/event-stream" }), signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let got = "";
    // The upstream writes nothing after this event: it must arrive without another to push it out.
    while (!got.includes("\n\n")) {
      const r = await reader.read();
      if (r.done) break;
      got += decoder.decode(r.value, { stream: true });
    }
    ac.abort();
    expect(got).toBe(`event: endpoint\ndata: /quiet/messages?session_id=${QUIET_SESSION}\n\n`);
  });
});

/** A POST through regate, by node:http (the bytes as given), and what the upstream answered or regate refused. */
async function post(path: string, type: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = authed({ "content-type": type, accept: "application/json, text/event-stream", "content-length": String(Buffer.byteLength(body)) });
    const req = request(`${gw.url}${path}`, { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject).end(body);
  });
}

const rpc = (tool: string, id = 1): string => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: tool, arguments: { id: 1 } } });
const pythonRan = async (): Promise<string[]> => (await (await fetch(`${python}/_executed`)).json()) as string[];

describe("a JSON-RPC call sent as JSON lines is judged as the call it is", () => {
  // The MCP Python SDK's Content-Type check splits the media type at "," and takes any element.
  it.each(["application/jsonl,application/json", "application/json-seq, application/json"])("FastMCP does not run delete_customer sent as %s", async (type) => {
    const before = (await pythonRan()).length;
    const r = await post("/py/json-stateless/mcp", type, rpc("delete_customer"));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ jsonrpc: "2.0", id: 1, error: { code: -32001, message: expect.stringContaining("MCP tool delete_customer is not allowed") } });
    expect((await pythonRan()).slice(before)).toEqual([]);
  });

  it("a reader that ignores the type (Starlette's request.json()) does not run it sent as application/x-ndjson", async () => {
    const before = frameworks.calls.length;
    const r = await post("/fw/lenient/mcp", "application/x-ndjson", `${rpc("delete_customer")}\n`);
    expect(JSON.parse(r.text)).toMatchObject({ error: { code: -32001, message: expect.stringContaining("MCP tool delete_customer is not allowed") } });
    expect(frameworks.calls.slice(before)).toEqual([]);
  });

  it("JSON lines of which one is a JSON-RPC message are refused: Go's json.Decoder runs the first and ignores the rest", async () => {
    decoded = [];
    for (const body of [`${rpc("delete_customer")}\n{"note":"x"}\n`, `${rpc("delete_customer")} ${rpc("get_customer", 2)}`, `{"index":{}}\n${rpc("delete_customer", 2)}\n`]) {
      const r = await post("/decoder/rpc", "application/x-ndjson", body);
      expect(r.status).toBe(403);
      expect(JSON.parse(r.text)).toMatchObject({ reason: expect.stringContaining("request body could not be parsed") });
    }
    expect(decoded).toEqual([]);
  });

  it("must-allow: an allowed call sent so runs, and bulk JSON lines without one go through as sent", async () => {
    const before = (await pythonRan()).length;
    const r = await post("/py/json-stateless/mcp", "application/jsonl,application/json", rpc("get_customer"));
    expect(r.status).toBe(200);
    expect((await pythonRan()).slice(before)).toEqual(["get_customer"]);
    expect(r.text).not.toContain(CUSTOMER.ssn);
    const calls = frameworks.calls.length;
    // An upstream that reads JSON lines (Elasticsearch's _bulk): here one that records the request and answers {}.
    const bulk = await post("/fw/rack/_bulk", "application/x-ndjson", '{"index":{"_id":"1"}}\n{"name":"Ann"}\n');
    expect(bulk).toEqual({ status: 200, text: "{}" });
    expect(frameworks.calls.slice(calls)).toMatchObject([{ reader: "rack", method: "POST" }]);
  });
});
