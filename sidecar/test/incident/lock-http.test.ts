// A lock cuts the agent off over HTTP too, now: an event stream it is reading ends, a request waiting on a
// slow upstream is refused 403 LOCKED (a JSON-RPC error for an MCP call), both upstream exchanges are
// aborted, its idle keep-alive connection is closed, and another agent's stream goes on.
import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, OTHER, startIncidentRegate, until } from "./support.js";
import { readNumberedEvents } from "../support/event-stream.js";

const AGENT_TOKEN = "agent-token-7f3a9c";
let db: TestPostgres;
let regate: TestRegate;
let upstream: Server;
let httpPort: number;

/** Per stream (by its ?who=): the last event number the upstream wrote, and whether the agent's side closed it. */
const streams = new Map<string, { sent: number; closed: boolean }>();
/** Slow answers the upstream was waiting to give, by path, and whether regate aborted them first. */
const slow = new Map<string, { aborted: boolean }>();
/**
 * How long the slow upstream takes to answer: far past WITHIN_MS, so an answer the agent gets within WITHIN_MS of
 * the lock can only be regate's.
 */
const SLOW_MS = 25_000;
/**
 * A lock acts synchronously (LockService's endExchanges); this bound only tells "ended by the lock" from "never
 * ended" or "ended by a timeout of regate's" (the route's timeout_ms is 30 s), on a machine as loaded as CI's.
 */
const WITHIN_MS = 10_000;

/** `p`, or a rejection saying `what` if it does not settle within WITHIN_MS. */
function within<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, no) => setTimeout(() => no(new Error(what)), WITHIN_MS).unref())]);
}

beforeAll(async () => {
  db = await startPostgres();
  upstream = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://upstream");
    if (url.pathname === "/stream") {
      // An LLM-style event stream: one event every 50 ms for as long as the client reads.
      const who = url.searchParams.get("who") ?? "";
      const s = { sent: 0, closed: false };
      streams.set(who, s);
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
      const tick = setInterval(() => res.write(`data: ${++s.sent}\n\n`), 50);
      res.on("close", () => {
        s.closed = true;
        clearInterval(tick);
      });
      return;
    }
    if (url.pathname === "/slow" || url.pathname === "/mcp") {
      // An upstream that takes long to answer (a long tool call, a slow report).
      req.resume();
      const s = { aborted: false };
      slow.set(url.pathname, s);
      const answer = setTimeout(() => {
        const body = url.pathname === "/mcp" ? '{"jsonrpc":"2.0","id":7,"result":{"content":[]}}' : '{"report":"done"}';
        res.writeHead(200, { "content-type": "application/json" }).end(body);
      }, SLOW_MS);
      res.on("close", () => {
        if (!res.writableFinished) s.aborted = true;
        clearTimeout(answer);
      });
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  regate = await startIncidentRegate(db, {
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }] },
  });
  httpPort = regate.app.ports.http!;
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
});

const url = (path: string) => `http://127.0.0.1:${httpPort}/api${path}`;

