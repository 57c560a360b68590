// Failed agent logins with workers: 2 (identity/login-throttle.ts, cluster/login-throttle*.ts): the primary
// keeps one count for the cluster, so the configured limit holds for both workers together — not once per
// worker, and not a share of it per worker. Each attempt's worker is known: a Postgres connection's from
// the BackendKeyData pid of a login that succeeds, next to the failed ones (the cluster hands connections
// round-robin); an HTTP connection's from the upstream, which reads from /proc which worker holds its socket.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import pg from "pg";
import type { Client } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeServer, listen } from "../http/fixtures.js";
import { buildBundle } from "../reliability/support/bundles.js";
import { RELIABILITY_AGENT, type RegateChild } from "../reliability/support/regate-child.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { until } from "../support/wait.js";
import { connect, startWorkers, workerOf, workerPids } from "./support.js";
import { workerOfUpstreamSocket } from "./upstream-socket.js";
import { connectionsOn as connectionsFound } from "./worker-connection.js";

const PER_SOURCE = 4;
/** Another agent: its logins (never refused by the first one's count) show which worker the next connection goes to. */
const PROBE = { subject: "probe-agent", token: `probe-agent-${randomUUID()}` };
const ALLOW_ALL = `package regate

decision := {"allow": true, "deny": [], "mask": []}
`;

