// Red team: MCP calls a lenient server runs otherwise than the policy judged them. The SDKs check
// `"jsonrpc": "2.0"` and read `method` and `params.name` as exact strings; many hand-written servers do not.
// The server here is such a one, on plain node:http speaking streamable HTTP as the SDKs do (JSON or an
// event stream per POST, 202 for notifications, a session id from initialize): it skips the version check,
// routes a method trimmed and lower-cased through a handler table, looks a tool up with `tools[name]` (a
// property lookup, which reads ["delete_customer"] as "delete_customer"), takes JSON-RPC's by-position
// params ([name, arguments]) and answers a batch inside a batch. Judged by what it ran and by what the agent
// read, under the example policy (tools named delete* are denied, PII masked).

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, closeServer, CUSTOMER, listen, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

type Rpc = Record<string, unknown>;

/** Tools the server ran, by the name it looked them up with. */
const ran: string[] = [];
/** Bodies the server got at /plain (a route that is not MCP). */
const plain: string[] = [];

const TOOLS: Record<string, (args: Rpc) => unknown> = {
  get_customer: () => ({ content: [{ type: "text", text: JSON.stringify(CUSTOMER) }], structuredContent: { ...CUSTOMER } }),
  // As many tools answer: the record written into a sentence, where only the policy's detectors look.
  describe_customer: () => ({ content: [{ type: "text", text: `Alice Smith (${CUSTOMER.email}), SSN ${CUSTOMER.ssn}, pays with ${CUSTOMER.card_number}` }] }),
  run_report: () => ({ content: [{ type: "text", text: "report ready" }] }),
  delete_customer: () => ({ content: [{ type: "text", text: "deleted" }] }),
};

const HANDLERS: Record<string, (params: unknown) => unknown> = {
  initialize: () => ({ protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "lenient-crm", version: "1.0.0" } }),
  "tools/list": () => ({ tools: Object.keys(TOOLS).map((name) => ({ name, inputSchema: { type: "object" } })) }),
  "tools/call": (params) => {
    // By-position params are JSON-RPC 2.0's other form: [name, arguments].
    const [name, args] = Array.isArray(params) ? (params as [unknown, Rpc]) : [(params as Rpc)["name"], (params as Rpc)["arguments"] as Rpc];
    const tool = TOOLS[name as string];
    if (!tool) throw new Error(`unknown tool ${String(name)}`);
    ran.push(String(name));
    return tool(args ?? {});
  },
};

/** One message answered, or undefined for a notification; an array is a batch, answered as one. */
function answer(m: unknown): unknown {
  if (Array.isArray(m)) return m.map(answer).filter((a) => a !== undefined);
  const msg = m as Rpc;
  const handler = HANDLERS[String(msg["method"]).trim().toLowerCase()];
  let reply: Rpc;
  try {
    if (!handler) throw new Error("method not found");
    reply = { jsonrpc: "2.0", id: msg["id"], result: handler(msg["params"]) };
  } catch (err) {
    reply = { jsonrpc: "2.0", id: msg["id"], error: { code: -32601, message: (err as Error).message } };
  }
  return "id" in msg ? reply : undefined;
}

async function lenientMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text = "";
  for await (const chunk of req) text += chunk;
  if (req.url?.startsWith("/plain")) {
    plain.push(text);
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    return;
  }
  if (req.method !== "POST") {
    res.writeHead(405).end();
    return;
  }
  const body = JSON.parse(text) as unknown;
  const out = answer(body);
  if (out === undefined || (Array.isArray(out) && out.length === 0)) {
    res.writeHead(202).end();
    return;
  }
  const headers: Record<string, string> = { "mcp-session-id": (req.headers["mcp-session-id"] as string | undefined) ?? randomUUID() };
  // As the SDKs do by default: an event stream when the client takes one, JSON otherwise.
  if (String(req.headers.accept).includes("text/event-stream")) {
    res.writeHead(200, { ...headers, "content-type": "text/event-stream" }).end(`event: message\ndata: ${JSON.stringify(out)}\n\n`);
    return;
  }
  res.writeHead(200, { ...headers, "content-type": "application/json" }).end(JSON.stringify(out));
}

let upstream: HttpServer;
let gw: GatewayUnderTest;

beforeAll(async () => {
  upstream = createServer((req, res) => void lenientMcp(req, res).catch(() => res.destroy()));
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const url = await listen(upstream);
  gw = await startGateway({
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [], logMask: true }),
    routes: [
      { name: "crm-mcp", prefix: "/crm", upstream: `${url}/mcp`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
      { name: "plain", prefix: "/plain", upstream: `${url}/plain`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
    ],
  });
});

