// A lock that lands while regate is still reading an upstream's masked answer (head in, body not yet): the
// agent is told LOCKED, not that the upstream cut its answer short (it was regate that aborted it), nothing
// of the body reaches it, and regate keeps serving other agents.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, OTHER, startIncidentRegate, until } from "./support.js";

const AGENT_TOKEN = "agent-token-7f3a9c";
let db: TestPostgres;
let regate: TestRegate;
let upstream: Server;
/** The half-sent answer: its socket, once the head and the first bytes were handed to the kernel; and the rest, sent when the test says. */
let half: { socket: Socket; sendRest: () => void; closed: boolean } | undefined;

/**
 * Whether regate (this process) has read everything the upstream sent on `upstreamSide`: the receive queue of the
 * connection's other end (regate's, from /proc/net/tcp, Linux) is empty. undici parses what it reads at once, so
 * regate then holds the head and is reading the body.
 */
function regateReadAll(upstreamSide: Socket): boolean {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  const local = `:${hex(upstreamSide.remotePort!)}`;
  const remote = `:${hex(upstreamSide.localPort!)}`;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(local) && f[2]?.endsWith(remote) && f[3] === "01") return f[4]?.split(":")[1] === "00000000";
  }
  return false;
}

beforeAll(async () => {
  db = await startPostgres();
  upstream = createServer((req, res) => {
    const body = '{"id":1,"email":"alice@example.com","ssn":"123-45-6789","pad":"' + "x".repeat(200) + '"}';
    if (req.url?.startsWith("/half")) {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
      // The rest only once the lock is in: were it sent on a timer, a slow machine could let the whole body
      // through before the lock, and the case would not be the one under test.
      const h = { socket: req.socket, sendRest: () => void (res.destroyed || res.end(body.slice(30))), closed: false };
      res.on("close", () => (h.closed = true));
      res.write(body.slice(0, 30), () => (half = h));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(body);
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

it("a lock while a masked body is being read: 403 LOCKED, none of the body, and regate keeps serving", async () => {
  const port = regate.app.ports.http!;
  const pending = fetch(`http://127.0.0.1:${port}/api/half`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } }).then(async (r) => ({ status: r.status, text: await r.text() }), (e) => ({ status: 0, text: String(e) }));
  // The head and the first bytes of the body are in regate, the rest not yet.
  const h = await until(() => half !== undefined && regateReadAll(half.socket) && half);
  await new Promise((r) => setImmediate(r));
  const created = await admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message: "probe" });
  expect(created.status).toBe(201);
  h.sendRest();
  const got = await pending;
  expect(got.text).not.toContain("alice@example.com");
  expect(got.status).toBe(403);
  expect(got.text).toContain("LOCKED");
  // The upstream's exchange is over (regate aborted it, or took the rest and dropped it); regate goes on serving.
  await until(() => h.closed);
  const other = await fetch(`http://127.0.0.1:${port}/api/x`, { headers: { authorization: `Bearer ${OTHER.token}` } });
  expect(other.status).toBe(200);
  const t = await other.text();
  expect(t).not.toContain("alice@example.com");
}, 30_000);
