import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { Ajv } from "ajv";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { MaskRule } from "../../src/decision/types.js";
import type { HttpInput } from "../../src/http/index.js";
import {
  AGENT_TOKEN,
  allLogs,
  authed,
  CUSTOMER,
  listen,
  closeServer,
  rawExchange,
  rawRequest,
  startGateway,
  startUpstream,
  TestRulesDecider,
  UPSTREAM_SECRET,
  type GatewayUnderTest,
  type TestVerdict,
  type Upstream,
} from "./fixtures.js";

const CUSTOMER_MASKS: MaskRule[] = [
  { field: "email", strategy: "partial" },
  { field: "ssn", strategy: "redact" },
  { field: "phone", strategy: "redact" },
  { field: "card_number", strategy: "partial" },
  { detector: "card", strategy: "partial" },
];

function rules(input: Parameters<ConstructorParameters<typeof TestRulesDecider>[0]>[0]): TestVerdict {
  const h = input.http as HttpInput;
  if (h.body_parse_error) return { outcome: "deny", reasons: ["request body does not parse"] };
  if (h.mcp?.tool === "delete_customer") return { outcome: "deny", reasons: ["tool delete_customer is not allowed"] };
  if (h.method === "DELETE") return { outcome: "deny", reasons: ["deletes are not allowed"] };
  if (h.path === "/teapot") return { outcome: "deny", status: 418, reasons: ["short and stout"] };
  if (h.path.startsWith("/refunds")) return { outcome: "approve", approve: { reason: "refunds need a human", approvers: "finance", timeout_seconds: 60 } };
  if (h.parsed_query.raw) return {};
  if (h.path.startsWith("/customers/")) return { mask: CUSTOMER_MASKS };
  if (h.path === "/text") return { mask: [{ detector: "email", strategy: "partial" }, { detector: "card", strategy: "partial" }] };
  if (h.path === "/html") return { mask: [{ field: "email", strategy: "redact" }] };
  if (h.path === "/binary") return { mask: [{ detector: "email", strategy: "redact" }] };
  if (h.path === "/sse") return { mask: [{ field: "email", strategy: "partial" }, { detector: "card", strategy: "partial" }] };
  return {};
}

let upstream: Upstream;
let gw: GatewayUnderTest;
let decider: TestRulesDecider;
let closedPort: number;

