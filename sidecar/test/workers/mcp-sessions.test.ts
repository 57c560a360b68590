// workers: 2 and a stateful MCP server (docs/workers.md): an MCP client's connections land on either worker,
// so what one worker learnt of a session (whose it is, that the upstream issued it, the masks its exchanges
// had) must hold on the other before the agent can get there. The upstream is the real SDK server with
// sessions and an event store (as in test/http/mcp-redteam.test.ts); the agents are the SDK's Client and raw
// fetches, each on a connection whose worker the test knows (the upstream sees which worker's socket it is).
// The server's tools answer when the test opens their gates and responses are read until what the test waits
// for has come: nothing here depends on how fast a loaded machine finds a connection or relays an answer.

import { randomUUID } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import type { Socket } from "node:net";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { fetch as undiciFetch, type Client, type Response } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeServer, CUSTOMER, listen, UPSTREAM_SECRET } from "../http/fixtures.js";
import { buildBundle } from "../reliability/support/bundles.js";
import { RELIABILITY_AGENT, type RegateChild } from "../reliability/support/regate-child.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { whenTrue } from "../support/wait.js";
import { startWorkers, workerPids } from "./support.js";
import { workerOfUpstreamSocket } from "./upstream-socket.js";
import { connectionOn as connectionFound } from "./worker-connection.js";
import { gates, heldCrmServer, readUntil } from "./mcp-held.js";
import { mcpHeaders, orderedEvents, toolCall } from "../http/mcp-exchange.js";

const OTHER = { subject: "other-agent", token: `other-agent-${randomUUID()}` };

// Allows everything; masks the customer tool's results only, so that another tool's exchange has no rules.
const POLICY = `package regate

customer_call if {
	input.http.mcp.method == "tools/call"
	input.http.mcp.tool == "get_customer"
}

mask := [{"field": "email", "strategy": "redact"}, {"field": "ssn", "strategy": "redact"}] if customer_call
else := []

decision := {"allow": true, "deny": [], "mask": mask}
`;

interface Seen {
  method: string;
  session?: string;
  /** The regate worker (pid) whose upstream connection carried the request. */
  worker?: number;
}

let db: TestPostgres;
let regate: RegateChild;
let mcp: HttpServer;
let mcpPort: number;
let workers: number[] = [];
const ran: string[] = [];
const seen: Seen[] = [];
const connections: Client[] = [];

/** Which of regate's workers holds the other end of this upstream socket. */
const workerOfSocket = (socket: Socket): number | undefined => workerOfUpstreamSocket(socket, mcpPort, workers);

/** The SDK's stateful server, as its own examples build one; `/whoami` names the worker a request came through. */
async function startMcp(): Promise<void> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  mcp = createServer((req, res) => {
    const worker = workerOfSocket(req.socket);
    if (req.headers.authorization !== `Bearer ${UPSTREAM_SECRET}`) return void res.writeHead(401).end();
    if (req.url === "/whoami") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ worker }));
    const session = req.headers["mcp-session-id"] as string | undefined;
    seen.push({ method: req.method ?? "", ...(session ? { session } : {}), ...(worker ? { worker } : {}) });
    const known = session ? transports.get(session) : undefined;
    if (known) return void known.handleRequest(req, res);
    if (session || req.method !== "POST") return void res.writeHead(404).end();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // In the order stored: the SDK's example store sorts by id, and a tool that answers at once can store its
      // response in the same millisecond as the stream's priming event, with a random tail that sorts it first
      // (a resumption after the priming event then replays nothing).
      eventStore: orderedEvents(),
      onsessioninitialized: (id) => void transports.set(id, transport),
    });
    const server = heldCrmServer(ran);
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  const url = await listen(mcp);
  mcpPort = Number(new URL(url).port);
}

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  await startMcp();
  const bundle = buildBundle("workers-mcp", { "mcp.rego": POLICY }, false);
  regate = await startWorkers(
    db,
    "workers-mcp",
    {
      agents: {
        tokens: [
          { subject: RELIABILITY_AGENT.user, groups: ["agents"], token: { env: "REL_AGENT_TOKEN" } },
          { subject: OTHER.subject, groups: ["agents"], token: { value: OTHER.token } },
        ],
      },
      http: {
        enabled: true,
        listen: { host: "127.0.0.1", port: 0 },
        routes: [{ name: "crm-mcp", prefix: "/crm", upstream: `http://127.0.0.1:${mcpPort}`, credential: { type: "bearer", secret: { value: UPSTREAM_SECRET } } }],
      },
    },
    bundle,
  );
  workers = workerPids(regate.pid);
  expect(workers).toHaveLength(2);
}, 180_000);

