// Red team: MCP over streamable HTTP through regate, against servers built the way people build them: the
// Python SDK's FastMCP (served by uvicorn: JSON and event-stream answers, stateful and stateless, one event
// store for every session as its session manager shares it) and the TypeScript SDK's McpServer (sessions, one
// event store). The agent is the TypeScript SDK's Client, or raw HTTP where it never sends so. Judged by what
// the server executed (its own record) and what reached the agent. The holes: what a masked call makes the
// server send on the session's GET stream, opened before the call; another session's (or agent's) event id
// in Last-Event-ID; a task's result read with tasks/result, which names no tool; a session id whose digits
// the card detector masked.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTaskStore } from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { DecisionPipeline } from "../../src/decision/index.js";
import type { HttpInput } from "../../src/http/index.js";
import { AgentDirectory } from "../../src/identity/index.js";
import { packageRoot } from "../../src/paths.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, closeServer, CUSTOMER, listen, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";
import { mcpHeaders, orderedEvents, readFor } from "./mcp-exchange.js";
import { until } from "../support/wait.js";

const OTHER_TOKEN = `other-agent-${randomUUID()}`;
const LIMITS = { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 5000 };
/** Values no answer may carry to the agent where they are masked. */
const RAW = [CUSTOMER.email, CUSTOMER.ssn];
const EXAMPLE_RAW = [CUSTOMER.email, CUSTOMER.ssn, CUSTOMER.card_number];

const UNMASKED_TOOLS = new Set(["run_report", "announce_report"]);

/** A policy that masks what the calls of tools return, but reports' (they hold no PII). */
const maskByTool = () =>
  new TestRulesDecider((input) => {
    const call = (input.http as HttpInput).mcp;
    if (call?.method === "tools/call" && !UNMASKED_TOOLS.has(call.tool ?? "")) return { mask: [{ field: "email", strategy: "redact" }, { detector: "email", strategy: "redact" }, { detector: "ssn", strategy: "redact" }] };
    return {};
  });

const twoAgents = () =>
  new AgentDirectory({
    tokens: [
      { subject: "support-bot", groups: ["support"], token: AGENT_TOKEN },
      { subject: "other-bot", groups: ["support"], token: OTHER_TOKEN },
    ],
  });

let fastmcp: ChildProcess;
let python: string;
let ts: { url: string; http: HttpServer; ran: string[]; getStreams: string[] };
let example: GatewayUnderTest;
let perTool: GatewayUnderTest;
let examplePolicy: DecisionPipeline;

/** The SDK's server with sessions and one event store for all of them (a server on one Redis has one). */
async function startTsMcp(): Promise<{ url: string; http: HttpServer; ran: string[]; getStreams: string[] }> {
  const events = orderedEvents();
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const ran: string[] = [];
  const getStreams: string[] = [];
  const http = createServer((req, res) => {
    const session = req.headers["mcp-session-id"] as string | undefined;
    const known = session ? transports.get(session) : undefined;
    if (known && req.method === "GET") {
      // The session's GET stream, recorded once its head is written: the SDK registers it just before.
      const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => typeof res;
      res.writeHead = ((...a: unknown[]) => {
        const out = writeHead(...a);
        if (res.statusCode === 200) getStreams.push(session!);
        return out;
      }) as typeof res.writeHead;
    }
    if (known) return void known.handleRequest(req, res);
    if (session || req.method !== "POST") return void res.writeHead(404).end();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: events,
      onsessioninitialized: (id) => void transports.set(id, transport),
    });
    const server = new McpServer({ name: "crm-ts", version: "1.0.0" }, { capabilities: { logging: {} } });
    const args = { inputSchema: { id: z.number() } };
    server.registerTool("get_customer", args, () => {
      ran.push("get_customer");
      return { content: [{ type: "text", text: JSON.stringify(CUSTOMER) }] };
    });
    server.registerTool("run_report", {}, () => {
      ran.push("run_report");
      return { content: [{ type: "text", text: "report ready" }] };
    });
    // As the SDK's own sampling and elicitation examples write them: through the server, with no related
    // request, so they travel on the session's GET stream.
    server.registerTool("ask_model", args, async () => {
      ran.push("ask_model");
      const r = await server.server.createMessage({ messages: [{ role: "user", content: { type: "text", text: `Summarise ${JSON.stringify(CUSTOMER)}` } }], maxTokens: 50 });
      return { content: [{ type: "text", text: r.content.type === "text" ? r.content.text : "?" }] };
    });
    server.registerTool("confirm_customer", args, async () => {
      ran.push("confirm_customer");
      const r = await server.server.elicitInput({ message: `Is ${CUSTOMER.email} (SSN ${CUSTOMER.ssn}) right?`, requestedSchema: { type: "object", properties: { ok: { type: "boolean" } } } });
      return { content: [{ type: "text", text: r.action }] };
    });
    server.registerTool("announce_report", {}, async () => {
      ran.push("announce_report");
      await server.sendLoggingMessage({ level: "info", data: "report for Alice Smith <alice@example.com> queued" });
      return { content: [{ type: "text", text: "announced" }] };
    });
    server.registerTool("notify_customer", args, async () => {
      ran.push("notify_customer");
      await server.sendLoggingMessage({ level: "info", data: `emailing ${CUSTOMER.email}, ssn ${CUSTOMER.ssn}` });
      return { content: [{ type: "text", text: "sent" }] };
    });
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  return { url: await listen(http), http, ran, getStreams };
}

