// workers: 2: a lock placed through worker 0's admin API ends the locked agent's HTTP exchanges in flight on
// both workers (docs/workers.md, docs/incident-response.md): on each worker its event stream is cut and its
// request waiting on a slow upstream is refused 403 LOCKED, while another agent's stream on each worker goes
// on. Each exchange rides a connection of its own whose worker the test knows: the upstream reads from /proc
// which worker process holds the other end of its socket.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { Client, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeServer, listen } from "../http/fixtures.js";
import { buildBundle } from "../reliability/support/bundles.js";
import { RELIABILITY_AGENT, type RegateChild } from "../reliability/support/regate-child.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { until } from "../support/wait.js";
import { adminCall, startWorkers, workerPids } from "./support.js";
import { workerOfUpstreamSocket } from "./upstream-socket.js";
import { readNumberedEvents } from "../support/event-stream.js";

const OTHER = { subject: "other-agent", token: `other-agent-${randomUUID()}` };
const ALLOW_ALL = `package regate

decision := {"allow": true, "deny": [], "mask": []}
`;

let db: TestPostgres;
let regate: RegateChild;
let upstream: Server;
let upstreamPort: number;
let workers: number[] = [];
const connections: Client[] = [];

/** Per stream (its ?who=): the last event number the upstream wrote, and whether regate's side closed it. */
const streams = new Map<string, { sent: number; closed: boolean }>();
/** Slow answers the upstream was waiting to give (by ?who=), and whether regate aborted them first. */
const slow = new Map<string, { aborted: boolean }>();
/**
 * How long the slow upstream takes to answer: far past WITHIN_MS, so an answer the agent gets within WITHIN_MS of
 * the lock can only be regate's.
 */
const SLOW_MS = 40_000;
/**
 * Each worker ends its exchanges before it acknowledges the lock (ClusterLockStore), so before the admin API
 * answers; this bound only tells "ended by the lock" from "never ended" or "ended by a timeout of regate's" (the
 * route's timeout_ms is 30 s), on a machine as loaded as CI's.
 */
const WITHIN_MS = 10_000;

