// An MCP client ends its session with a DELETE of the Mcp-Session-Id the server issued (streamable HTTP).
// The example policy denies DELETE; regate tells it when a DELETE is that termination (the upstream issued
// the id to this agent at this path), so the SDK's terminateSession() works through regate, while every
// other DELETE, one that only carries the header included, is still refused and never reaches the upstream.

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentDirectory } from "../../src/identity/index.js";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, closeServer, listen, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

const OTHER_TOKEN = `other-agent-${randomUUID()}`;

interface StatefulMcp {
  url: string;
  http: HttpServer;
  /** Every request the server got: method and session id. */
  seen: { method: string; session: string | undefined }[];
  closed: string[];
}

/** An MCP server with sessions (an id per initialize), as the SDK's examples build one. */
async function startStatefulMcp(): Promise<StatefulMcp> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const seen: StatefulMcp["seen"] = [];
  const closed: string[] = [];
  const http = createServer((req: IncomingMessage, res) => {
    const session = req.headers["mcp-session-id"] as string | undefined;
    seen.push({ method: req.method ?? "", session });
    if (req.headers.authorization !== `Bearer ${UPSTREAM_SECRET}`) {
      res.writeHead(401).end();
      return;
    }
    const known = session ? transports.get(session) : undefined;
    if (known) {
      void known.handleRequest(req, res);
      return;
    }
    if (session || req.method !== "POST") {
      res.writeHead(404, { "content-type": "application/json" }).end('{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}');
      return;
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => void transports.set(id, transport),
      onsessionclosed: (id) => {
        transports.delete(id);
        closed.push(id);
      },
    });
    const server = new Server({ name: "crm-mcp", version: "1.0.0" }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: "get_customer", inputSchema: { type: "object" } }] }));
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  return { url: await listen(http), http, seen, closed };
}

let mcp: StatefulMcp;
let store: PolicyStore;
let gw: GatewayUnderTest;

beforeAll(async () => {
  store = new PolicyStore(BUNDLE);
  await store.load();
  mcp = await startStatefulMcp();
  gw = await startGateway({
    agents: new AgentDirectory({
      tokens: [
        { subject: "support-bot", groups: ["support"], token: AGENT_TOKEN },
        { subject: "other-bot", groups: ["support"], token: OTHER_TOKEN },
      ],
    }),
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [], logMask: true }),
    routes: [
      { name: "crm-mcp", prefix: "/crm", upstream: mcp.url, credential: { type: "bearer", value: UPSTREAM_SECRET } },
    ],
  });
});

afterAll(async () => {
  await gw.close();
  await closeServer(mcp.http);
});

async function openSession(): Promise<{ client: Client; transport: StreamableHTTPClientTransport; id: string }> {
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/crm/mcp`), { requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } } });
  const client = new Client({ name: "agent", version: "1.0.0" });
  await client.connect(transport);
  await client.listTools();
  return { client, transport, id: transport.sessionId! };
}

async function del(path: string, id: string, token = AGENT_TOKEN, body?: string) {
  const before = mcp.seen.length;
  const res = await fetch(`${gw.url}${path}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${token}`, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18", ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body } : {}),
  });
  await res.text();
  return { status: res.status, reached: mcp.seen.slice(before).some((s) => s.method === "DELETE") };
}

describe("the end of an MCP session", () => {
  it("the SDK's terminateSession() ends the session at the server", async () => {
    const { client, transport, id } = await openSession();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await transport.terminateSession();
    expect(mcp.closed).toContain(id);
    expect(transport.sessionId).toBeUndefined();
    await client.close();
  });

  it("a second DELETE of an ended session is an ordinary DELETE: refused, not sent", async () => {
    const { client, transport, id } = await openSession();
    await transport.terminateSession();
    expect(await del("/crm/mcp", id)).toEqual({ status: 403, reached: false });
    await client.close();
  });

  it("refuses, without sending, a DELETE whose session id the upstream did not issue to this agent at this path", async () => {
    const { client, id } = await openSession();
    expect(await del("/crm/mcp", randomUUID())).toEqual({ status: 403, reached: false });
    expect(await del("/crm/mcp", id, OTHER_TOKEN)).toEqual({ status: 403, reached: false });
    expect(await del("/crm/customers/1", id)).toEqual({ status: 403, reached: false });
    expect(await del("/crm/mcp", id, AGENT_TOKEN, '{"id":1}')).toEqual({ status: 403, reached: false });
    // The session itself is still open, and can be ended.
    expect(await del("/crm/mcp", id)).toEqual({ status: 200, reached: true });
    expect(mcp.closed).toContain(id);
    await client.close();
  });
});