beforeAll(async () => {
  await promisify(execFile)("bash", [join(packageRoot, "scripts", "pinned-venv.sh"), join(packageRoot, "sidecar", "test", "http", "mcp-requirements.txt"), "mcp-venv", "import mcp.server.fastmcp"], { timeout: 300_000 });
  fastmcp = spawn(join(packageRoot, "build", "mcp-venv", "bin", "python"), [join(packageRoot, "sidecar", "test", "http", "fastmcp_upstream.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: fastmcp.stdout! }).once("line", resolve);
    fastmcp.once("exit", (code) => reject(new Error(`fastmcp_upstream.py exited ${code}`)));
  });
  python = `http://127.0.0.1:${(JSON.parse(first) as { port: number }).port}`;
  ts = await startTsMcp();
  const routes = [
    { name: "py", prefix: "/py", upstream: python, credential: { type: "bearer" as const, value: UPSTREAM_SECRET } },
    { name: "ts", prefix: "/ts", upstream: ts.url, credential: { type: "bearer" as const, value: UPSTREAM_SECRET } },
  ];
  const store = new PolicyStore(BUNDLE);
  await store.load();
  examplePolicy = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [], logMask: true });
  example = await startGateway({ routes, limits: LIMITS, decider: examplePolicy });
  perTool = await startGateway({ routes, limits: LIMITS, agents: twoAgents(), decider: maskByTool() });
}, 300_000);

afterAll(async () => {
  await example?.close();
  await perTool?.close();
  if (ts) {
    ts.http.closeAllConnections();
    await closeServer(ts.http);
  }
  fastmcp?.stdin?.end();
});

/** The tools FastMCP ran so far. */
async function pythonRan(): Promise<string[]> {
  return (await (await fetch(`${python}/_executed`)).json()) as string[];
}

interface Agent {
  client: Client;
  session: string | undefined;
  /** Everything the server sent the agent that is not an answer: sampling and elicitation requests, log messages, progress. */
  got: unknown[];
  /** The server that answers it: the Python one (FastMCP) or the TypeScript one. */
  server: "py" | "ts";
}