beforeAll(async () => {
  upstream = await startUpstream();
  const probe = createServer();
  closedPort = Number(new URL(await listen(probe)).port);
  await closeServer(probe);
  decider = new TestRulesDecider(rules);
  gw = await startGateway({
    decider,
    routes: [
      { name: "crm", prefix: "/crm", upstream: `${upstream.url}/api`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
      { name: "svc", prefix: "/svc/", upstream: upstream.url, credential: { type: "header", header: "X-Service-Key", value: UPSTREAM_SECRET } },
      { name: "down", prefix: "/down", upstream: `http://127.0.0.1:${closedPort}`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
      { name: "crm-by-host", prefix: "/", host: "crm.localhost", upstream: `${upstream.url}/api`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
    ],
    mask_hash_key: Buffer.from("test-hash-key"),
  });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
  // Whatever happened in this file, neither secret reached a log line.
  expect(allLogs(gw.lines)).not.toContain(UPSTREAM_SECRET);
  expect(allLogs(gw.lines)).not.toContain(AGENT_TOKEN);
});

beforeEach(() => {
  upstream.requests.length = 0;
  decider.inputs.length = 0;
});

const lastUpstream = () => upstream.requests.at(-1)!;

describe("forwarding", () => {
  it("injects the route credential and strips everything the agent sent to authenticate", async () => {
    const res = await fetch(`${gw.url}/crm/orders/7?expand=items&expand=customer`, {
      headers: authed({ cookie: "sid=agent", "x-api-key": "agent-key", "x-forwarded-for": "6.6.6.6", "x-trace": "t1" }),
    });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as { url: string; headers: Record<string, string> };
    expect(echo.url).toBe("/api/orders/7?expand=items&expand=customer");
    const seen = lastUpstream().headers;
    expect(seen.authorization).toBe(`Bearer ${UPSTREAM_SECRET}`);
    expect(seen.cookie).toBeUndefined();
    expect(seen["x-api-key"]).toBeUndefined();
    expect(seen["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen["x-trace"]).toBe("t1");
    expect(seen.host).toBe(new URL(upstream.url).host);
    expect(JSON.stringify(upstream.requests)).not.toContain(AGENT_TOKEN);
  });

  it("injects a named-header credential and removes the agent's copy of it", async () => {
    await fetch(`${gw.url}/svc/ping`, { headers: authed({ "x-service-key": "agent-guess" }) });
    expect(lastUpstream().headers["x-service-key"]).toBe(UPSTREAM_SECRET);
    expect(lastUpstream().headers.authorization).toBeUndefined();
    expect(lastUpstream().url).toBe("/ping");
  });

  it("strips hop-by-hop headers, including those named in Connection", async () => {
    const out = await rawExchange(
      gw.port,
      `GET /crm/hop HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: websocket\r\n\r\n`,
    );
    expect(out).toMatch(/^HTTP\/1.1 200/);
    const seen = lastUpstream().headers;
    for (const h of ["x-secret-hop", "te", "keep-alive", "proxy-connection", "upgrade"]) expect(seen[h], h).toBeUndefined();
  });

  it("removes upstream cookies from the response", async () => {
    const res = await fetch(`${gw.url}/crm/cookie`, { headers: authed() });
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.headers.get("x-upstream")).toBe("yes");
  });

  it("forwards the request body byte for byte with its length", async () => {
    const body = JSON.stringify({ name: "x", list: [1, 2, 3] });
    const res = await fetch(`${gw.url}/crm/orders`, { method: "POST", headers: authed({ "content-type": "application/json" }), body });
    expect(res.status).toBe(200);
    expect(lastUpstream().body).toBe(body);
    expect(lastUpstream().headers["content-length"]).toBe(String(Buffer.byteLength(body)));
    expect(lastUpstream().headers["transfer-encoding"]).toBeUndefined();
  });

  it("routes by host, also for absolute-form (proxy) requests with Proxy-Authorization", async () => {
    const out = await rawExchange(
      gw.port,
      `GET http://crm.localhost/orders/9 HTTP/1.1\r\nHost: crm.localhost\r\nProxy-Authorization: Bearer ${AGENT_TOKEN}\r\nConnection: close\r\n\r\n`,
    );
    expect(out).toMatch(/^HTTP\/1.1 200/);
    expect(lastUpstream().url).toBe("/api/orders/9");
    expect(lastUpstream().headers["proxy-authorization"]).toBeUndefined();
    expect(decider.inputs.at(-1)!.session.target).toBe("crm-by-host");
  });

  it("answers 404 for a path no route serves", async () => {
    const res = await fetch(`${gw.url}/nowhere`, { headers: authed() });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "no_route" });
  });
});

describe("agent authentication", () => {
  it.each([
    ["no credential", {}],
    ["unknown token", { authorization: "Bearer not-a-known-token" }],
    ["basic auth", { authorization: `Basic ${Buffer.from(`x:${AGENT_TOKEN}`).toString("base64")}` }],
  ])("%s gets 401 and the upstream is never called", async (_name, headers) => {
    const res = await fetch(`${gw.url}/crm/orders`, { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect(await res.json()).toMatchObject({ error: "unauthorized", code: "AUTH_FAILED" });
    expect(upstream.requests).toHaveLength(0);
    expect(decider.inputs).toHaveLength(0);
  });
});

describe("the input document", () => {
  const schema = JSON.parse(readFileSync(new URL("../../../testdata/schemas/http-input.schema.json", import.meta.url), "utf8")) as object;
  const validate = new Ajv({ strict: true, allErrors: true }).compile(schema);

  it("describes the request, matches the schema, and carries no credential", async () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "get_customer", arguments: { id: 1 } } });
    await fetch(`${gw.url}/crm/mcp/customers%20db/?a=1&a=2&b=x%20y`, {
      method: "POST",
      headers: authed({ "content-type": "application/json", "x-api-key": "k", cookie: "c=1", "x-agent-run": "r1" }),
      body,
    });
    const input = decider.inputs.at(-1)!;
    const h = input.http as HttpInput;
    expect(validate(h), JSON.stringify(validate.errors)).toBe(true);
    expect(input).toMatchObject({ version: 1, kind: "http", session: { target: "crm", principal: { subject: "support-bot", auth_method: "token" }, client: { address: "127.0.0.1" } } });
    expect(input.session.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(input.time.rfc3339).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(h).toMatchObject({
      method: "POST",
      request_method: "POST",
      scheme: "http",
      path: "/mcp/customers%20db",
      parsed_path: ["mcp", "customers db"],
      raw_path: "/crm/mcp/customers%20db/",
      trailing_slash: true,
      query: "a=1&a=2&b=x%20y",
      parsed_query: { a: ["1", "2"], b: ["x y"] },
      route: { name: "crm", prefix: "/crm" },
      content_type: "application/json",
      body_size: Buffer.byteLength(body),
      truncated_body: false,
      body_parse_error: false,
      parsed_body: JSON.parse(body),
      mcp: { type: "request", id: 3, method: "tools/call", tool: "get_customer", arguments: { id: 1 } },
    });
    expect(h.headers["x-agent-run"]).toBe("r1");
    for (const k of ["authorization", "cookie", "x-api-key"]) expect(h.headers[k]).toBeUndefined();
    expect(JSON.stringify(input)).not.toContain(AGENT_TOKEN);
  });

  it("flags a body over the input cap as truncated, without parsing it, and still forwards it whole", async () => {
    const big = JSON.stringify({ blob: "x".repeat(10_000) });
    const res = await fetch(`${gw.url}/crm/upload`, { method: "POST", headers: authed({ "content-type": "application/json" }), body: big });
    expect(res.status).toBe(200);
    const h = decider.inputs.at(-1)!.http as HttpInput;
    expect(h.truncated_body).toBe(true);
    expect(h.parsed_body).toBeUndefined();
    expect(validate(h)).toBe(true);
    expect(lastUpstream().body).toBe(big);
  });

  it("form bodies are parsed; other text is kept raw", async () => {
    await fetch(`${gw.url}/crm/form`, { method: "POST", headers: authed({ "content-type": "application/x-www-form-urlencoded" }), body: "a=1&a=2" });
    expect((decider.inputs.at(-1)!.http as HttpInput).parsed_body).toEqual({ a: ["1", "2"] });
    await fetch(`${gw.url}/crm/note`, { method: "POST", headers: authed({ "content-type": "text/plain" }), body: "hello" });
    expect((decider.inputs.at(-1)!.http as HttpInput).body).toBe("hello");
  });
});

describe("enforcement", () => {
  it("deny: 403 with reason and decision id; the upstream is never called", async () => {
    const res = await fetch(`${gw.url}/crm/orders/7`, { method: "DELETE", headers: authed() });
    expect(res.status).toBe(403);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toMatchObject({ error: "denied", reason: expect.stringMatching(/^regate refused this request: deletes\ are\ not\ allowed \(decision [^)]+\)\. Next: .+\.$/), code: "POLICY_DENIED" });
    expect(body.decision_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(upstream.requests).toHaveLength(0);
  });

  it("deny with the policy's status", async () => {
    const res = await fetch(`${gw.url}/crm/teapot`, { headers: authed() });
    expect(res.status).toBe(418);
    expect(await res.json()).toMatchObject({ error: "denied", reason: expect.stringMatching(/^regate refused this request: short\ and\ stout \(decision [^)]+\)\. Next: .+\.$/) });
  });

  it("approve is enforced as a deny saying approval is required", async () => {
    const res = await fetch(`${gw.url}/crm/refunds/1`, { method: "POST", headers: authed() });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "approval_required", reason: expect.stringMatching(/^regate refused this request: approval\ required:\ refunds\ need\ a\ human \(decision [^)]+\)\. Next: .+\.$/), code: "APPROVAL_REQUIRED" });
    expect(upstream.requests).toHaveLength(0);
  });

  it("a JSON body that does not parse reaches the policy flagged, and the policy denies it", async () => {
    const res = await fetch(`${gw.url}/crm/orders`, { method: "POST", headers: authed({ "content-type": "application/json" }), body: '{"broken":' });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ reason: expect.stringMatching(/^regate refused this request: request\ body\ does\ not\ parse \(decision [^)]+\)\. Next: .+\.$/) });
  });

  it("a JSON-RPC batch is decided call by call: one denied call denies the request", async () => {
    const batch = [
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "get_customer", arguments: {} } },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "delete_customer", arguments: { id: 1 } } },
    ];
    const res = await fetch(`${gw.url}/crm/mcp`, { method: "POST", headers: authed({ "content-type": "application/json" }), body: JSON.stringify(batch) });
    // Answered in JSON-RPC, one error per request id of the batch: an MCP client shows it to the agent.
    expect(res.status).toBe(200);
    const errors = (await res.json()) as { id: number; error: { code: number; message: string } }[];
    expect(errors.map((e) => e.id)).toEqual([1, 2]);
    for (const e of errors) {
      expect(e.error.code).toBe(-32001);
      expect(e.error.message).toMatch(/^regate refused this request: tool delete_customer is not allowed \(decision [^)]+\)\. Next: .+\.$/);
    }
    expect(decider.inputs.map((i) => (i.http as HttpInput).mcp?.tool)).toEqual(["get_customer", "delete_customer"]);
    expect((decider.inputs[0]!.http as HttpInput).mcp_batch).toHaveLength(2);
    expect(upstream.requests).toHaveLength(0);
  });

  it("reports every request to onRequestDone", async () => {
    const before = gw.done.length;
    await (await fetch(`${gw.url}/crm/orders/7`, { method: "DELETE", headers: authed() })).text();
    await new Promise((r) => setTimeout(r, 20));
    expect(gw.done.slice(before)).toEqual([expect.objectContaining({ route: "crm", method: "DELETE", status: 403, outcome: "deny", masked: false })]);
  });
});

