// A lock that lands while an MCP tool call runs upstream stops the call on the server, not only the agent's
// wait for it: the SDK's server keeps running a tool whose HTTP request closed, so regate sends the session's
// notifications/cancelled for the call's id. Judged by what the tool saw (its abort signal) and the server got.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, startIncidentRegate, until } from "./support.js";

const AGENT_TOKEN = "agent-token-7f3a9c";
let db: TestPostgres;
let regate: TestRegate;
let upstream: HttpServer;
let streamed: HttpServer;
let legacy: HttpServer;

/** What the MCP server saw: tool calls started, those whose abort signal fired, cancellations it received. */
const started: string[] = [];
const aborted: string[] = [];
const cancelled: { requestId: unknown; reason: unknown; session: string | undefined }[] = [];

/** The MCP server's one tool: runs until done (far off) or aborted. */
function jobsServer(): Server {
  const server = new Server({ name: "jobs-mcp", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: "run_migration", inputSchema: { type: "object" } }] }));
  server.setRequestHandler(CallToolRequestSchema, (call, extra) => {
    started.push(call.params.name);
    return new Promise((resolve) => {
      const done = setTimeout(() => resolve({ content: [{ type: "text", text: "migrated" }] }), 60_000);
      extra.signal.addEventListener("abort", () => {
        clearTimeout(done);
        aborted.push(call.params.name);
        resolve({ content: [{ type: "text", text: "stopped" }] });
      });
    });
  });
  return server;
}

/** What the server got in a POST: its JSON body, a cancellation recorded. */
function readPost(req: IncomingMessage, then: (body: { method?: string } | undefined) => void): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const text = Buffer.concat(chunks).toString("utf8");
    const body = text ? (JSON.parse(text) as { method?: string; params?: { requestId?: unknown; reason?: unknown } }) : undefined;
    const session = (req.headers["mcp-session-id"] as string | undefined) ?? new URL(req.url ?? "/", "http://upstream").searchParams.get("sessionId") ?? undefined;
    if (body?.method === "notifications/cancelled") cancelled.push({ requestId: body.params?.requestId, reason: body.params?.reason, session });
    then(body);
  });
}

/** The SDK's HTTP+SSE server under /legacy: GET /legacy/sse opens a session, calls are POSTed to /legacy/messages?sessionId= and answered 202. */
function startLegacyMcp(): HttpServer {
  const transports = new Map<string, SSEServerTransport>();
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://upstream");
    if (req.method === "GET" && url.pathname === "/legacy/sse") {
      const transport = new SSEServerTransport("/legacy/messages", res);
      transports.set(transport.sessionId, transport);
      void jobsServer().connect(transport);
      return;
    }
    const transport = transports.get(url.searchParams.get("sessionId") ?? "");
    if (!transport) return void res.writeHead(404).end();
    readPost(req, (body) => void transport.handlePostMessage(req, res, body));
  });
}

/**
 * A stateful MCP server (a session id per initialize) whose one tool runs until done (far off) or aborted;
 * `json`: a call is answered as JSON, else on an event stream the POST opens at once.
 */
function startMcp(json: boolean): HttpServer {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  return createServer((req, res) => {
    readPost(req, (body) => {
      const session = req.headers["mcp-session-id"] as string | undefined;
      const known = session ? transports.get(session) : undefined;
      if (known) return void known.handleRequest(req, res, body);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: json,
        onsessioninitialized: (id) => void transports.set(id, transport),
      });
      void jobsServer().connect(transport).then(() => transport.handleRequest(req, res, body));
    });
  });
}

beforeAll(async () => {
  db = await startPostgres();
  upstream = startMcp(true);
  streamed = startMcp(false);
  legacy = startLegacyMcp();
  for (const s of [upstream, streamed, legacy]) await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const origin = (s: HttpServer) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  regate = await startIncidentRegate(db, {
    http: {
      enabled: true,
      listen: { host: "127.0.0.1", port: 0 },
      routes: [
        { name: "jobs", prefix: "/jobs", upstream: origin(upstream), mcp: true },
        { name: "jobs-streamed", prefix: "/jobs-streamed", upstream: origin(streamed), mcp: true },
        { name: "legacy", prefix: "/legacy", upstream: `${origin(legacy)}/legacy`, mcp: true },
      ],
    },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  for (const s of [upstream, streamed, legacy]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
});

afterEach(async () => {
  for (const l of regate.app.locks.list()) await regate.app.locks.remove(l.id, "test");
});

describe("a lock during an MCP tool call", () => {
  it.each([
    ["answered as JSON: the agent gets LOCKED as the call's JSON-RPC error", "/jobs"],
    ["answered on an event stream already started: the agent's stream is cut", "/jobs-streamed"],
  ])("%s; the call is cancelled on the server (notifications/cancelled with its id)", async (_, prefix) => {
    started.length = aborted.length = cancelled.length = 0;
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${regate.app.ports.http}${prefix}/mcp`), { requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } } });
    const client = new Client({ name: "agent", version: "1.0.0" });
    await client.connect(transport);
    try {
      const call = client.callTool({ name: "run_migration", arguments: {} }).then(
        () => undefined,
        (e: Error) => e,
      );
      await until(() => started.length === 1);
      const lock = (await admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message: "migration gone wrong, INC-52" })).body;
      const err = await call;
      expect(err).toBeInstanceOf(Error);
      if (prefix === "/jobs") {
        expect(err?.message).toContain("locked by an operator");
        expect(err?.message).toContain(lock.id);
      }
      // The server was told, in the agent's session, and the running tool stopped.
      await until(() => aborted.length === 1);
      expect(cancelled).toHaveLength(1);
      expect(cancelled[0]).toMatchObject({ session: transport.sessionId, reason: `regate: the agent's request was ended by an operator (${lock.id})` });
      expect(typeof cancelled[0]!.requestId).toBe("number");
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 60_000);
});

describe("a lock during an MCP tool call over HTTP+SSE", () => {
  // The SDK's SSE server stops its calls when the stream closes; servers that do not need the cancellation.
  it("the call's POST was answered 202 and runs on upstream: it is cancelled there too, in the agent's session", async () => {
    started.length = aborted.length = cancelled.length = 0;
    const transport = new SSEClientTransport(new URL(`http://127.0.0.1:${regate.app.ports.http}/legacy/sse`), {
      fetch: (url, init) => fetch(url, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), authorization: `Bearer ${AGENT_TOKEN}` } }),
    });
    const client = new Client({ name: "agent", version: "1.0.0" });
    await client.connect(transport);
    try {
      // Its answer would come on the event stream, which the lock cuts: the call is left unanswered.
      void client.callTool({ name: "run_migration", arguments: {} }).catch(() => undefined);
      await until(() => started.length === 1);
      const lock = (await admin(regate, "POST", "/locks", { target: { group: "agents" }, message: "migration gone wrong, INC-53" })).body;
      await until(() => aborted.length === 1 && cancelled.length === 1);
      expect(cancelled[0]).toMatchObject({ reason: `regate: the agent's request was ended by an operator (${lock.id})` });
      expect(cancelled[0]!.session).toEqual(expect.any(String));
      expect(typeof cancelled[0]!.requestId).toBe("number");
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 60_000);
});