/** The SDK's client, answering sampling and elicitation as an agent's host does, recording what it was sent. */
async function connect(gw: GatewayUnderTest, path: string, token = AGENT_TOKEN): Promise<Agent> {
  const got: unknown[] = [];
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}${path}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: "agent", version: "1.0.0" }, { capabilities: { sampling: {}, elicitation: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, (req) => {
    got.push(req.params);
    return { role: "assistant", content: { type: "text", text: "summary written" }, model: "test-model" };
  });
  client.setRequestHandler(ElicitRequestSchema, (req) => {
    got.push(req.params);
    return { action: "accept", content: { ok: true } };
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void got.push(n.params));
  await client.connect(transport);
  return { client, session: transport.sessionId, got, server: path.startsWith("/py/") ? "py" : "ts" };
}

const call = (a: Agent, name: string) => a.client.callTool({ name, arguments: { id: 1 } }, undefined, { timeout: 4000, onprogress: (p) => void a.got.push(p) });
const texts = (r: Awaited<ReturnType<typeof call>>) => (r.content as { text?: string }[]).map((c) => c.text);
/**
 * The SDK's client opens its session's GET stream after initialize, without telling, and the servers send its head
 * only with the first event: wait until the server itself records the stream as open (its head written, the SDK
 * having registered it just before). A stateless server keeps no session and no stream: nothing to wait for.
 */
async function streamOpen(a: Agent): Promise<void> {
  if (a.session === undefined) return;
  const opened = async () => (a.server === "ts" ? ts.getStreams : ((await (await fetch(`${python}/_get_streams`)).json()) as string[])).includes(a.session!);
  await until(opened);
}

describe("what a masked call makes the server send on the session's GET stream (opened before that call)", () => {
  it.each([
    ["FastMCP, JSON answers", "/py/json-stateful/mcp"],
    ["FastMCP, event-stream answers", "/py/sse-stateful/mcp"],
    ["the TypeScript SDK", "/ts/mcp"],
  ])("%s: a sampling request carrying the record reaches the agent masked, and the call completes", async (_name, path) => {
    const agent = await connect(perTool, path);
    await streamOpen(agent);
    const result = await call(agent, "ask_model");
    // The server did run the tool, and the agent's answer to its sampling request came back to it.
    expect(texts(result)).toEqual(["summary written"]);
    expect(agent.got).toHaveLength(1);
    const sent = JSON.stringify(agent.got);
    expect(sent).toContain("Alice Smith");
    for (const raw of RAW) expect(sent).not.toContain(raw);
    await agent.client.close();
  });

  it("the TypeScript SDK: an elicitation and a log message sent through the server are masked too", async () => {
    const agent = await connect(perTool, "/ts/mcp");
    await streamOpen(agent);
    expect(texts(await call(agent, "confirm_customer"))).toEqual(["accept"]);
    expect(texts(await call(agent, "notify_customer"))).toEqual(["sent"]);
    expect(agent.got).toHaveLength(2);
    for (const raw of RAW) expect(JSON.stringify(agent.got)).not.toContain(raw);
    await agent.client.close();
  });

  it("must allow: in a session the policy masks nothing of, the GET stream's events arrive as sent", async () => {
    const agent = await connect(perTool, "/ts/mcp");
    await streamOpen(agent);
    expect(texts(await call(agent, "run_report"))).toEqual(["report ready"]);
    expect(texts(await call(agent, "announce_report"))).toEqual(["announced"]);
    expect(agent.got).toEqual([{ level: "info", data: "report for Alice Smith <alice@example.com> queued" }]);
    await agent.client.close();
  });
});

/**
 * What the agent reads of a response: for at least `ms` (as readFor), and on until `seen(text)` holds or the
 * stream ends, up to 10 s. A stream that stays open (a GET, a replay) is read until what the case waits for has
 * come, however slow the machine, and no shorter than before.
 */
async function readUntil(res: { body: ReadableStream<Uint8Array> | null }, seen: (text: string) => boolean, ms: number): Promise<string> {
  const reader = res.body!.getReader();
  const started = Date.now();
  let text = "";
  let timer: NodeJS.Timeout | undefined;
  const stop = () => void reader.cancel().catch(() => undefined);
  const arm = () => {
    clearTimeout(timer);
    const left = seen(text) ? ms - (Date.now() - started) : 10_000 - (Date.now() - started);
    if (left <= 0) stop();
    else timer = setTimeout(stop, left);
  };
  arm();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString("utf8");
      arm();
    }
  } catch {
    // cancelled
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/** A tools/call's answer on an event stream, read raw: its event ids, and the text. */
async function rawCall(gw: GatewayUnderTest, path: string, session: string, id: number, tool: string, token = AGENT_TOKEN): Promise<{ text: string; ids: string[] }> {
  const res = await fetch(`${gw.url}${path}`, { method: "POST", headers: mcpHeaders(token, session), body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: tool, arguments: { id: 1 } } }) });
  const text = await readUntil(res, (t) => t.includes(`"id":${id}`), 1000);
  return { text, ids: [...text.matchAll(/^id: ?(.+?)\r?$/gm)].map((m) => m[1]!) };
}

const resume = (gw: GatewayUnderTest, path: string, session: string, lastEventId: string, token = AGENT_TOKEN) =>
  fetch(`${gw.url}${path}`, { method: "GET", headers: mcpHeaders(token, session, { accept: "text/event-stream", "last-event-id": lastEventId }) });