describe("masking", () => {
  it("masks JSON fields and detected values, recomputing Content-Length", async () => {
    const res = await rawRequest(`${gw.url}/crm/customers/1`, { headers: authed() });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body.toString()) as typeof CUSTOMER;
    expect(body).toEqual({
      ...CUSTOMER,
      email: "***@example.com",
      phone: "****",
      ssn: "****",
      card_number: "**** **** **** 1111",
      note: "backup card ****-****-****-0004, order 4111111111111112",
    });
    expect(res.headers["content-length"]).toBe(String(res.body.length));
    expect(res.headers.etag).toBeUndefined();
    expect(upstream.requests.at(-1)!.headers["accept-encoding"]).toBe("identity");
  });

  it("streams responses untouched when no mask applies", async () => {
    const res = await rawRequest(`${gw.url}/crm/customers/1?raw=1`, { headers: authed() });
    expect(JSON.parse(res.body.toString())).toEqual(CUSTOMER);
    expect(res.headers.etag).toBe('"v1"');
  });

  it("decodes gzip to mask and sends the result uncompressed", async () => {
    const res = await rawRequest(`${gw.url}/crm/customers/1.gz`, { headers: authed({ "accept-encoding": "gzip" }) });
    expect(res.headers["content-encoding"]).toBeUndefined();
    const body = JSON.parse(res.body.toString()) as typeof CUSTOMER;
    expect(body.email).toBe("***@example.com");
    expect(res.body.toString()).not.toContain("4111 1111 1111 1111");
  });

  it("decodes a compressed body when no mask applies, to check it for the route credential", async () => {
    const res = await rawRequest(`${gw.url}/crm/customers/1.gz?raw=1`, { headers: authed({ "accept-encoding": "gzip" }) });
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(res.body.toString())).toEqual(CUSTOMER);
  });

  it("applies detectors to text bodies", async () => {
    const res = await fetch(`${gw.url}/crm/text`, { headers: authed() });
    expect(await res.text()).toBe("Customer ***@example.com paid with **** **** **** 1111.");
  });

  it("fails closed when field masks apply to a body that is not JSON", async () => {
    const res = await fetch(`${gw.url}/crm/html`, { headers: authed() });
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(text).not.toContain(CUSTOMER.email);
    expect(JSON.parse(text)).toMatchObject({ error: "mask_failed", code: "MASK_LINEAGE_UNKNOWN" });
  });

  it("fails closed on binary bodies when masks apply", async () => {
    const res = await fetch(`${gw.url}/crm/binary`, { headers: authed() });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "mask_failed" });
  });

  it("masks server-sent events one by one as they stream", async () => {
    const res = await fetch(`${gw.url}/crm/sse`, { headers: authed() });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let seen = "";
    while (!seen.includes("\n\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value, { stream: true });
    }
    // The first event arrived on its own: the upstream sends the second one 300 ms later.
    expect(seen).toBe(`event: message\ndata: ${JSON.stringify({ n: 1, email: "***@example.com" })}\n\n`);
    for (let r = await reader.read(); !r.done; r = await reader.read()) seen += decoder.decode(r.value, { stream: true });
    expect(seen).toContain(`data: ${JSON.stringify({ n: 2, card: "**** **** **** 1111" })}\n\n`);
    expect(seen).toContain("data: [DONE]\n\n");
    expect(seen).not.toContain(CUSTOMER.email);
  });

  it("passes SSE and chunked responses through as they stream when no mask applies", async () => {
    const sse = await fetch(`${gw.url}/crm/sse?raw=1`, { headers: authed() });
    const text = await sse.text();
    expect(text).toContain(CUSTOMER.email);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    const chunked = await rawRequest(`${gw.url}/crm/chunked`, { headers: authed() });
    expect(chunked.headers["transfer-encoding"]).toBe("chunked");
    expect(chunked.body.toString()).toBe("part1-part2");
  });

  it("never logs a masked value", () => {
    const logs = allLogs(gw.lines);
    expect(logs).not.toContain(CUSTOMER.email);
    expect(logs).not.toContain(CUSTOMER.ssn);
  });
});

