// Red-team case for HTTP approvals: a grant is for the request the upstream would get, byte for byte in
// its path. The canonical path the policy sees drops a trailing slash that is still forwarded.
import { createServer, type Server as HttpServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestPostgres } from "../support/postgres.js";
import { AGENT, type TestRegate } from "../support/regate.js";
import { api, approvalBundle, startApprovingRegate } from "./support.js";

/** What Node's fetch sends of its own: request headers the approval digest covers, shown to reviewers. */
const FETCH_HEADERS = "accept: */*\naccept-language: *\nsec-fetch-mode: cors\nuser-agent: node";

const received: string[] = [];
const bodies: string[] = [];
let upstream: HttpServer;
let defer: TestRegate;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let b = "";
    req.on("data", (c: Buffer) => (b += c.toString("utf8")));
    req.on("end", () => {
      bodies.push(b);
      received.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const none = { user: "none", password: "none-password-unused" };
  const noPostgres = { host: "127.0.0.1", port: 1, database: "none", users: { scram: none, md5: none }, adminPassword: "none-admin-unused" } as unknown as TestPostgres;
  defer = await startApprovingRegate(noPostgres, {}, approvalBundle({ reason: "refunds need approval", approvers: [], timeout_seconds: 120, mode: "defer", grant_seconds: 60 }), {
    postgres: { enabled: false },
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` }] },
  });
}, 120_000);

afterAll(async () => {
  await defer?.stop();
  upstream?.close();
});

const post = (path: string, body = '{"order":901}', contentType = "application/json") =>
  fetch(`http://127.0.0.1:${defer.app.ports.http}${path}`, { method: "POST", headers: { authorization: `Bearer ${AGENT.token}`, "content-type": contentType }, body });

describe("HTTP grants and the path", () => {
  it("a grant for POST /refunds/9 is not used by POST /refunds/9/ (forwarded with its slash); the approved request runs once", async () => {
    const first = await post("/api/refunds/9");
    expect(first.status).toBe(403);
    const id = ((await first.json()) as { approval_id: string }).approval_id;
    const a = (await api(defer, `/approvals/${id}`)).body;
    expect(a.statement.sql).toBe(`POST /refunds/9\nContent-Type: application/json\n${FETCH_HEADERS}`);
    expect((await api(defer, `/approvals/${id}/approve`, { sha256: a.sha256 })).status).toBe(200);
    const slash = await post("/api/refunds/9/");
    expect(slash.status).toBe(403);
    expect(((await slash.json()) as { code: string }).code).toBe("APPROVAL_PENDING");
    expect(received).toEqual([]);
    expect((await post("/api/refunds/9")).status).toBe(200);
    expect(received).toEqual(["POST /refunds/9"]);
  });
});

describe("HTTP grants and JSON-RPC", () => {
  const call = (id: number, args: string) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"refund","arguments":${args}}}`;
  const idOf = async (r: Response) => ((await r.json()) as { error: { data: { approval_id: string } } }).error.data.approval_id;

  it("a grant for one call is not used by a body that parses the same but may read otherwise upstream (a duplicate key: JavaScript keeps the last, other parsers the first)", async () => {
    const first = await post("/api/refunds/rpc", call(1, '{"order":5,"amount":1}'));
    const id = await idOf(first);
    const a = (await api(defer, `/approvals/${id}`)).body;
    expect((await api(defer, `/approvals/${id}/approve`, { sha256: a.sha256 })).status).toBe(200);
    for (const args of ['{"order":5,"amount":9999,"amount":1}', '{"order":5,"amount":1,"amount":1}']) {
      const other = await post("/api/refunds/rpc", call(2, args));
      expect(((await other.json()) as { error?: { data: { code: string } } }).error?.data.code).toBe("APPROVAL_PENDING");
    }
    expect(bodies.filter((b) => b.includes('"order":5'))).toEqual([]);
    // The approved call, numbered anew by the client, runs once.
    expect((await post("/api/refunds/rpc", call(7, '{"order":5,"amount":1}'))).status).toBe(200);
    expect(bodies.filter((b) => b.includes('"order":5'))).toEqual([call(7, '{"order":5,"amount":1}')]);
  });
});

describe("HTTP grants and how the body is read", () => {
  it("a grant for a JSON body is not used by the same bytes sent as a form or as text; the approved request runs once", async () => {
    const body = '{"order":77}';
    const first = await post("/api/refunds/77", body);
    const id = ((await first.json()) as { approval_id: string }).approval_id;
    const a = (await api(defer, `/approvals/${id}`)).body;
    expect((await api(defer, `/approvals/${id}/approve`, { sha256: a.sha256 })).status).toBe(200);
    for (const type of ["application/x-www-form-urlencoded", "text/plain"]) {
      const other = await post("/api/refunds/77", body, type);
      expect(((await other.json()) as { code: string }).code).toBe("APPROVAL_PENDING");
    }
    expect(received.filter((r) => r === "POST /refunds/77")).toEqual([]);
    expect((await post("/api/refunds/77", body)).status).toBe(200);
    expect(received.filter((r) => r === "POST /refunds/77")).toEqual(["POST /refunds/77"]);
  });
});
