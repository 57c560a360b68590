// workers > 1 and a primary that does not answer in time (docs/workers.md): an MCP exchange that changes its
// session is refused before it is forwarded, and a session id the upstream issued is not relayed, in the
// answer an MCP client understands (a JSON-RPC error for a request with an id, else 503). Never forwarded
// with fewer masks. The gateway is the real one; the cluster link is one whose requests time out.

import { createServer, type Server } from "node:http";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterMcpSessions, type McpLink } from "../../src/cluster/index.js";
import { AGENT_TOKEN, closeServer, listen, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

let upstream: Server;
let gw: GatewayUnderTest;
const seen: string[] = [];

const silentPrimary: McpLink = {
  handle: () => undefined,
  request: (op, _body, ms) => new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`the cluster primary did not answer ${op} within ${ms} ms`)), ms)),
};

beforeAll(async () => {
  // An MCP server's answers, as far as the gateway needs them: initialize issues a session id.
  upstream = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      seen.push(`${req.method} ${req.headers["mcp-session-id"] ?? "-"} ${body}`);
      const msg = body ? (JSON.parse(body) as { id?: number; method?: string }) : {};
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (msg.method === "initialize") headers["mcp-session-id"] = "issued-7f3a";
      res.writeHead(200, headers).end(JSON.stringify({ jsonrpc: "2.0", id: msg.id ?? null, result: { email: "alice@example.com" } }));
    });
  });
  gw = await startGateway({
    decider: new TestRulesDecider(() => ({ mask: [{ field: "email", strategy: "redact" }] })),
    routes: [{ name: "crm-mcp", prefix: "/crm", upstream: await listen(upstream), credential: { type: "bearer", value: UPSTREAM_SECRET } }],
    mcp_sessions: new ClusterMcpSessions(silentPrimary, pino({ level: "silent" }), 100),
  });
});

afterAll(async () => {
  await gw.close();
  await closeServer(upstream);
});

const post = (body: unknown, session?: string) =>
  fetch(`${gw.url}/crm/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream", ...(session ? { "mcp-session-id": session } : {}) },
    body: JSON.stringify(body),
  });

describe("an MCP session change the primary does not confirm in time", () => {
  it("an initialize whose session id could not reach every worker: a JSON-RPC error, and no session id relayed", async () => {
    const res = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "a", version: "1" } } });
    expect(res.status).toBe(200);
    expect(res.headers.get("mcp-session-id")).toBeNull();
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: 0, error: { code: -32001, data: { code: "CLUSTER_UNAVAILABLE" } } });
  });

  it("a call in a session new to the cluster: a JSON-RPC error for its id, never forwarded", async () => {
    const before = seen.length;
    const res = await post({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "get_customer", arguments: {} } }, "s-unknown");
    expect(await res.json()).toMatchObject({ id: 9, error: { code: -32001, message: expect.stringMatching(/workers/), data: { code: "CLUSTER_UNAVAILABLE", decision_id: expect.any(String) } } });
    expect(seen.slice(before)).toEqual([]);
  });

  it("a GET of that session (no JSON-RPC id to answer): 503 CLUSTER_UNAVAILABLE with Retry-After, never forwarded", async () => {
    const before = seen.length;
    const res = await fetch(`${gw.url}/crm/mcp`, { headers: { authorization: `Bearer ${AGENT_TOKEN}`, accept: "text/event-stream", "mcp-session-id": "s-unknown" } });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({ error: "unavailable", code: "CLUSTER_UNAVAILABLE" });
    expect(seen.slice(before)).toEqual([]);
  });

  it("an exchange without a session id is not the cluster's business: forwarded and masked", async () => {
    const res = await post({ jsonrpc: "2.0", id: 3, method: "tools/list" });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).not.toContain("alice@example.com");
  });
});