/** `p`, or a rejection saying `what` if it does not settle within WITHIN_MS. */
function within<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, no) => setTimeout(() => no(new Error(what)), WITHIN_MS).unref())]);
}

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  upstream = createServer((req, res) => {
    const worker = workerOfUpstreamSocket(req.socket, upstreamPort, workers);
    const url = new URL(req.url ?? "/", "http://upstream");
    const who = url.searchParams.get("who") ?? "";
    if (url.pathname === "/whoami") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ worker }));
    if (url.pathname === "/stream") {
      // An LLM-style event stream: one event every 50 ms for as long as the client reads.
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
    if (url.pathname === "/slow") {
      // An upstream that takes long to answer (a long tool call, a slow report).
      req.resume();
      const s = { aborted: false };
      slow.set(who, s);
      const answer = setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end('{"report":"done"}'), SLOW_MS);
      res.on("close", () => {
        if (!res.writableFinished) s.aborted = true;
        clearTimeout(answer);
      });
      return;
    }
    res.writeHead(404).end();
  });
  upstreamPort = Number(new URL(await listen(upstream)).port);
  regate = await startWorkers(
    db,
    "workers-lock-http",
    {
      agents: {
        tokens: [
          { subject: RELIABILITY_AGENT.user, groups: ["agents"], token: { env: "REL_AGENT_TOKEN" } },
          { subject: OTHER.subject, groups: ["agents"], token: { value: OTHER.token } },
        ],
      },
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${upstreamPort}` }] },
    },
    buildBundle("workers-lock-http", { "allow.rego": ALLOW_ALL }, false),
  );
  workers = workerPids(regate.pid);
  expect(workers).toHaveLength(2);
}, 180_000);

afterAll(async () => {
  await Promise.all(connections.map((c) => c.destroy().catch(() => undefined)));
  await regate?.stop();
  if (upstream) {
    upstream.closeAllConnections();
    await closeServer(upstream);
  }
  await db?.stop();
});

const base = () => `http://127.0.0.1:${regate.ports.http}`;

/** A connection of its own to regate, on worker `pid`, first used by `token` (the cluster hands connections round-robin: a few tries). */
async function connectionOn(pid: number, token: string): Promise<Client> {
  for (let i = 0; i < 40; i++) {
    const c = new Client(base(), { pipelining: 1 });
    const r = await c.request({ method: "GET", path: "/api/whoami", headers: { authorization: `Bearer ${token}` } });
    const { worker } = (await r.body.json()) as { worker?: number };
    if (worker === pid) {
      connections.push(c);
      return c;
    }
    await c.close();
    // The primary hands a connection to a worker that has taken the last one: a busy worker is skipped until it
    // has, so a loaded machine can send many in a row to the other one. Give it time, more each try.
    await new Promise((resolve) => setTimeout(resolve, 25 * i));
  }
  throw new Error(`no connection landed on worker ${pid}`);
}

/** Reads an event stream through regate on worker `pid`: the event numbers as they arrive, and when it ended. */
async function openStream(pid: number, token: string, who: string) {
  const res = await undiciFetch(`${base()}/api/stream?who=${who}`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" }, dispatcher: await connectionOn(pid, token) });
  expect(res.status).toBe(200);
  return readNumberedEvents(res);
}

/** A request of the agent waiting on the slow upstream through worker `pid`. */
async function pendingOn(pid: number, who: string) {
  const dispatcher = await connectionOn(pid, RELIABILITY_AGENT.token);
  return undiciFetch(`${base()}/api/slow?who=${who}`, { headers: { authorization: `Bearer ${RELIABILITY_AGENT.token}` }, dispatcher }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as any,
  }));
}

describe("workers: 2, a lock placed through worker 0 ends the agent's HTTP exchanges on both workers", () => {
  it("cuts its stream and refuses its pending request on each worker; another agent's stream on each worker goes on", async () => {
    const [a, b] = workers as [number, number];
    const mine = [await openStream(a, RELIABILITY_AGENT.token, "mine-a"), await openStream(b, RELIABILITY_AGENT.token, "mine-b")];
    const theirs = [await openStream(a, OTHER.token, "theirs-a"), await openStream(b, OTHER.token, "theirs-b")];
    await until(() => [...mine, ...theirs].every((s) => s.events.length >= 2));
    const pending = [pendingOn(a, "a"), pendingOn(b, "b")];
    await until(() => slow.has("a") && slow.has("b"));

    const created = await adminCall(regate, "POST", "/locks", { target: { principal: RELIABILITY_AGENT.user }, message: "exfiltrating over the model API in INC-33" });
    expect(created.status).toBe(201);
    const lock = created.body;
    // Cut on both workers before the API answered: nothing the upstream writes from here reaches the agent.
    const sentAtLock = mine.map((_, i) => streams.get(i === 0 ? "mine-a" : "mine-b")!.sent);

    for (const [i, s] of mine.entries()) {
      // Ended (the upstream never ends it), and none of what the upstream wrote after the API answered reached the agent.
      await within(s.done, `the locked agent's stream on worker ${workers[i]} was not cut`);
      expect(Math.max(...s.events)).toBeLessThanOrEqual(sentAtLock[i]!);
    }
    await until(() => streams.get("mine-a")!.closed && streams.get("mine-b")!.closed);

    // Answered by regate: the upstream answers only after SLOW_MS.
    for (const refused of await within(Promise.all(pending), "the locked agent's pending requests were not answered")) {
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: "denied", code: "LOCKED" });
      expect(refused.body.reason).toContain(`exfiltrating over the model API in INC-33 (lock ${lock.id})`);
    }
    // Aborted upstream, before the upstream answered, on both workers.
    await until(() => slow.get("a")!.aborted && slow.get("b")!.aborted);

    // The other agent's streams go on, on both workers.
    const before = theirs.map((s) => s.events.length);
    await until(() => theirs.every((s, i) => s.events.length >= before[i]! + 3));
    expect(streams.get("theirs-a")!.closed).toBe(false);
    expect(streams.get("theirs-b")!.closed).toBe(false);

    // Each worker enforced the lock on its own exchanges: one stream and one pending request each.
    const enforced = () =>
      regate
        .stdout()
        .split("\n")
        .filter((l) => l.includes('"event":"lock_enforced"') && l.includes(`"lock_id":"${lock.id}"`))
        .map((l) => JSON.parse(l));
    await until(() => enforced().length === 2);
    for (const e of enforced()) expect(e.http_requests_ended).toHaveLength(2);
    const metrics = await (await fetch(`http://127.0.0.1:${regate.ports.admin}/metrics`)).text();
    expect(metrics).toMatch(/^regate_http_requests_ended_by_operator_total\{by="lock"\} 4$/m);

    await Promise.all(theirs.map((s) => s.cancel()));
    expect((await adminCall(regate, "DELETE", `/locks/${lock.id}`)).status).toBe(200);
  }, 60_000);
});
