// Field rules inside JSON that upstreams serialise into a string: MCP tool results (the SDK's server
// returns JSON.stringify(record) as text), APIs that wrap a payload, event data, a payload encoded twice.
// A real upstream (plain node:http writing the bytes Python, Go and PHP servers write, and the MCP SDK's
// server), a real policy compiled to WASM, and the bytes the agent receives.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { REDACTED } from "../../src/mask/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { wasmBundle } from "../policy/opa.js";
import { AGENT_TOKEN, closeServer, CUSTOMER, listen, rawRequest, startGateway, type GatewayUnderTest } from "./fixtures.js";

// `ssn` by name at any depth; `email` by JSON pointers that lead into the strings carrying the documents.
const POLICY = `package regate

decision := {"allow": true, "deny": [], "mask": [
	{"field": "ssn", "strategy": "redact"},
	{"field": "/data/email", "strategy": "redact"},
	{"field": "/result/content/*/text/email", "strategy": "redact"},
]}
`;

/** A JSON string as Python's json.dumps writes it (ensure_ascii): everything past ASCII as `\uXXXX`. */
const pyString = (s: string): string => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
/** A JSON string as Go's encoding/json writes it: `<`, `>` and `&` escaped for HTML. */
const goString = (s: string): string => JSON.stringify(s).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
/** A JSON string as PHP's json_encode writes it: `/` escaped. */
const phpString = (s: string): string => JSON.stringify(s).replace(/\//g, "\\/");

/** The record as a tool serialises it (UTF-8 as it is), with an integer past 2^53 and markup. */
const record = (ssn: string, email: string): string =>
  `{"id": 12345678901234567890, "name": "José <b>Núñez</b>", "email": ${JSON.stringify(email)}, "ssn": ${JSON.stringify(ssn)}, "site": "https://x.io/a"}`;

/** Each response the upstream gives, as a function of the values in it: the agent must get it with the masked ones. */
const BODIES: Record<string, (ssn: string, email: string) => string> = {
  // An MCP tools/call answer written by a Python server, the record as its text.
  "/py/mcp": (ssn, email) => `{"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": ${pyString(record(ssn, email))}}], "isError": false}}`,
  // An API wrapping its payload, written by Go; a string that only looks like JSON stays as it is.
  "/go/wrapped": (ssn, email) => `{"data":${goString(record(ssn, email))},"draft":${goString('{"ssn": "000-00-0000" <unfinished>')},"note":"{\\"email\\": 1}"}`,
  // The payload encoded twice, by PHP.
  "/php/twice": (ssn, email) => `{"data":${phpString(phpString(record(ssn, email)))}}`,
};

/** The same bodies as event data (a Go server's event stream): every event masked as a body is. */
const sse = (ssn: string, email: string): string => `event: message\ndata: ${BODIES["/go/wrapped"]!(ssn, email)}\n\ndata: ${BODIES["/py/mcp"]!(ssn, email)}\n\n`;

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://x");
  const [path, framing] = [url.pathname, url.searchParams.get("framing")];
  if (path === "/sse") {
    res.writeHead(200, { "content-type": "text/event-stream" });
    const text = sse(CUSTOMER.ssn, CUSTOMER.email);
    res.write(text.slice(0, 40));
    setImmediate(() => res.end(text.slice(40)));
    return;
  }
  const body = BODIES[path]?.(CUSTOMER.ssn, CUSTOMER.email);
  if (body === undefined) {
    res.writeHead(404).end();
    return;
  }
  if (framing === "chunked") {
    // Of unknown length: masked as it streams (upstream-json.ts), in pieces that cut the embedded document.
    res.writeHead(200, { "content-type": "application/json" });
    res.write(body.slice(0, 50));
    setImmediate(() => res.end(body.slice(50)));
    return;
  }
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
}

/** The MCP SDK's stateless server; its tool returns the customer record as JSON.stringify text. */
function mcpServer(json: boolean): Server {
  return createServer((req, res) => {
    const server = new McpServer({ name: "crm-mcp", version: "1.0.0" });
    server.registerTool("get_customer", {}, () => ({ content: [{ type: "text", text: JSON.stringify(CUSTOMER) }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: json });
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
}

let upstream: Server;
let mcpJson: Server;
let mcpSse: Server;
let gw: GatewayUnderTest;

beforeAll(async () => {
  upstream = createServer(handle);
  mcpJson = mcpServer(true);
  mcpSse = mcpServer(false);
  const store = new PolicyStore(wasmBundle("embedded-json", { "policy.rego": POLICY }, ["regate/decision"]));
  await store.load();
  gw = await startGateway({
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [], logMask: true }),
    routes: [
      { name: "api", prefix: "/api", upstream: await listen(upstream) },
      { name: "mcp-json", prefix: "/mcp-json", upstream: `${await listen(mcpJson)}/mcp` },
      { name: "mcp-sse", prefix: "/mcp-sse", upstream: `${await listen(mcpSse)}/mcp` },
    ],
  });
});

afterAll(async () => {
  await gw?.close();
  for (const s of [upstream, mcpJson, mcpSse]) if (s) await closeServer(s);
});

const get = (path: string) => rawRequest(`${gw.url}${path}`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } });

describe("JSON serialised in a string, masked by field rules, every other byte as the upstream wrote it", () => {
  it.each(Object.keys(BODIES).flatMap((path) => [[path, "length"] as const, [path, "chunked"] as const]))("%s (%s)", async (path, framing) => {
    const res = await get(`/api${path}?framing=${framing}`);
    expect(res.status).toBe(200);
    expect(res.body.toString("utf8")).toBe(BODIES[path]!(REDACTED, REDACTED));
  });

  it("event data", async () => {
    const res = await get("/api/sse");
    expect(res.status).toBe(200);
    expect(res.body.toString("utf8")).toBe(sse(REDACTED, REDACTED));
  });
});

describe("the MCP SDK's server: a tool's record as text", () => {
  const call = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "get_customer", arguments: {} } });
  const masked = JSON.stringify({ ...CUSTOMER, email: REDACTED, ssn: REDACTED });

  it.each(["mcp-json", "mcp-sse"])("%s: the email (by pointer) and SSN (by name) masked in the text, the rest as the tool wrote it", async (route) => {
    const res = await rawRequest(`${gw.url}/${route}`, {
      method: "POST",
      headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: call,
    });
    expect(res.status).toBe(200);
    const raw = res.body.toString("utf8");
    expect(raw).not.toContain(CUSTOMER.email);
    expect(raw).not.toContain(CUSTOMER.ssn);
    const message = route === "mcp-sse" ? /^data: (.*)$/m.exec(raw)![1]! : raw;
    expect((JSON.parse(message) as { result: { content: { text: string }[] } }).result.content[0]!.text).toBe(masked);
  });
});
