// An HTTP approval is bound to the request headers the upstream acts on: a deferred request approved with
// X-Account-Id acct_1 and re-sent with another account (or another Idempotency-Key, or its repeated header's
// values in another order) does not run on that approval; re-sent as approved, with a new trace context,
// it does. The reviewer is shown the covered headers and never regate's credential. Real regate (policy
// bundle compiled to WASM, approval service, admin API), a real upstream, node:http as the agent.

import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT, type TestRegate } from "../support/regate.js";
import type { TestPostgres } from "../support/postgres.js";
import { api, approvalBundle, startApprovingRegate } from "../approval/support.js";
import { listen, rawRequest } from "./fixtures.js";

const ROUTE_SECRET = "route-secret-5be1c0";
const received: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
let upstream: Server;
let regate: TestRegate;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      received.push({ url: req.url ?? "", headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  const none = { user: "none", password: "none-password-unused" };
  const noPostgres = { host: "127.0.0.1", port: 1, database: "none", users: { scram: none, md5: none }, adminPassword: "none-admin-unused" } as unknown as TestPostgres;
  regate = await startApprovingRegate(noPostgres, {}, approvalBundle({ reason: "refunds need approval", approvers: [], timeout_seconds: 120, mode: "defer", grant_seconds: 60 }, "approval-headers"), {
    postgres: { enabled: false },
    http: {
      enabled: true,
      listen: { host: "127.0.0.1", port: 0 },
      routes: [{ name: "api", prefix: "/api", upstream: await listen(upstream), credential: { type: "header", header: "X-Service-Key", secret: { value: ROUTE_SECRET } } }],
    },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  upstream?.close();
});

/** A refund as an agent's client sends it: its own headers, a trace context of its own on every attempt. */
function refund(order: number, headers: Record<string, string | string[]>) {
  return rawRequest(`http://127.0.0.1:${regate.app.ports.http}/api/refunds`, {
    method: "POST",
    headers: { authorization: `Bearer ${AGENT.token}`, "content-type": "application/json", traceparent: `00-${"0".repeat(31)}${Date.now() % 10}-${"1".repeat(16)}-01`, ...headers },
    body: JSON.stringify({ order }),
  });
}

const ran = (order: number) => received.filter((r) => r.body === JSON.stringify({ order }));

/** The first attempt: deferred; the reviewer reads the approval and approves the digest shown. */
async function approved(order: number, headers: Record<string, string | string[]>): Promise<{ sql: string }> {
  const first = await refund(order, headers);
  expect(first.status).toBe(403);
  const id = (JSON.parse(first.body.toString()) as { approval_id: string }).approval_id;
  const shown = (await api(regate, `/approvals/${id}`)).body as { sha256: string; statement: { sql: string } };
  expect((await api(regate, `/approvals/${id}/approve`, { sha256: shown.sha256 })).status).toBe(200);
  return shown.statement;
}

describe("a deferred HTTP request approved with its headers", () => {
  it("re-sent for another account, or with another idempotency key, does not run; re-sent as approved it runs once", async () => {
    const statement = await approved(801, { "x-account-id": "acct_1", "idempotency-key": "refund-801" });
    for (const changed of [{ "x-account-id": "acct_2", "idempotency-key": "refund-801" }, { "x-account-id": "acct_1", "idempotency-key": "refund-802" }, { "x-account-id": "acct_1" }]) {
      const r = await refund(801, changed);
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body.toString())).toMatchObject({ code: "APPROVAL_PENDING" });
    }
    expect(ran(801)).toEqual([]);

    const ok = await refund(801, { "idempotency-key": "refund-801", "x-account-id": "acct_1" });
    expect(ok.status).toBe(200);
    expect(ran(801).map((r) => [r.headers["x-account-id"], r.headers["idempotency-key"], r.headers["x-service-key"]])).toEqual([["acct_1", "refund-801", ROUTE_SECRET]]);
    expect((await refund(801, { "idempotency-key": "refund-801", "x-account-id": "acct_1" })).status).toBe(403);
    expect(ran(801)).toHaveLength(1);
    // The reviewer read the headers that reached the upstream, not the trace context or regate's credential.
    expect(statement.sql).toBe("POST /refunds\nContent-Type: application/json\nidempotency-key: refund-801\nx-account-id: acct_1");
    expect(JSON.stringify(statement)).not.toContain(ROUTE_SECRET);
  });

  it("a header sent twice is approved with its values in order", async () => {
    await approved(802, { "x-scope": ["refunds", "read"] });
    expect((await refund(802, { "x-scope": ["read", "refunds"] })).status).toBe(403);
    expect(ran(802)).toEqual([]);
    expect((await refund(802, { "x-scope": ["refunds", "read"] })).status).toBe(200);
    expect(ran(802).map((r) => r.headers["x-scope"])).toEqual(["refunds, read"]);
  });
});
