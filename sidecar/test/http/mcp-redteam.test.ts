// Red team: a policy that masks one MCP tool's results must hold on whatever HTTP exchange the stateful SDK
// server delivers that result on, and the example policy's masks must hold when a tool writes its record
// into prose. The upstream is the real SDK (McpServer + StreamableHTTPServerTransport with sessions and
// the SDK's in-memory event store); the agent is the SDK's Client, or raw HTTP where it never sends so.

import { randomUUID } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/http/index.js";
import { AgentDirectory } from "../../src/identity/index.js";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, closeServer, CUSTOMER, listen, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";
import { crmMcpServer, mcpHeaders, orderedEvents, readFor, toolCall } from "./mcp-exchange.js";

interface StatefulMcp {
  url: string;
  http: HttpServer;
  /** Tool calls the server executed. */
  ran: string[];
  /** Every HTTP request the server got. */
  seen: { method: string; session?: string; lastEventId?: string }[];
}

const OTHER_TOKEN = `other-agent-${randomUUID()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sessions, SSE answers and resumability, as the SDK's own examples build a server. */
async function startStatefulMcp(): Promise<StatefulMcp> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const ran: string[] = [];
  const seen: StatefulMcp["seen"] = [];
  const http = createServer((req, res) => {
    seen.push({ method: req.method ?? "", session: req.headers["mcp-session-id"] as string | undefined, lastEventId: req.headers["last-event-id"] as string | undefined });
    if (req.headers.authorization !== `Bearer ${UPSTREAM_SECRET}`) {
      res.writeHead(401).end();
      return;
    }
    const session = req.headers["mcp-session-id"] as string | undefined;
    const known = session ? transports.get(session) : undefined;
    if (known) {
      void known.handleRequest(req, res);
      return;
    }
    if (session || req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: orderedEvents(),
      onsessioninitialized: (id) => void transports.set(id, transport),
    });
    const server = crmMcpServer(ran);
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  return { url: await listen(http), http, ran, seen };
}

let mcp: StatefulMcp;
let gw: GatewayUnderTest;
let decider: TestRulesDecider;

beforeAll(async () => {
  mcp = await startStatefulMcp();
  decider = new TestRulesDecider((input) => {
    const call = (input.http as HttpInput).mcp;
    if (call?.method === "tools/call" && call.tool === "get_customer") return { mask: [{ field: "email", strategy: "redact" }, { field: "ssn", strategy: "redact" }] };
    return {};
  });
  gw = await startGateway({
    agents: new AgentDirectory({
      tokens: [
        { subject: "support-bot", groups: ["support"], token: AGENT_TOKEN },
        { subject: "other-bot", groups: ["support"], token: OTHER_TOKEN },
      ],
    }),
    decider,
    limits: { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 5000 },
    routes: [{ name: "crm-mcp", prefix: "/crm", upstream: mcp.url, credential: { type: "bearer", value: UPSTREAM_SECRET } }],
  });
});

afterAll(async () => {
  await gw.close();
  mcp.http.closeAllConnections();
  await closeServer(mcp.http);
});

async function openSession(): Promise<{ client: Client; id: string }> {
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/crm/mcp`), { requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } } });
  const client = new Client({ name: "agent", version: "1.0.0" });
  await client.connect(transport);
  return { client, id: transport.sessionId! };
}

const headers = (session: string, extra: Record<string, string> = {}) => mcpHeaders(AGENT_TOKEN, session, extra);
const call = toolCall;

describe("a masked tool's result on another exchange than its own", () => {
  it("a second call reusing the id of a pending masked call gets nothing of the masked result", async () => {
    const { client, id: session } = await openSession();
    const masked = fetch(`${gw.url}/crm/mcp`, { method: "POST", headers: headers(session), body: call(77, "get_customer", { id: 1 }) });
    // The second call goes once the first runs at the server (its id then maps to the first one's stream).
    while (!mcp.ran.includes("get_customer")) await sleep(5);
    mcp.ran.length = 0;
    const other = await fetch(`${gw.url}/crm/mcp`, { method: "POST", headers: headers(session), body: call(77, "run_report") });
    const got = await readFor(other, 2500);
    // The server did put the first call's result on the second exchange: it arrives masked.
    expect(got).toContain("Alice Smith");
    expect(got).not.toContain(CUSTOMER.email);
    expect(got).not.toContain(CUSTOMER.ssn);
    await readFor(await masked, 200).catch(() => "");
    await client.close();
  });

  it("a GET resuming the masked call's stream (Last-Event-ID) replays nothing unmasked", async () => {
    const { client, id: session } = await openSession();
    const res = await fetch(`${gw.url}/crm/mcp`, { method: "POST", headers: headers(session), body: call(78, "get_customer", { id: 1 }) });
    const first = await readFor(res, 1500);
    expect(first).not.toContain(CUSTOMER.email);
    const eventId = /^id: (.+)$/m.exec(first)?.[1];
    expect(eventId).toBeDefined();
    const replay = await fetch(`${gw.url}/crm/mcp`, { method: "GET", headers: headers(session, { accept: "text/event-stream", "last-event-id": eventId! }) });
    const replayed = await readFor(replay, 500);
    expect(replayed).toContain("Alice Smith");
    expect(replayed).not.toContain(CUSTOMER.email);
    expect(replayed).not.toContain(CUSTOMER.ssn);
    await client.close();
  });
});