/** Reads an event stream through regate: the event numbers as they arrive, and how and when it ended. */
async function openStream(token: string, who: string) {
  const res = await fetch(url(`/stream?who=${who}`), { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
  expect(res.status).toBe(200);
  return readNumberedEvents(res);
}

describe("a lock ends the agent's HTTP exchanges in flight", () => {
  it("cuts its event stream, refuses its pending requests, aborts them upstream, closes its idle connection; another agent's stream goes on", async () => {
    const mine = await openStream(AGENT_TOKEN, "mine");
    const theirs = await openStream(OTHER.token, "theirs");
    await until(() => mine.events.length >= 2 && theirs.events.length >= 2);

    // Two requests waiting on a slow upstream: a plain one and an MCP tool call.
    const pending = fetch(url("/slow"), { headers: { authorization: `Bearer ${AGENT_TOKEN}` } }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as any }));
    const call = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "search", arguments: { q: "x" } } };
    const pendingMcp = fetch(url("/mcp"), {
      method: "POST",
      headers: { authorization: `Bearer ${AGENT_TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(call),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    await until(() => slow.has("/slow") && slow.has("/mcp"));

    // An idle keep-alive connection the agent used a moment ago.
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    let idle: Socket | undefined;
    await new Promise<void>((resolve, reject) => {
      const r = request(url("/orders"), { agent: keepAlive, headers: { authorization: `Bearer ${AGENT_TOKEN}` } }, (res) => {
        idle = res.socket as Socket;
        res.resume();
        res.on("end", resolve);
      });
      r.on("error", reject);
      r.end();
    });
    const idleClosed = new Promise<void>((r) => idle!.once("close", () => r()));

    const created = await admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message: "exfiltrating over the model API in INC-21" });
    expect(created.status).toBe(201);
    const lock = created.body;
    // The stream was cut before the API answered: the upstream wrote nothing the agent gets after this.
    const sentAtLock = streams.get("mine")!.sent;

    // Ended (the upstream never ends it): before, the stream went on as long as the upstream wrote. And none of
    // what the upstream wrote after the API answered reached the agent.
    await within(mine.done, "the locked agent's stream was not cut");
    expect(Math.max(...mine.events)).toBeLessThanOrEqual(sentAtLock);
    await until(() => streams.get("mine")!.closed);

    // Answered by regate: the upstream answers only after SLOW_MS.
    const refused = await within(pending, "the locked agent's pending request was not answered");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("connection")).toBe("close");
    expect(refused.body).toMatchObject({ error: "denied", code: "LOCKED", next_step: "stop and report to your operator; do not retry or reconnect until they lift the lock" });
    expect(refused.body.reason).toBe(
      `regate refused this request: this agent is locked by an operator: exfiltrating over the model API in INC-21 (lock ${lock.id}). Next: stop and report to your operator; do not retry or reconnect until they lift the lock.`,
    );
    const rpc = await within(pendingMcp, "the locked agent's pending MCP call was not answered");
    expect(rpc.status).toBe(200);
    expect(rpc.body).toMatchObject({ jsonrpc: "2.0", id: 7, error: { code: -32001, data: { code: "LOCKED" } } });
    expect(rpc.body.error.message).toContain("exfiltrating over the model API in INC-21");
    // Both aborted upstream, before the upstream answered.
    await until(() => slow.get("/slow")!.aborted && slow.get("/mcp")!.aborted);
    await idleClosed;

    // The other agent's stream goes on.
    const before = theirs.events.length;
    await until(() => theirs.events.length >= before + 3);
    expect(streams.get("theirs")!.closed).toBe(false);

    // The next request is refused by the lock's decision.
    const next = await fetch(url("/orders"), { headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
    expect(next.status).toBe(403);
    expect(((await next.json()) as any).code).toBe("LOCKED");

    const metrics = await (await fetch(`http://127.0.0.1:${regate.app.ports.admin}/metrics`)).text();
    expect(metrics).toMatch(/^regate_http_requests_ended_by_operator_total\{by="lock"\} 3$/m);
    await until(() => regate.logs().includes('"event":"lock_enforced"'));
    const enforced = regate
      .logs()
      .split("\n")
      .filter((l) => l.includes('"event":"lock_enforced"'))
      .map((l) => JSON.parse(l));
    expect(enforced).toHaveLength(1);
    expect(enforced[0]).toMatchObject({ lock_id: lock.id, sessions_ended: [], http_connections_closed: 1 });
    expect(enforced[0].http_requests_ended).toHaveLength(3);
    // Each ended request's line names the lock; the cut stream's says it was aborted.
    await until(() => regate.logs().split("\n").filter((l) => l.includes(`"lock_id":"${lock.id}"`) && l.includes('"msg":"http request"')).length === 3);
    const lines = regate
      .logs()
      .split("\n")
      .filter((l) => l.includes(`"lock_id":"${lock.id}"`) && l.includes('"msg":"http request"'))
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.path, l.status, l.error_code, l.aborted ?? false]).sort()).toEqual([
      ["/api/mcp", 200, "LOCKED", false],
      ["/api/slow", 403, "LOCKED", false],
      ["/api/stream", 200, "LOCKED", true],
    ]);

    await theirs.cancel();
    keepAlive.destroy();
    await admin(regate, "DELETE", `/locks/${lock.id}`);
    // Lifted: the agent streams again.
    const again = await openStream(AGENT_TOKEN, "again");
    await until(() => again.events.length >= 1);
    await again.cancel();
  }, 30_000);
});