let db: TestPostgres;
let regate: RegateChild;
let upstream: Server;
let upstreamPort: number;
let workers: number[] = [];
const connections: Client[] = [];

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  upstream = createServer((req, res) => {
    const worker = workerOfUpstreamSocket(req.socket, upstreamPort, workers);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ worker }));
  });
  upstreamPort = Number(new URL(await listen(upstream)).port);
  regate = await startWorkers(
    db,
    "agent-logins",
    {
      agents: {
        tokens: [
          { subject: RELIABILITY_AGENT.user, groups: ["agents"], token: { env: "REL_AGENT_TOKEN" } },
          { subject: PROBE.subject, groups: ["agents"], token: { value: PROBE.token } },
        ],
        failed_logins: { per_source: PER_SOURCE, overall: 100, window_seconds: 60 },
      },
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${upstreamPort}` }] },
    },
    buildBundle("workers-agent-logins", { "allow.rego": ALLOW_ALL }, false),
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

/** A login of the agent: "ok" (and the worker that took it), or the SQLSTATE it was refused with. */
async function login(token: string): Promise<{ code: string; worker?: number; message?: string }> {
  const c = new pg.Client({ connectionString: regate.url(RELIABILITY_AGENT.user, token) });
  c.on("error", () => {});
  try {
    await c.connect();
    return { code: "ok", worker: workerOf(c)! };
  } catch (err) {
    return { code: (err as pg.DatabaseError).code ?? "?", message: (err as Error).message };
  } finally {
    await c.end().catch(() => {});
  }
}

/** The worker the probe agent's login landed on. */
async function probe(): Promise<number> {
  const c = await connect(regate.url(PROBE.subject, PROBE.token));
  const w = workerOf(c)!;
  await c.end();
  return w;
}

/** A login of the agent on worker `slot`: a probe lands on the other one first, and another after it proves the turn. */
async function loginOn(slot: number, token: string): Promise<{ code: string; worker?: number; message?: string }> {
  for (let i = 0; i < 10 && (await probe()) === slot; i++);
  const r = await login(token);
  if (r.worker !== undefined) expect(r.worker).toBe(slot);
  expect(await probe()).not.toBe(slot);
  return r;
}

const wrong = (i: number) => `wrong-guess-${i}-${randomUUID()}`;

const base = () => `http://127.0.0.1:${regate.ports.http}`;

/** Keep-alive connections of their own to regate, one on each worker of `pids`, to be used at once (worker-connection.ts). */
async function connectionsOn(pids: number[], localAddress = "127.0.0.1"): Promise<Client[]> {
  const found = await connectionsFound(base(), pids, async (c) => (await whoami(c)).worker, localAddress);
  connections.push(...found);
  return found;
}

const connectionOn = async (pid: number, localAddress?: string): Promise<Client> => (await connectionsOn([pid], localAddress))[0]!;

async function whoami(c: Client): Promise<{ status: number; worker?: number; retryAfter?: string; reason?: string }> {
  const r = await c.request({ method: "GET", path: "/api/whoami", headers: { authorization: `Bearer ${RELIABILITY_AGENT.token}` } });
  const body = (await r.body.json()) as { worker?: number; reason?: string };
  return { status: r.statusCode, ...(r.statusCode === 200 ? { worker: body.worker! } : { reason: body.reason!, retryAfter: String(r.headers["retry-after"]) }) };
}

async function bearer(c: Client, token: string): Promise<number> {
  const r = await c.request({ method: "GET", path: "/api/whoami", headers: { authorization: `Bearer ${token}` } });
  await r.body.dump();
  return r.statusCode;
}

describe("failed agent logins, workers: 2: one count for the cluster", () => {
  it("Postgres SCRAM: 3 wrong proofs on one worker are all checked and the right token still logs in; a 4th on the other worker throttles the agent on both (53300, even with the right token); another agent logs in", async () => {
    for (let i = 0; i < PER_SOURCE - 1; i++) expect((await loginOn(0, wrong(i))).code).toBe("28P01");
    // A share of the limit per worker (4 / 2) would have refused the third guess already, and this login.
    expect((await login(RELIABILITY_AGENT.token)).code).toBe("ok");
    expect((await loginOn(1, wrong(9))).code).toBe("28P01");
    // A limit per worker (4 each) would let these in: worker 1 has seen one failure, worker 0 three.
    for (const slot of [1, 0]) {
      const r = await loginOn(slot, RELIABILITY_AGENT.token);
      expect(r.code).toBe("53300");
      expect(r.message).toMatch(new RegExp(`user "${RELIABILITY_AGENT.user}" failed to log in ${PER_SOURCE} times within 60 s: new attempts are refused for \\d+ s`));
    }
    expect(await probe()).toBeGreaterThanOrEqual(0);
    const logged = await regate.grepStdout(/"event":"agent_logins_throttled"/);
    expect(logged.filter((l) => l.includes(`"name":"${RELIABILITY_AGENT.user}"`))).toHaveLength(1);
    expect(logged.join("\n")).not.toContain("wrong-guess");
  }, 120_000);

  it("HTTP bearer: 3 unknown tokens through one worker leave the address let in; a 4th through the other worker refuses it 429 through both", async () => {
    const [a, b] = workers as [number, number];
    // Both found together: one found first and left idle while the other is searched for would be closed and
    // replaced by a connection that could land on either worker.
    const [onA, onB] = (await connectionsOn([a, b])) as [Client, Client];
    for (let i = 0; i < PER_SOURCE - 1; i++) expect(await bearer(onA, wrong(i))).toBe(401);
    // Still let in, through the same worker (the connection is the same one): a share per worker would say 429.
    expect(await whoami(onA)).toEqual({ status: 200, worker: a });
    expect(await bearer(onB, wrong(9))).toBe(401);
    for (const c of [onB, onA]) {
      const r = await whoami(c);
      expect(r.status).toBe(429);
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(r.reason).toMatch(new RegExp(`agents at 127\\.0\\.0\\.1 failed to log in ${PER_SOURCE} times within 60 s`));
    }
  }, 120_000);

  it("a primary that does not answer: a worker refuses at its share (2 of 4), never unlimited; once the primary answers, what the worker counted meanwhile is in its count", async () => {
    // Another source address (loopback is 127/8): the address above is still refused.
    const [a] = workers as [number, number];
    const onA = await connectionOn(a, "127.0.0.2");
    process.kill(regate.pid, "SIGSTOP");
    try {
      expect(await bearer(onA, wrong(0))).toBe(401);
      expect(await bearer(onA, wrong(1))).toBe(401);
      const r = await whoami(onA);
      expect(r.status).toBe(429);
      expect(r.reason).toMatch(/agents at 127\.0\.0\.2 failed to log in 2 times within 60 s/);
    } finally {
      process.kill(regate.pid, "SIGCONT");
    }
    // The primary answers again: worker a's share stops refusing, and its two failures were counted there.
    let again: Client | undefined;
    await until(async () => {
      again = await connectionOn(a, "127.0.0.2").catch(() => undefined);
      return again !== undefined;
    }, 20_000);
    expect(await bearer(again!, wrong(2))).toBe(401);
    expect(await bearer(again!, wrong(3))).toBe(401);
    const r = await whoami(again!);
    expect(r.status).toBe(429);
    expect(r.reason).toMatch(new RegExp(`agents at 127\\.0\\.0\\.2 failed to log in ${PER_SOURCE} times within 60 s`));
  }, 120_000);
});