describe("robustness", () => {
  it("upstream timeout: 504 JSON", async () => {
    const t0 = Date.now();
    const res = await fetch(`${gw.url}/crm/slow`, { headers: authed() });
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({ error: "upstream_timeout", code: "UPSTREAM_TIMEOUT", reason: "upstream timed out" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
  });

  it("upstream down: 502 JSON without the credential or the upstream address", async () => {
    const res = await fetch(`${gw.url}/down/x`, { headers: authed() });
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: "upstream_unavailable", code: "UPSTREAM_UNAVAILABLE", reason: "upstream is unavailable" });
    expect(text).not.toContain(UPSTREAM_SECRET);
    expect(text).not.toContain(String(closedPort));
  });

  it("upstream rejecting regate's credential: 502, not a 401 the agent would blame on itself", async () => {
    const res = await fetch(`${gw.url}/crm/unauthorized`, { headers: authed() });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: "UPSTREAM_AUTH_FAILED" });
  });

  it("413 for a body over the cap, declared or chunked", async () => {
    const big = "x".repeat(65 * 1024);
    const declared = await fetch(`${gw.url}/crm/upload`, { method: "POST", headers: authed(), body: big });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: "request_too_large", code: "INPUT_TOO_LARGE" });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 70; i++) c.enqueue(new TextEncoder().encode("y".repeat(1024)));
        c.close();
      },
    });
    const chunked = await fetch(`${gw.url}/crm/upload`, { method: "POST", headers: authed(), body: stream, duplex: "half" } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(upstream.requests).toHaveLength(0);
  });

  it.each([
    ["CR inside a header value", `X-Evil: a\rInjected: 1\r\n`],
    ["LF inside a header value", `X-Evil: a\nInjected: 1\r\n`],
    ["obsolete line folding", `X-Evil: a\r\n Injected: 1\r\n`],
    ["NUL in a header value", `X-Evil: a\0b\r\n`],
  ])("%s: 400 and nothing forwarded", async (_name, header) => {
    const out = await rawExchange(gw.port, `GET /crm/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\n${header}\r\n`);
    expect(out).toMatch(/^HTTP\/1.1 400/);
    expect(upstream.requests).toHaveLength(0);
  });

  // Dot segments are resolved (out of the route prefix here: no route); encoded slashes and backslashes are ambiguous.
  it.each([
    ["/crm/../admin", 404],
    ["/crm/%2e%2e/admin", 404],
    ["/crm/a%2F..%2Fadmin", 400],
    ["/crm\\..\\admin", 400],
    ["/crm/x;a=1", 400],
  ])("path %s: %i, nothing forwarded", async (path, status) => {
    const out = await rawExchange(gw.port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nConnection: close\r\n\r\n`);
    expect(out).toMatch(new RegExp(`^HTTP/1.1 ${status}`));
    expect(upstream.requests).toHaveLength(0);
  });

  it("logs one line per request with the path's identifiers redacted", async () => {
    await fetch(`${gw.url}/crm/customers/by-email/bob@example.org?raw=1`, { headers: authed() });
    await new Promise((r) => setTimeout(r, 20));
    const line = gw.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "http request").at(-1)!;
    expect(line).toMatchObject({ agent: "support-bot", route: "crm", method: "GET", path: "/crm/customers/by-email/****", status: 200, outcome: "allow" });
    // The request log never has it. The decision log carries the input as the policy saw it (path included),
    // as OPA's does: hiding PII there is the bundle's system.log.mask (docs/policy.md).
    const requestLines = gw.lines.filter((l) => !l.includes('"openpolicyagent.org/decision_logs"'));
    expect(allLogs(requestLines)).not.toContain("bob@example.org");
    expect(allLogs(gw.lines)).toContain("openpolicyagent.org/decision_logs");
  });
});

describe("shutdown", () => {
  it("close() stops the listener and resolves", async () => {
    const other = await startGateway({ decider, routes: [{ name: "r", prefix: "/", upstream: upstream.url }] });
    expect((await fetch(`${other.url}/x`, { headers: authed() })).status).toBe(200);
    await other.close();
    await expect(fetch(`${other.url}/x`, { headers: authed() })).rejects.toThrow();
  });
});
