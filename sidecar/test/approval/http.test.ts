// Approvals on the HTTP path, end to end through regate (real policy bundle, approval service, admin API):
// fetch against a plain upstream, and the MCP SDK client against an MCP server over streamable HTTP.
import { createServer, type Server as HttpServer } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestPostgres } from "../support/postgres.js";
import { AGENT, type TestRegate } from "../support/regate.js";
import { api, approvalBundle, startApprovingRegate, until } from "./support.js";

/** What Node's fetch sends of its own: request headers the approval digest covers, shown to reviewers. */
const FETCH_HEADERS = "accept: */*\naccept-language: *\nsec-fetch-mode: cors\nuser-agent: node";

const OTHER = { user: "other-agent", token: "other-agent-token-77c1" };
const received: { method: string; url: string; body: string }[] = [];
const refunded: unknown[] = [];
let upstream: HttpServer;
let mcp: HttpServer;
let defer: TestRegate;
let hold: TestRegate;

function listen(s: HttpServer): Promise<string> {
  return new Promise((r) => s.listen(0, "127.0.0.1", () => r(`http://127.0.0.1:${(s.address() as { port: number }).port}`)));
}

/** regate with only the HTTP listener (no Postgres), routes /api and /mcp. */
function start(approve: Record<string, unknown>, api: string, mcpUrl: string): Promise<TestRegate> {
  const none = { user: "none", password: "none-password-unused" };
  const noPostgres = { host: "127.0.0.1", port: 1, database: "none", users: { scram: none, md5: none }, adminPassword: "none-admin-unused" } as unknown as TestPostgres;
  return startApprovingRegate(noPostgres, {}, approvalBundle(approve), {
    postgres: { enabled: false },
    agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }, { subject: OTHER.user, groups: ["agents"], token: { value: OTHER.token } }] },
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: api }, { name: "mcp", prefix: "/mcp", upstream: mcpUrl }] },
  });
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ method: req.method ?? "", url: req.url ?? "", body });
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  mcp = createServer((req, res) => {
    const server = new Server({ name: "shop-mcp", version: "1.0.0" }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: "refund_order", description: "Refund an order", inputSchema: { type: "object", properties: { id: { type: "number" } } } }] }));
    server.setRequestHandler(CallToolRequestSchema, (request) => {
      refunded.push(request.params.arguments?.["id"]);
      return { content: [{ type: "text", text: "refunded" }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => void transport.close());
    server.connect(transport).then(() => transport.handleRequest(req, res)).catch(() => res.destroy());
  });
  const [apiUrl, mcpUrl] = [await listen(upstream), await listen(mcp)];
  defer = await start({ reason: "refunds need approval", approvers: [], timeout_seconds: 120, mode: "defer", grant_seconds: 60 }, apiUrl, mcpUrl);
  hold = await start({ reason: "refunds need approval", approvers: [], timeout_seconds: 120, hold_max_seconds: 1 }, apiUrl, mcpUrl);
}, 120_000);

afterAll(async () => {
  await defer?.stop();
  await hold?.stop();
  upstream?.close();
  mcp?.close();
});

const post = (r: TestRegate, path: string, body: unknown, token = AGENT.token) =>
  fetch(`http://127.0.0.1:${r.app.ports.http}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const forwarded = (needle: string) => received.filter((x) => x.body.includes(needle)).length;
const approveNow = async (r: TestRegate, id: string) => {
  const a = (await api(r, `/approvals/${id}`)).body;
  expect((await api(r, `/approvals/${id}/approve`, { sha256: a.sha256 })).status).toBe(200);
};

describe("HTTP, defer mode (fetch)", () => {
  it("403 APPROVAL_PENDING with the approval id and next step; approved; the identical request is forwarded once; a changed body is not", async () => {
    const r1 = await post(defer, "/api/refunds", { order: 701 });
    expect(r1.status).toBe(403);
    const b1 = (await r1.json()) as Record<string, string>;
    expect(b1).toMatchObject({ error: "approval_pending", code: "APPROVAL_PENDING", approval_id: expect.stringMatching(/^apr_[0-9a-f]{16}$/), decision_id: expect.any(String) });
    expect(b1["reason"]).toMatch(/^regate refused this request: approval requested as apr_[0-9a-f]{16}; re-run the same request after a reviewer approves/);
    expect(b1["next_step"]).toMatch(/then re-run exactly the same request once/);
    const id = b1["approval_id"]!;
    expect(forwarded('"order":701')).toBe(0);
    const shown = (await api(defer, `/approvals/${id}`)).body;
    expect(shown).toMatchObject({ kind: "http", statement: { sql: `POST /refunds\nContent-Type: application/json\n${FETCH_HEADERS}`, parameters: ['{"order":701}'] }, principal: AGENT.user, target: "api" });
    // Still pending: the same id, no duplicate.
    expect(((await (await post(defer, "/api/refunds", { order: 701 })).json()) as Record<string, string>)["approval_id"]).toBe(id);
    await approveNow(defer, id);
    // A changed body does not use the grant.
    const changed = await post(defer, "/api/refunds", { order: 702 });
    expect(changed.status).toBe(403);
    expect(forwarded('"order":702')).toBe(0);
    const ok = await post(defer, "/api/refunds", { order: 701 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true });
    expect(forwarded('"order":701')).toBe(1);
    const again = await post(defer, "/api/refunds", { order: 701 });
    expect(again.status).toBe(403);
    expect(forwarded('"order":701')).toBe(1);
  });

  it("GET /.regate/approvals/{id} with the agent's own token; another agent gets 404; no token 401", async () => {
    const r = await post(defer, "/api/refunds", { order: 703 });
    const id = ((await r.json()) as Record<string, string>)["approval_id"]!;
    const get = (token?: string) => fetch(`http://127.0.0.1:${defer.app.ports.http}/.regate/approvals/${id}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const mine = await get(AGENT.token);
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ id, status: "pending", reason: "refunds need approval", statement: `POST /refunds\nContent-Type: application/json\n${FETCH_HEADERS}`, decided_at: null });
    expect((await get(OTHER.token)).status).toBe(404);
    expect((await get()).status).toBe(401);
    const list = (await (await fetch(`http://127.0.0.1:${defer.app.ports.http}/.regate/approvals`, { headers: { authorization: `Bearer ${OTHER.token}` } })).json()) as { approvals: unknown[] };
    expect(list.approvals).toEqual([]);
    // A malformed escape in the id is the agent's mistake: 400, not an internal error.
    const bad = await fetch(`http://127.0.0.1:${defer.app.ports.http}/.regate/approvals/%E0%A4%A`, { headers: { authorization: `Bearer ${AGENT.token}` } });
    expect(bad.status).toBe(400);
  });
});