afterAll(async () => {
  gates.get_customer.open();
  gates.run_report.open();
  // destroy, not close: close waits for the event streams a failed test left open, and would hang here.
  await Promise.all(connections.map((c) => c.destroy().catch(() => undefined)));
  await regate?.stop();
  if (mcp) await closeServer(mcp);
  await db?.stop();
});

const base = () => `http://127.0.0.1:${regate.ports.http}`;

/** A new connection to regate, on worker `pid`, to be used at once (worker-connection.ts). */
async function connectionOn(pid: number): Promise<Client> {
  const c = await connectionFound(base(), pid, async (c) => {
    const r = await c.request({ method: "GET", path: "/crm/whoami", headers: { authorization: `Bearer ${RELIABILITY_AGENT.token}` } });
    return ((await r.body.json()) as { worker?: number }).worker;
  });
  connections.push(c);
  return c;
}

/** fetch over a connection of its own on worker `pid`. */
async function fetchOn(pid: number, url: string, init: Parameters<typeof undiciFetch>[1] = {}): Promise<Response> {
  return undiciFetch(url, { ...init, dispatcher: await connectionOn(pid) });
}

/**
 * The SDK's client whose initialize goes through worker `opens`, and every later request (calls, its GET
 * stream, its DELETE) through `uses`, each on a connection of its own.
 */
