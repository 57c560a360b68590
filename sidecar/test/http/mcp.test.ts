// The MCP TypeScript SDK client talking streamable HTTP to an MCP server through regate.

import { createServer, type Server as HttpServer } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/http/index.js";
import { AGENT_TOKEN, allLogs, closeServer, CUSTOMER, listen, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

interface McpUpstream {
  url: string;
  http: HttpServer;
  deleted: unknown[];
  authorizations: (string | undefined)[];
}

/** A small MCP server (stateless streamable HTTP) that only accepts regate's credential. */
async function startMcpServer(enableJsonResponse: boolean): Promise<McpUpstream> {
  const deleted: unknown[] = [];
  const authorizations: (string | undefined)[] = [];
  const http = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    if (req.headers.authorization !== `Bearer ${UPSTREAM_SECRET}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
      return;
    }
    const server = new Server({ name: "crm-mcp", version: "1.0.0" }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: [
        { name: "get_customer", description: "Fetch a customer", inputSchema: { type: "object", properties: { id: { type: "number" } } } },
        { name: "delete_customer", description: "Delete a customer", inputSchema: { type: "object", properties: { id: { type: "number" } } } },
      ],
    }));
    server.setRequestHandler(CallToolRequestSchema, (request) => {
      if (request.params.name === "get_customer") {
        return { content: [{ type: "text", text: JSON.stringify(CUSTOMER, null, 2) }], structuredContent: { ...CUSTOMER } };
      }
      if (request.params.name === "delete_customer") {
        deleted.push(request.params.arguments?.id);
        return { content: [{ type: "text", text: "deleted" }] };
      }
      return { content: [{ type: "text", text: "unknown tool" }], isError: true };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    server
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch(() => res.destroy());
  });
  return { url: await listen(http), http, deleted, authorizations };
}

const TOOL_MASKS = [
  { field: "email", strategy: "partial" as const },
  { field: "ssn", strategy: "redact" as const },
  { detector: "card" as const, strategy: "partial" as const },
];

let sseServer: McpUpstream;
let jsonServer: McpUpstream;
let gw: GatewayUnderTest;
let decider: TestRulesDecider;
const clients: Client[] = [];

beforeAll(async () => {
  sseServer = await startMcpServer(false);
  jsonServer = await startMcpServer(true);
  decider = new TestRulesDecider((input) => {
    const mcp = (input.http as HttpInput).mcp;
    if (mcp?.method === "tools/call" && mcp.tool === "delete_customer") return { outcome: "deny", reasons: ["tool delete_customer is not allowed"] };
    if (mcp?.method === "tools/call" && mcp.tool === "get_customer") return { mask: TOOL_MASKS };
    return {};
  });
  gw = await startGateway({
    decider,
    routes: [
      { name: "mcp-sse", prefix: "/mcp-sse", upstream: `${sseServer.url}/mcp`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
      { name: "mcp-json", prefix: "/mcp-json", upstream: `${jsonServer.url}/mcp`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
    ],
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await gw.close();
  await closeServer(sseServer.http);
  await closeServer(jsonServer.http);
});

async function connect(route: string): Promise<Client> {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/${route}`), {
    requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

describe.each([
  ["SSE responses", "mcp-sse", () => sseServer],
  ["JSON responses", "mcp-json", () => jsonServer],
])("MCP through regate (%s)", (_name, route, server) => {
  it("an allowed call succeeds", async () => {
    const client = await connect(route);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(["get_customer", "delete_customer"]);
    const methods = decider.inputs.map((i) => (i.http as HttpInput).mcp?.method);
    expect(methods).toContain("initialize");
    expect(methods).toContain("tools/list");
  });

  it("a tool result with email and card fields comes back masked", async () => {
    const client = await connect(route);
    const result = await client.callTool({ name: "get_customer", arguments: { id: 1 } });
    const content = result.content as { type: string; text: string }[];
    const fromText = JSON.parse(content[0]!.text) as typeof CUSTOMER;
    expect(fromText).toMatchObject({
      name: "Alice Smith",
      email: "***@example.com",
      ssn: "****",
      card_number: "**** **** **** 1111",
      note: "backup card ****-****-****-0004, order 4111111111111112",
    });
    expect(result.structuredContent).toMatchObject({ email: "***@example.com", ssn: "****", card_number: "**** **** **** 1111" });
    const everything = JSON.stringify(result);
    for (const raw of [CUSTOMER.email, CUSTOMER.ssn, CUSTOMER.card_number, "5500-0000-0000-0004"]) expect(everything).not.toContain(raw);
    const input = decider.inputs.find((i) => (i.http as HttpInput).mcp?.tool === "get_customer")!;
    expect((input.http as HttpInput).mcp).toMatchObject({ type: "request", method: "tools/call", tool: "get_customer", arguments: { id: 1 } });
  });

  it("a denied tool gets an error and never reaches the server", async () => {
    const client = await connect(route);
    const err = (await client.callTool({ name: "delete_customer", arguments: { id: 1 } }).catch((e: unknown) => e)) as Error & { code?: number };
    expect(err).toBeInstanceOf(Error);
    // A JSON-RPC error for the call, not an HTTP failure: the agent's tool result carries the whole first line.
    expect(err.code).toBe(-32001);
    expect(err.message).toMatch(/regate refused this request: tool delete_customer is not allowed \(decision [0-9a-f-]{36}\)\. Next: .+\./);
    expect(server().deleted).toEqual([]);
  });

  it("the server only ever saw regate's credential", () => {
    expect(server().authorizations.length).toBeGreaterThan(0);
    expect(new Set(server().authorizations)).toEqual(new Set([`Bearer ${UPSTREAM_SECRET}`]));
  });
});

describe("logs", () => {
  it("carry neither secret nor masked value", () => {
    const logs = allLogs(gw.lines);
    for (const s of [UPSTREAM_SECRET, AGENT_TOKEN, CUSTOMER.email, CUSTOMER.ssn]) expect(logs).not.toContain(s);
  });
});
