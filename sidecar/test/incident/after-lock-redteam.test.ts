// Red-team: once an agent is locked, nothing it started may keep reaching it. An agent that stops reading a
// large result (a SELECT still running or already complete, an event stream) leaves megabytes queued in
// regate and in the kernel's send buffer; closing the connection at the lock still delivered all of them
// afterwards (2.5-4 MB here). What the agent may still read is only what its own kernel had received before
// the lock. Real PostgreSQL and regate; the queues are read from /proc/net/tcp.
import { createServer, type Server } from "node:http";
import { connect as tcpConnect, type AddressInfo, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { query, Raw } from "../support/raw-pg.js";
import type { TestRegate } from "../support/regate.js";
import { admin, connect, startIncidentRegate, until } from "./support.js";

const AGENT_TOKEN = "agent-token-7f3a9c";
/** What regate must have queued for the agent before the lock, so that its delivery afterwards would show. */
const QUEUED = 1 << 20;
/**
 * Bytes the agent's kernel may hold beyond the receive queue /proc reports (segments it took but has not
 * counted yet): far below what regate had queued, which is what a close instead of a reset delivers.
 */
const SLACK = 256 * 1024;

let db: TestPostgres;
let regate: TestRegate;
let upstream: Server;

beforeAll(async () => {
  db = await startPostgres();
  upstream = createServer((req, res) => {
    // An event stream as fast as the reader takes it (a model's answer, a feed being exfiltrated).
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
    const chunk = Buffer.from(`data: {"text":"${"a".repeat(16 * 1024)}"}\n\n`);
    let left = 1 << 14;
    const pump = (): void => {
      while (left-- > 0) if (!res.write(chunk)) return void res.once("drain", pump);
      res.end();
    };
    pump();
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  regate = await startIncidentRegate(db, {
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }] },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
});

afterEach(async () => {
  for (const l of regate.app.locks.list()) await regate.app.locks.remove(l.id, "test");
});

/** The kernel's queues of the loopback TCP socket bound to `local` and connected to `remote` (/proc/net/tcp). */
function queues(local: number, remote: number): { tx: number; rx: number } | undefined {
  const hex = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === hex(local) && f[2] === hex(remote)) {
      const [tx, rx] = f[4]!.split(":").map((h) => parseInt(h, 16));
      return { tx: tx!, rx: rx! };
    }
  }
  return undefined;
}

/** Waits until regate's send queue to the agent holds at least QUEUED bytes and no longer grows. */
async function full(local: number, remote: number): Promise<void> {
  let last = -1;
  await until(async () => {
    const tx = queues(local, remote)?.tx ?? 0;
    const still = tx >= QUEUED && tx === last;
    last = tx;
    if (!still) await new Promise((r) => setTimeout(r, 100));
    return still;
  });
}

/** Everything the socket still yields from now until it closes, however it closes. */
function drain(sock: Socket): Promise<number> {
  let bytes = 0;
  sock.removeAllListeners("data");
  sock.on("data", (d: Buffer) => (bytes += d.length));
  sock.on("error", () => undefined);
  sock.resume();
  return new Promise((r) => (sock.destroyed ? r(bytes) : sock.once("close", () => r(bytes))));
}

const lock = async (message: string) => {
  const created = await admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message });
  expect(created.status).toBe(201);
  return created.body as { id: string };
};

describe("a result the agent left unread is not delivered after the lock", () => {
  it("PostgreSQL: rows queued for a stalled reader are dropped; the backend is gone; reconnecting says why", async () => {
    const raw = await Raw.open(regate.url());
    raw.sock.pause();
    raw.send(query("SELECT repeat('x', 1000) FROM generate_series(1, 200000)"));
    const here = raw.sock.localPort!;
    const pgPort = raw.sock.remotePort!;
    // A stalled reader's steady state: regate's send buffer full (it stopped growing), more queued behind it.
    await full(pgPort, here);
    const received = queues(here, pgPort)!.rx;

    const l = await lock("INC-31 exfiltration through a large SELECT");
    const after = await drain(raw.sock);
    expect(after).toBeLessThanOrEqual(received + SLACK);

    await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'regate:test-agent'"))[0].n === 0);
    const refused = await connect(regate.url()).then((c) => (void c.end(), undefined), (e: pg.DatabaseError) => e);
    expect(refused?.code).toBe("42501");
    expect(refused?.message).toContain(l.id);
  });

  it("PostgreSQL: a finished result still queued in the kernel for a stalled reader is dropped", async () => {
    const raw = await Raw.open(regate.url());
    raw.sock.pause();
    // Smaller than the send buffer: the statement completes, regate's own queue empties, the session is idle.
    raw.send(query("SELECT repeat('x', 1000) FROM generate_series(1, 2500)"));
    const here = raw.sock.localPort!;
    const pgPort = raw.sock.remotePort!;
    await full(pgPort, here);
    await until(() => regate.app.sessions.list().some((s) => s.principal === "test-agent" && s.current === undefined));
    const received = queues(here, pgPort)!.rx;

    await lock("INC-33 exfiltration through a result left unread");
    const after = await drain(raw.sock);
    expect(after).toBeLessThanOrEqual(received + SLACK);
  });

  it("HTTP: an event stream queued for a stalled reader is dropped; its next request is refused LOCKED", async () => {
    const port = regate.app.ports.http!;
    const sock = tcpConnect(port, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.pause();
    sock.write(`GET /api/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\n\r\n`);
    const here = sock.localPort!;
    await full(port, here);
    const received = queues(here, port)!.rx;

    await lock("INC-32 exfiltration through an event stream");
    const after = await drain(sock);
    expect(after).toBeLessThanOrEqual(received + SLACK);

    const next = await fetch(`http://127.0.0.1:${port}/api/feed`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
    expect(next.status).toBe(403);
    expect(((await next.json()) as { code: string }).code).toBe("LOCKED");
  });
});