describe("HTTP, hold mode (fetch)", () => {
  it("held, approved while held: forwarded at once", async () => {
    const pending = post(hold, "/api/refunds", { order: 711 });
    const a = await until(async () => (await api(hold, "/approvals?status=pending")).body.approvals.find((x: any) => x.statement.parameters?.[0]?.includes("711")) as any);
    await approveNow(hold, a.id);
    const r = await pending;
    expect(r.status).toBe(200);
    expect(forwarded('"order":711')).toBe(1);
  });

  it("held up to hold_max_seconds, then the pending answer; refused → 403 APPROVAL_REFUSED on the re-run's hold", async () => {
    const t0 = Date.now();
    const r = await post(hold, "/api/refunds", { order: 712 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(r.status).toBe(403);
    const b = (await r.json()) as Record<string, string>;
    expect(b).toMatchObject({ code: "APPROVAL_PENDING", approval_id: expect.any(String) });
    expect(b["reason"]).toMatch(/still pending as apr_/);
    const again = post(hold, "/api/refunds", { order: 712 });
    await new Promise((res) => setTimeout(res, 200));
    expect((await api(hold, `/approvals/${b["approval_id"]}/refuse`, { comment: "not this one" })).status).toBe(200);
    const refused = await again;
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "APPROVAL_REFUSED", reason: expect.stringMatching(/refused by alice: not this one/) });
    expect(forwarded('"order":712')).toBe(0);
  });
});

describe("HTTP, the agent hangs up while held", () => {
  it("the approval is withdrawn and nothing is forwarded", async () => {
    const ac = new AbortController();
    const r = fetch(`http://127.0.0.1:${hold.app.ports.http}/api/refunds`, { method: "POST", headers: { authorization: `Bearer ${AGENT.token}`, "content-type": "application/json" }, body: JSON.stringify({ order: 731 }), signal: ac.signal }).catch((e: Error) => e);
    const a = await until(async () => (await api(hold, "/approvals?status=pending")).body.approvals.find((x: any) => x.statement.parameters?.[0]?.includes("731")) as any);
    ac.abort();
    await r;
    await until(async () => (await api(hold, `/approvals/${a.id}`)).body.status === "withdrawn");
    expect(forwarded('"order":731')).toBe(0);
  });
});

describe("HTTP, the approval expires while held", () => {
  it("504 APPROVAL_EXPIRED, nothing forwarded", async () => {
    const short = await start({ reason: "refunds need approval", approvers: [], timeout_seconds: 1 }, `http://127.0.0.1:${(upstream.address() as { port: number }).port}`, `http://127.0.0.1:${(mcp.address() as { port: number }).port}`);
    try {
      const r = await post(short, "/api/refunds", { order: 721 });
      expect(r.status).toBe(504);
      expect(await r.json()).toMatchObject({ code: "APPROVAL_EXPIRED", reason: expect.stringMatching(/expired after 1s/) });
      expect(forwarded('"order":721')).toBe(0);
    } finally {
      await short.stop();
    }
  });
});

describe("MCP tools/call (SDK client)", () => {
  it("deferred as a JSON-RPC error naming the approval and next step; approved; the same call runs once", async () => {
    const client = new Client({ name: "agent", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${defer.app.ports.http}/mcp`), { requestInit: { headers: { authorization: `Bearer ${AGENT.token}` } } }));
    try {
      const call = () => client.callTool({ name: "refund_order", arguments: { id: 9 } });
      const err = (await call().catch((e: unknown) => e)) as Error & { code?: number; data?: Record<string, string> };
      expect(err.code).toBe(-32001);
      expect(err.message).toMatch(/approval requested as apr_[0-9a-f]{16}; re-run the same request after a reviewer approves/);
      expect(err.message).toMatch(/Next: wait for a reviewer to approve/);
      const id = err.data!["approval_id"]!;
      expect(refunded).toEqual([]);
      await approveNow(defer, id);
      expect(await call()).toMatchObject({ content: [{ type: "text", text: "refunded" }] });
      expect(refunded).toEqual([9]);
      const second = (await call().catch((e: unknown) => e)) as Error & { code?: number };
      expect(second.code).toBe(-32001);
      expect(refunded).toEqual([9]);
    } finally {
      await client.close();
    }
  });
});