describe("sessions regate cannot tie to this agent's exchanges", () => {
  it("another agent's use of a session id is refused and never reaches the server", async () => {
    const { client, id: session } = await openSession();
    // The SDK client's own GET stream for the session, opened after initialize.
    while (!mcp.seen.some((s) => s.method === "GET" && s.session === session)) await sleep(5);
    const before = mcp.seen.length;
    const stolen = { ...headers(session, { accept: "text/event-stream" }), authorization: `Bearer ${OTHER_TOKEN}` };
    const get = await fetch(`${gw.url}/crm/mcp`, { method: "GET", headers: stolen });
    expect(get.status).toBe(400);
    expect(await get.json()).toMatchObject({ reason: expect.stringMatching(/issued to another agent/) });
    const post = await fetch(`${gw.url}/crm/mcp`, { method: "POST", headers: { ...headers(session), authorization: `Bearer ${OTHER_TOKEN}` }, body: call(5, "get_customer", { id: 1 }) });
    // A JSON-RPC request is answered in JSON-RPC: the SDK shows the refusal as the call's error.
    expect(post.status).toBe(200);
    expect(await post.json()).toMatchObject({ jsonrpc: "2.0", id: 5, error: { code: -32001, data: { code: "PROTOCOL_VIOLATION", reason: expect.stringMatching(/issued to another agent/) } } });
    expect(mcp.seen.slice(before)).toEqual([]);
    await client.close();
  });

  it("a Last-Event-ID for a session regate did not see opened is refused and never reaches the server", async () => {
    const before = mcp.seen.length;
    const res = await fetch(`${gw.url}/crm/mcp`, { method: "GET", headers: headers(randomUUID(), { accept: "text/event-stream", "last-event-id": "x_1_y" }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ reason: expect.stringMatching(/Last-Event-ID/) });
    expect(mcp.seen.slice(before)).toEqual([]);
  });
});

describe("ordinary use through the SDK", () => {
  it("calls, masks and a resumed stream work in a session", async () => {
    const { client } = await openSession();
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["get_customer", "run_report"]);
    const result = await client.callTool({ name: "get_customer", arguments: { id: 1 } });
    const text = (result.content as { text: string }[])[0]!.text;
    expect(JSON.parse(text)).toMatchObject({ name: "Alice Smith", email: expect.not.stringContaining("alice") });
    // After a masked call, a call the policy masks nothing of still runs and answers as it did.
    expect((await client.callTool({ name: "run_report", arguments: {} })).content).toEqual([{ type: "text", text: "report ready" }]);
    await client.close();
  });
});

describe("the example policy on MCP answers written as prose", () => {
  let prose: HttpServer;
  let example: GatewayUnderTest;

  beforeAll(async () => {
    // A stateless server whose tool, as many do, writes its record into a sentence, or as key=value pairs.
    prose = createServer((req, res) => {
      const server = new McpServer({ name: "crm-mcp", version: "1.0.0" });
      server.registerTool("lookup_customer", {}, () => ({
        content: [
          { type: "text", text: `Customer record: ${JSON.stringify(CUSTOMER)}` },
          { type: "text", text: `email=${CUSTOMER.email} ssn=${CUSTOMER.ssn} card=${CUSTOMER.card_number}` },
        ],
      }));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      void server.connect(transport).then(() => transport.handleRequest(req, res));
    });
    const store = new PolicyStore(BUNDLE);
    await store.load();
    example = await startGateway({
      decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [], logMask: true }),
      routes: [{ name: "crm-mcp", prefix: "/crm", upstream: `${await listen(prose)}/mcp`, credential: { type: "bearer", value: UPSTREAM_SECRET } }],
    });
  });

  afterAll(async () => {
    await example.close();
    await closeServer(prose);
  });

  it("masks the values by their shape: the agent gets no email, SSN or card number", async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${example.url}/crm`), { requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } } });
    const client = new Client({ name: "agent", version: "1.0.0" });
    await client.connect(transport);
    const result = await client.callTool({ name: "lookup_customer", arguments: {} });
    const texts = (result.content as { text: string }[]).map((c) => c.text);
    expect(texts[0]).toMatch(/^Customer record: \{"id":1,"name":"Alice Smith",/);
    for (const raw of [CUSTOMER.email, CUSTOMER.ssn, CUSTOMER.card_number]) expect(JSON.stringify(texts)).not.toContain(raw);
    await client.close();
  });
});