afterAll(async () => {
  await gw.close();
  await closeServer(upstream);
});

const post = (path: string, body: string) =>
  fetch(`${gw.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body });

const call = (o: Rpc) => JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "delete_customer", arguments: { id: 1 } }, ...o });
const withoutVersion = (o: Rpc) => JSON.stringify({ id: 9, method: "tools/call", params: { name: "delete_customer", arguments: { id: 1 } }, ...o });

describe("a denied tool the lenient server would run, refused in JSON-RPC for the request's id", () => {
  it.each([
    ["without a jsonrpc member", withoutVersion({}), /MCP tool delete_customer is not allowed/],
    ['with "jsonrpc": 2 (a number)', withoutVersion({ jsonrpc: 2 }), /MCP tool delete_customer is not allowed/],
    ['with "jsonrpc": "1.0"', withoutVersion({ jsonrpc: "1.0" }), /MCP tool delete_customer is not allowed/],
    ["with the name in an array", call({ params: { name: ["delete_customer"], arguments: { id: 1 } } }), /params\.name is not a string/],
    ["with the method in an array", call({ method: ["tools/call"] }), /method that is not a string/],
    ["with the method in capitals and a space", call({ method: "Tools/Call " }), /"Tools\/Call "/],
    ["with by-position params", call({ params: ["delete_customer", { id: 1 }] }), /params that are not an object/],
  ])("%s: never runs", async (_name, body, reason) => {
    ran.length = 0;
    const res = await post("/crm", body);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: 9, error: { code: -32001, message: expect.stringMatching(reason) } });
    expect(ran).toEqual([]);
  });

  it("a batch inside a batch: never runs", async () => {
    ran.length = 0;
    const res = await post("/crm", JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "run_report" } }, [JSON.parse(call({})) as Rpc]]));
    expect(await res.json()).toMatchObject([{ jsonrpc: "2.0", id: 1, error: { code: -32001, message: expect.stringMatching(/batch inside a batch/) } }]);
    expect(ran).toEqual([]);
  });

  it("a notification without a version: refused, never runs", async () => {
    ran.length = 0;
    const res = await post("/crm", JSON.stringify({ method: "tools/call", params: { name: "delete_customer", arguments: { id: 1 } } }));
    expect(res.status).toBe(403);
    expect(ran).toEqual([]);
  });

  it("a result asked for without a version is masked as an MCP answer (the detectors read its prose)", async () => {
    const res = await post("/crm", JSON.stringify({ id: 3, method: "tools/call", params: { name: "describe_customer", arguments: { id: 1 } } }));
    const text = await res.text();
    expect(text).toContain("Alice Smith");
    for (const raw of [CUSTOMER.email, CUSTOMER.ssn, CUSTOMER.card_number]) expect(text).not.toContain(raw);
  });
});

describe("must allow", () => {
  it("the SDK client's session: tools listed, a masked call, an unmasked one; delete_customer is the policy's refusal", async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/crm`), { requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } } });
    const client = new Client({ name: "agent", version: "1.0.0" });
    await client.connect(transport);
    ran.length = 0;
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["get_customer", "describe_customer", "run_report", "delete_customer"]);
    const got = await client.callTool({ name: "get_customer", arguments: { id: 1 } });
    expect(got.structuredContent).toMatchObject({ name: "Alice Smith", email: expect.not.stringContaining("alice") });
    expect((await client.callTool({ name: "run_report", arguments: {} })).content).toEqual([{ type: "text", text: "report ready" }]);
    await expect(client.callTool({ name: "delete_customer", arguments: { id: 1 } })).rejects.toThrow(/MCP tool delete_customer is not allowed/);
    expect(ran).toEqual(["get_customer", "run_report"]);
    await client.close();
  });

  it("a batch of allowed calls runs whole", async () => {
    ran.length = 0;
    const res = await post("/crm", JSON.stringify([1, 2].map((id) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "run_report", arguments: {} } }))));
    expect((await res.text()).match(/report ready/g)).toHaveLength(2);
    expect(ran).toEqual(["run_report", "run_report"]);
  });

  it.each([
    ['{"method":"card","amount":5}'],
    ['{"method":["card","wire"],"id":7}'],
    ['{"jsonrpc":"2.0","id":1,"method":"orders.create","params":["a",1]}'],
  ])("a body that is not MCP passes as sent: %s", async (body) => {
    const res = await post("/plain", body);
    expect(res.status).toBe(200);
    expect(plain.at(-1)).toBe(body);
  });
});