async function openSession(opens: number, uses: number, token = RELIABILITY_AGENT.token): Promise<{ client: McpClient; id: string }> {
  const fetchVia = (async (url: string | URL, init?: RequestInit) => {
    const initialize = typeof init?.body === "string" && init.body.includes('"method":"initialize"');
    return fetchOn(initialize ? opens : uses, String(url), init as Parameters<typeof undiciFetch>[1]);
  }) as unknown as typeof fetch;
  const transport = new StreamableHTTPClientTransport(new URL(`${base()}/crm/mcp`), { fetch: fetchVia, requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new McpClient({ name: "agent", version: "1.0.0" });
  await client.connect(transport);
  return { client, id: transport.sessionId! };
}

const headers = (session: string, extra: Record<string, string> = {}) => mcpHeaders(RELIABILITY_AGENT.token, session, extra);
const call = toolCall;
/** An event stream's text holds the JSON-RPC response to `id`. */
const answers = (id: number) => (text: string) => text.includes(`"id":${id}}`) || text.includes(`"id":${id},`);

/** Each test searches for several connections on given workers, which a loaded machine slows: its only bound. */
const TEST_TIMEOUT_MS = 120_000;

describe("workers: 2, MCP sessions", () => {
  it("a session opened on one worker is used through the SDK on the other, and resumed there (Last-Event-ID) masked", async () => {
    const [a, b] = workers as [number, number];
    const { client, id: session } = await openSession(a, b);
    const result = await client.callTool({ name: "get_customer", arguments: { id: 1 } });
    expect(JSON.parse((result.content as { text: string }[])[0]!.text)).toMatchObject({ name: "Alice Smith", email: expect.not.stringContaining("alice") });
    // The server saw the session from both workers: opened through one, used through the other.
    expect(seen.find((s) => s.method === "POST" && s.session === undefined && s.worker === a)).toBeDefined();
    expect(seen.filter((s) => s.session === session).map((s) => s.worker)).toContain(b);
    // A masked call answered through worker A; its stream resumed through worker B.
    const res = await fetchOn(a, `${base()}/crm/mcp`, { method: "POST", headers: headers(session), body: call(78, "get_customer", { id: 1 }) });
    // The stream ends once the server has sent its one response.
    const first = await readUntil(res);
    expect(first).toContain("Alice Smith");
    expect(first).not.toContain(CUSTOMER.email);
    const eventId = /^id: (.+)$/m.exec(first)?.[1];
    expect(eventId).toBeDefined();
    const replay = await fetchOn(b, `${base()}/crm/mcp`, { method: "GET", headers: headers(session, { accept: "text/event-stream", "last-event-id": eventId! }) });
    expect(replay.status).toBe(200);
    // The resumed stream stays open after the replay: read until the replayed response is there.
    const replayed = await readUntil(replay, answers(78));
    expect(replayed).toContain("Alice Smith");
    expect(replayed).not.toContain(CUSTOMER.email);
    expect(replayed).not.toContain(CUSTOMER.ssn);
    await client.close();
  }, TEST_TIMEOUT_MS);

  it("a masked call's result, read through the other worker by a call reusing its id, is masked", async () => {
    const [a, b] = workers as [number, number];
    // Opened and used on worker A only: worker B has never seen this session's exchanges.
    const { client, id: session } = await openSession(a, a);
    try {
      ran.length = 0;
      gates.get_customer.hold();
      gates.run_report.hold();
      const masked = await fetchOn(a, `${base()}/crm/mcp`, { method: "POST", headers: headers(session), body: call(77, "get_customer", { id: 1 }) });
      // The masked call runs at the server and waits there; its id is then taken over by the second call, whose
      // stream gets the response to id 77 the server sends next.
      await whenTrue(() => ran.includes("get_customer"));
      const other = await fetchOn(b, `${base()}/crm/mcp`, { method: "POST", headers: headers(session), body: call(77, "run_report") });
      await whenTrue(() => ran.includes("run_report"));
      gates.get_customer.open();
      const got = await readUntil(other);
      // The server did put the masked call's result on the exchange through worker B: it arrives masked.
      expect(got).toContain("Alice Smith");
      expect(got).not.toContain(CUSTOMER.email);
      expect(got).not.toContain(CUSTOMER.ssn);
      expect(got).not.toContain("report ready");
      expect(seen.filter((s) => s.session === session && s.method === "POST").map((s) => s.worker).slice(-2)).toEqual([a, b]);
      // The server never answers the first stream (its id went to the second one's): stop reading it.
      await masked.body?.cancel().catch(() => undefined);
    } finally {
      gates.get_customer.open();
      gates.run_report.open();
      await client.close();
    }
  }, TEST_TIMEOUT_MS);

  it("another agent's use of the session on the other worker is refused and never reaches the server", async () => {
    const [a, b] = workers as [number, number];
    const { client, id: session } = await openSession(a, a);
    const before = seen.length;
    const stolen = { ...headers(session), authorization: `Bearer ${OTHER.token}` };
    const get = await fetchOn(b, `${base()}/crm/mcp`, { method: "GET", headers: { ...stolen, accept: "text/event-stream" } });
    expect(get.status).toBe(400);
    expect(await get.json()).toMatchObject({ code: "PROTOCOL_VIOLATION", reason: expect.stringMatching(/issued to another agent/) });
    const post = await fetchOn(b, `${base()}/crm/mcp`, { method: "POST", headers: stolen, body: call(5, "get_customer", { id: 1 }) });
    expect(post.status).toBe(200);
    expect(await post.json()).toMatchObject({ id: 5, error: { code: -32001, data: { code: "PROTOCOL_VIOLATION", reason: expect.stringMatching(/issued to another agent/) } } });
    expect(seen.slice(before).filter((s) => s.session === session && s.worker === b)).toEqual([]);
    await client.close();
  }, TEST_TIMEOUT_MS);
});
