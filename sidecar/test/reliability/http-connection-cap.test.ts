// The HTTP listener's connection cap (http.limits.max_connections, docs/reliability.md): idle and slow clients
// holding every place cost bounded memory and cannot stall the listener. A connection over the cap is answered
// 503 CONNECTION_LIMIT with Retry-After and closed, one that sends nothing is closed after the grace period, a
// flood of them is bounded too, and as soon as one held connection closes a normal request is served.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_REFUSING, REFUSAL_GRACE_MS } from "../../src/http/connection-cap.js";
import { AGENT_TOKEN, authed, CUSTOMER, rawExchange, startGateway, startUpstream, TestRulesDecider, type GatewayUnderTest, type Upstream } from "../http/fixtures.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate } from "../support/regate.js";
import { until } from "../support/wait.js";

const CAP = 4;
let upstream: Upstream;
let gw: GatewayUnderTest;
let refused = 0;
const held: Socket[] = [];
const trickles: NodeJS.Timeout[] = [];

async function open(): Promise<Socket> {
  const s = connect(gw.port, "127.0.0.1");
  s.on("error", () => undefined);
  await new Promise((r) => s.once("connect", r));
  return s;
}

function serverConnections(): Promise<number> {
  return new Promise((resolve, reject) => gw.gateway.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

const request = `GET /api/customers/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\n\r\n`;

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startGateway({
    routes: [{ name: "api", prefix: "/api", upstream: `${upstream.url}/api` }],
    decider: new TestRulesDecider(() => ({})),
    limits: { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 1500, max_connections: CAP },
    onConnectionRefused: () => refused++,
  });
  // The cap is reached by clients that hold a connection and do nothing useful: two idle, two trickling headers.
  for (let i = 0; i < CAP; i++) held.push(await open());
  for (const s of held.slice(2)) {
    s.write("GET /api/customers/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    trickles.push(setInterval(() => !s.destroyed && s.write("a"), 100));
  }
  await until(async () => (await serverConnections()) === CAP);
});

afterAll(async () => {
  for (const t of trickles) clearInterval(t);
  for (const s of held) s.destroy();
  await gw?.close();
  await upstream?.close();
});

describe("HTTP connection cap", () => {
  it("a connection over the cap gets 503 CONNECTION_LIMIT with Retry-After and a JSON reason, then is closed", async () => {
    const before = refused;
    const out = await rawExchange(gw.port, request);
    expect(out).toMatch(/^HTTP\/1\.1 503 /);
    expect(out).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(out).toMatch(/\r\nconnection: close\r\n/i);
    const body = JSON.parse(out.slice(out.indexOf("\r\n\r\n") + 4)) as { error: string; code: string; reason: string };
    expect(body).toMatchObject({ error: "too_many_connections", code: "CONNECTION_LIMIT" });
    expect(body.reason).toContain(`${CAP} HTTP connections open`);
    expect(refused - before).toBe(1);
    // Never forwarded: the upstream saw nothing.
    expect(upstream.requests).toHaveLength(0);
  });

  it("fetch over the cap sees the same 503", async () => {
    const res = await fetch(`${gw.url}/api/customers/1`, { headers: authed() });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({ code: "CONNECTION_LIMIT" });
  });

  it("a connection over the cap that sends nothing is closed after the grace period", async () => {
    const s = await open();
    const t0 = Date.now();
    await new Promise((r) => s.once("close", r));
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(REFUSAL_GRACE_MS - 100);
    expect(ms).toBeLessThan(REFUSAL_GRACE_MS + 2000);
  });

  it(`a flood over the cap holds at most ${MAX_REFUSING} connections waiting; every one is refused or closed`, async () => {
    const before = refused;
    const flood = await Promise.all(Array.from({ length: MAX_REFUSING + 40 }, () => open()));
    const closed = flood.map((s) => new Promise((r) => (s.destroyed ? r(undefined) : s.once("close", r))));
    await until(() => refused - before === flood.length);
    // The refused connections beyond MAX_REFUSING are closed at once; the rest wait for their request.
    expect(await serverConnections()).toBeLessThanOrEqual(CAP + MAX_REFUSING);
    for (const s of flood) s.destroy();
    await Promise.all(closed);
  });

  it("once a held connection closes, a normal request is served", async () => {
    held.shift()!.destroy();
    await until(async () => (await serverConnections()) < CAP);
    const res = await fetch(`${gw.url}/api/customers/1`, { headers: authed() });
    expect(res.status).toBe(200);
    expect(((await res.json()) as typeof CUSTOMER).name).toBe(CUSTOMER.name);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe("HTTP connection cap, configured in regate", () => {
  let db: TestPostgres | undefined;

  afterAll(async () => {
    await db?.stop();
  });

  it("http.limits.max_connections caps the listener and regate_http_connections_refused_total counts the refusals", async () => {
    db = await startPostgres();
    const regate = await startRegate(db, {
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, limits: { max_connections: 2 }, routes: [{ name: "api", prefix: "/api", upstream: `${upstream.url}/api` }] },
      admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } },
    });
    const port = regate.app.ports.http!;
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const s = connect(port, "127.0.0.1");
        s.on("error", () => undefined);
        await new Promise((r) => s.once("connect", r));
        idle.push(s);
      }
      const out = await rawExchange(port, `GET /api/customers/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${AGENT.token}\r\n\r\n`);
      expect(out).toMatch(/^HTTP\/1\.1 503 /);
      expect(out).toContain('"code":"CONNECTION_LIMIT"');
      const metrics = await (await fetch(`http://127.0.0.1:${regate.app.ports.admin!}/metrics`)).text();
      expect(metrics).toMatch(/^regate_http_connections_refused_total 1$/m);
      idle.shift()!.destroy();
      const ok = await until(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/api/customers/1`, { headers: { authorization: `Bearer ${AGENT.token}`, connection: "close" } });
        await r.arrayBuffer();
        return r.status === 200;
      });
      expect(ok).toBe(true);
    } finally {
      for (const s of idle) s.destroy();
      await regate.stop();
    }
  }, 120_000);
});