describe("Last-Event-ID naming an event of another session (the server's one event store replays it)", () => {
  it.each([
    ["FastMCP", "/py/sse-stateful/mcp", AGENT_TOKEN],
    ["FastMCP, another agent's event", "/py/sse-stateful/mcp", OTHER_TOKEN],
    ["the TypeScript SDK", "/ts/mcp", AGENT_TOKEN],
  ])("%s: the masked call's result replayed in a session that made no masked call arrives masked", async (_name, path, token) => {
    const first = await connect(perTool, path);
    const masked = await rawCall(perTool, path, first.session!, 901, "get_customer");
    expect(masked.text).toContain("Alice Smith");
    for (const raw of RAW) expect(masked.text).not.toContain(raw);
    // Replays start after the named event: the first event of the call's stream (a priming event or the result).
    const second = await connect(perTool, path, token);
    expect(texts(await call(second, "run_report"))).toEqual(["report ready"]);
    const replay = await resume(perTool, path, second.session!, masked.ids[0]!, token);
    const replayed = await readUntil(replay, (t) => t.includes('"id":901'), 800);
    expect(replayed).toContain("Alice Smith");
    for (const raw of RAW) expect(replayed).not.toContain(raw);
    await first.client.close();
    await second.client.close();
  });

  it("must allow: resuming one's own session's stream replays its events, masked as they were", async () => {
    const agent = await connect(perTool, "/py/sse-stateful/mcp");
    const masked = await rawCall(perTool, "/py/sse-stateful/mcp", agent.session!, 902, "get_customer");
    const replayed = await readUntil(await resume(perTool, "/py/sse-stateful/mcp", agent.session!, masked.ids[0]!), (t) => t.includes('"id":902'), 800);
    expect(replayed).toContain('"id":902');
    expect(replayed).toContain("Alice Smith");
    for (const raw of RAW) expect(replayed).not.toContain(raw);
    await agent.client.close();
  });
});

describe("the example policy against FastMCP's answers in every form", () => {
  it.each([
    ["json-stateful", ["ask_model"]],
    ["sse-stateful", ["ask_model", "confirm_customer"]],
    ["json-stateless", []],
    ["sse-stateless", []],
  ])("%s: structured results, JSON text, images, embedded resources, links, logs, progress, sampling, elicitation, resources and prompts carry no raw value", async (mode, serverRequests) => {
    const agent = await connect(example, `/py/${mode}/mcp`);
    await streamOpen(agent);
    const before = (await pythonRan()).length;
    const out: unknown[] = [];
    const customer = await call(agent, "get_customer");
    expect(customer.structuredContent).toMatchObject({ name: "Alice Smith", email: expect.stringMatching(/^\*+@example\.com$/) });
    out.push(customer, await call(agent, "customer_files"), await call(agent, "notify_customer"));
    for (const tool of serverRequests) out.push(await call(agent, tool));
    out.push(await agent.client.readResource({ uri: "crm://customers/1" }), await agent.client.getPrompt({ name: "customer_summary", arguments: { id: "1" } }));
    const seen = JSON.stringify([out, agent.got]);
    for (const raw of EXAMPLE_RAW) expect(seen).not.toContain(raw);
    // Every one ran at the server; the masked image is still base64 of the record, masked.
    expect((await pythonRan()).slice(before)).toEqual(["get_customer", "customer_files", "notify_customer", ...serverRequests, "resource", "prompt"]);
    const image = (out[1] as { content: { type: string; data?: string }[] }).content.find((c) => c.type === "image")!;
    expect(JSON.parse(Buffer.from(image.data!, "base64").toString("utf8"))).toMatchObject({ name: "Alice Smith", ssn: "****" });
    expect(texts(await call(agent, "run_report"))).toEqual(["report ready"]);
    await agent.client.close();
  });
});

