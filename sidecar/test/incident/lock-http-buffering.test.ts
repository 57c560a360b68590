// A lock that lands while regate is still reading an upstream's masked answer (head in, body not yet): the
// agent is told LOCKED, not that the upstream cut its answer short (it was regate that aborted it), nothing
// of the body reaches it, and regate keeps serving other agents.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, OTHER, startIncidentRegate } from "./support.js";

const AGENT_TOKEN = "agent-token-7f3a9c";
let db: TestPostgres;
let regate: TestRegate;
let upstream: Server;

beforeAll(async () => {
  db = await startPostgres();
  upstream = createServer((req, res) => {
    const body = '{"id":1,"email":"alice@example.com","ssn":"123-45-6789","pad":"' + "x".repeat(200) + '"}';
    if (req.url?.startsWith("/half")) {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
      res.write(body.slice(0, 30));
      setTimeout(() => res.end(body.slice(30)), 1500);
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
  await new Promise((r) => setTimeout(r, 500));
  const created = await admin(regate, "POST", "/locks", { target: { principal: "test-agent" }, message: "probe" });
  expect(created.status).toBe(201);
  const got = await pending;
  expect(got.text).not.toContain("alice@example.com");
  expect(got.status).toBe(403);
  expect(got.text).toContain("LOCKED");
  await new Promise((r) => setTimeout(r, 2000));
  const other = await fetch(`http://127.0.0.1:${port}/api/x`, { headers: { authorization: `Bearer ${OTHER.token}` } });
  expect(other.status).toBe(200);
  const t = await other.text();
  expect(t).not.toContain("alice@example.com");
}, 30_000);