describe("a denied tool under another spelling, against FastMCP (stateless) and the TypeScript SDK", () => {
  const rpc = (o: Record<string, unknown>) => JSON.stringify({ jsonrpc: "2.0", ...o });
  const params = (name: unknown, extra: Record<string, unknown> = {}) => ({ name, arguments: { id: 1 }, ...extra });
  const bodies: [string, string][] = [
    ["the name as sent", rpc({ id: 1, method: "tools/call", params: params("delete_customer") })],
    ["in capitals", rpc({ id: 1, method: "tools/call", params: params("DELETE_CUSTOMER") })],
    ["with a space around", rpc({ id: 1, method: "tools/call", params: params(" delete_customer ") })],
    ["with a fullwidth letter", rpc({ id: 1, method: "tools/call", params: params("ｄelete_customer") })],
    ["as a notification", rpc({ method: "tools/call", params: params("delete_customer") })],
    ["with the method in other case", rpc({ id: 1, method: "Tools/Call", params: params("delete_customer") })],
    ["with a space after the method", rpc({ id: 1, method: "tools/call ", params: params("delete_customer") })],
    ["named in _meta", rpc({ id: 1, method: "tools/call", params: params("run_report", { _meta: { name: "delete_customer" } }) })],
    ["as a batch", JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "tools/call", params: params("run_report") }, { jsonrpc: "2.0", id: 2, method: "tools/call", params: params("delete_customer") }])],
    ["with the name twice", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_report","name":"delete_customer","arguments":{"id":1}}}`],
    ["with NAME beside name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_report","NAME":"delete_customer","arguments":{"id":1}}}`],
    ["with the name escaped", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\u0064elete_customer","arguments":{"id":1}}}`],
    ["with a byte order mark", `\ufeff${rpc({ id: 1, method: "tools/call", params: params("delete_customer") })}`],
    ["as a response object", rpc({ id: 1, result: {}, method: "tools/call", params: params("delete_customer") })],
  ];

  it.each(bodies)("%s: never runs", async (_name, body) => {
    const ts0 = ts.ran.length;
    const py0 = (await pythonRan()).length;
    const agent = await connect(example, "/ts/mcp");
    for (const path of ["/py/json-stateless/mcp", "/py/sse-stateless/mcp", "/ts/mcp"]) {
      const { "mcp-session-id": _none, ...sessionless } = mcpHeaders(AGENT_TOKEN, "");
      const res = await fetch(`${example.url}${path}`, { method: "POST", headers: path === "/ts/mcp" ? mcpHeaders(AGENT_TOKEN, agent.session!) : sessionless, body });
      await readFor(res, 300);
    }
    expect(ts.ran.slice(ts0)).not.toContain("delete_customer");
    expect((await pythonRan()).slice(py0)).not.toContain("delete_customer");
    await agent.client.close();
  });

  it("must allow: the SDK client's ordinary calls run and come back whole where nothing is masked", async () => {
    // Sent straight to the servers, the plain spelling runs: the cases above are refusals, not typos.
    const { "mcp-session-id": _none, ...sessionless } = mcpHeaders(AGENT_TOKEN, "");
    await fetch(`${python}/json-stateless/mcp`, { method: "POST", headers: sessionless, body: bodies[0]![1] });
    expect((await pythonRan()).at(-1)).toBe("delete_customer");
    for (const path of ["/py/json-stateless/mcp", "/py/sse-stateful/mcp", "/ts/mcp"]) {
      const agent = await connect(example, path);
      // FastMCP's get_customer has an output schema with `email` and `ssn` properties: the list is read, and the
      // client compiles it (masked as fields, its `"type": "string"` became `"s***g"` and listTools threw).
      const tools = (await agent.client.listTools()).tools;
      expect(tools.map((t) => t.name)).toContain("run_report");
      if (path !== "/ts/mcp") expect(tools.find((t) => t.name === "get_customer")?.outputSchema?.properties).toMatchObject({ email: { type: "string" }, ssn: { type: "string" } });
      expect(texts(await call(agent, "run_report"))).toEqual(["report ready"]);
      await expect(call(agent, "delete_customer")).rejects.toThrow(/MCP tool delete_customer is not allowed/);
      await agent.client.close();
    }
  });
});


describe("a task's result, fetched apart from the call that made it (MCP tasks, the TypeScript SDK's task store)", () => {
  let http: HttpServer;
  let gw: GatewayUnderTest;
  let byTool: GatewayUnderTest;
  beforeAll(async () => {
    // Stateless, one task store for every request: nothing but the task id ties tasks/result to its call.
    const tasks = new InMemoryTaskStore();
    http = createServer((req, res) => {
      const server = new McpServer({ name: "crm-tasks", version: "1.0.0" }, { capabilities: { tasks: { requests: { tools: { call: {} } } } }, taskStore: tasks });
      server.experimental.tasks.registerToolTask("export_customer", { inputSchema: { id: z.number() }, execution: { taskSupport: "required" } }, {
        createTask: async (_args, extra) => {
          const task = await extra.taskStore.createTask({ ttl: 60_000 });
          await extra.taskStore.storeTaskResult(task.taskId, "completed", { content: [{ type: "text", text: JSON.stringify(CUSTOMER) }] });
          return { task };
        },
        getTask: async (_args, extra) => (await extra.taskStore.getTask(extra.taskId))!,
        getTaskResult: async (_args, extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
      });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      void server.connect(transport).then(() => transport.handleRequest(req, res));
    });
    const routes = [{ name: "tasks", prefix: "/tasks", upstream: await listen(http), credential: { type: "bearer" as const, value: UPSTREAM_SECRET } }];
    gw = await startGateway({ routes, limits: LIMITS, decider: examplePolicy });
    byTool = await startGateway({ routes, limits: LIMITS, agents: twoAgents(), decider: maskByTool() });
  });
  afterAll(async () => {
    await gw?.close();
    await byTool?.close();
    http?.closeAllConnections();
    if (http) await closeServer(http);
  });

  /** A task made with tools/call through `via`, then `method` on it there (a body of its own, no session). */
  async function taskThen(via: GatewayUnderTest, method: string, token = AGENT_TOKEN): Promise<string> {
    const post = (body: object, t = AGENT_TOKEN) => {
      const { "mcp-session-id": _none, ...headers } = mcpHeaders(t, "");
      return fetch(`${via.url}/tasks/mcp`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", ...body }) });
    };
    const created = (await (await post({ id: 1, method: "tools/call", params: { name: "export_customer", arguments: { id: 1 }, task: { ttl: 60_000 } } })).json()) as { result: { task: { taskId: string } } };
    const res = await post({ id: 2, method, params: { taskId: created.result.task.taskId } }, token);
    expect(res.status).toBe(200);
    return res.text();
  }

  it.each([
    ["tasks/result", AGENT_TOKEN],
    ["tasks/result", OTHER_TOKEN],
  ])("a policy that masks the tool's results: %s read apart from the call arrives masked", async (method, token) => {
    const text = await taskThen(byTool, method, token);
    expect(text).toContain("Alice Smith");
    for (const raw of RAW) expect(text).not.toContain(raw);
  });

  it("the example policy masks tasks/result alike", async () => {
    const text = await taskThen(gw, "tasks/result");
    expect(text).toContain("Alice Smith");
    for (const raw of EXAMPLE_RAW) expect(text).not.toContain(raw);
  });

  it("must allow: a task's status reads as the server wrote it", async () => {
    expect(JSON.parse(await taskThen(byTool, "tasks/get"))).toMatchObject({ result: { status: "completed", ttl: 60_000 } });
  });
});

describe("a session id the card detector reads as a card number (a random UUID, about one in 600)", () => {
  // A v4 UUID as randomUUID() makes them: its digits "4322-9401-8148..." pass the card check.
  const ID = "d055efc3-3d86-4322-9401-814896b0a5d3";
  let http: HttpServer;
  let gw: GatewayUnderTest;
  const seen: (string | undefined)[] = [];
  beforeAll(async () => {
    let transport: StreamableHTTPServerTransport | undefined;
    http = createServer((req, res) => {
      seen.push(req.headers["mcp-session-id"] as string | undefined);
      if (!transport) {
        transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => ID });
        const server = new McpServer({ name: "crm-one-session", version: "1.0.0" });
        server.registerTool("run_report", {}, () => ({ content: [{ type: "text", text: "report ready" }] }));
        void server.connect(transport).then(() => transport!.handleRequest(req, res));
        return;
      }
      void transport.handleRequest(req, res);
    });
    gw = await startGateway({ routes: [{ name: "one", prefix: "/one", upstream: await listen(http), credential: { type: "bearer", value: UPSTREAM_SECRET } }], limits: LIMITS, decider: examplePolicy });
  });
  afterAll(async () => {
    await gw?.close();
    http?.closeAllConnections();
    if (http) await closeServer(http);
  });

  it("reaches the agent as issued, and the session works under the example policy", async () => {
    const agent = await connect(gw, "/one/mcp");
    expect(agent.session).toBe(ID);
    expect(texts(await call(agent, "run_report"))).toEqual(["report ready"]);
    // Every request after initialize named the session the server issued.
    expect(seen.slice(1).every((id) => id === ID)).toBe(true);
    await agent.client.close();
  });
});
