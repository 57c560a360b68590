// HTTP/1.1 framing and hop-by-hop red-team pass (request side), judged by what a lenient upstream received
// and executed and by the bytes the agent got back. Raw sockets on the agent side, so every byte is the test's.
//
// Holes found and closed here:
//  - A header the agent named in Connection (`Connection: x-tenant` with `X-Tenant: sandbox`) was judged by
//    the policy and then dropped as hop-by-hop before forwarding: the upstream executed the request without
//    it (its default tenant, no Content-Type, no MCP session), a request the policy never saw. Such headers
//    are now dropped as the request arrives, in every spelling, so the policy judges the request the upstream
//    receives (RFC 9110 7.6.1 has a proxy drop them); headers regate reads and never forwards as sent
//    (Authorization, Host, Content-Length) stay, and so does every other Connection option's effect.
//  - An absolute-form request (`POST http://admin.local/orders` with `Host: api.local`) was routed by, and
//    forwarded with X-Forwarded-Host of, the target's authority, while the policy read the Host header's other
//    name in its headers. The authority now replaces Host before anything reads it (RFC 9112 3.2.2).
//  - Malformed bytes after a whole request (past its Content-Length, a pipelined request Node's parser refuses,
//    an HTTP/1.0 body without a length) were answered with a 400 at once, while the whole request before them
//    had been decided and forwarded: the upstream executed it, the agent read "bad request" and lost the real
//    answer (and would send the write again). The whole requests are answered, the connection then closed.
//  - Pipelined requests were decided and forwarded as soon as Node parsed them. When an earlier answer ended
//    the connection (close-delimited, as every streamed answer to an HTTP/1.0 agent is), the later ones had
//    run upstream and their answers were never sent: the agent, told nothing, sends them again. Each request
//    now waits for the answer before it and is dropped, never forwarded, when that answer closed the connection.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/http/index.js";
import { AGENT_TOKEN, rawExchange, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";
import { startLenientUpstream, type LenientUpstream } from "./lenient-upstream.js";

let upstream: LenientUpstream;
let gw: GatewayUnderTest;
let decider: TestRulesDecider;

beforeAll(async () => {
  upstream = await startLenientUpstream();
  // Writes to /orders only in the sandbox tenant: the policy relies on a header the agent sends.
  decider = new TestRulesDecider((input) => {
    const { method, raw_path: path, headers } = input.http as HttpInput;
    if (method !== "GET" && headers.host === "admin.local") return { outcome: "deny", reasons: ["the admin host is read-only"] };
    if (method !== "GET" && path.startsWith("/orders") && headers["x-tenant"] !== "sandbox") return { outcome: "deny", reasons: ["orders are written in the sandbox tenant only"] };
    return {};
  });
  gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: upstream.url, credential: { type: "bearer", value: UPSTREAM_SECRET } }] });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const head = (method: string, path: string, extra: string): string => `${method} ${path} HTTP/1.1\r\nHost: api.local\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\n${extra}`;
// Not anchored to a line: an answer follows a body that has no line ending of its own.
const statusLines = (raw: string): string[] => raw.match(/HTTP\/1\.1 \d{3} [^\r]*/g) ?? [];
const BODY = '{"item":"widget"}';
const order = (extra: string): string => head("POST", "/orders", `X-Tenant: sandbox\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n${extra}\r\n`) + BODY;

describe("a header named in Connection is judged as absent, as the upstream receives it", () => {
  it.each([
    ["the tenant header", "Connection: x-tenant\r\n"],
    ["the tenant header among other options", "Connection: keep-alive, X-Tenant, close\r\n"],
    ["the tenant header in a second Connection header", "Connection: keep-alive\r\nConnection: x-tenant\r\n"],
  ])("%s: the write outside the sandbox is denied and never executed", async (_name, connection) => {
    const before = upstream.executed.length;
    const raw = await rawExchange(gw.port, order(`${connection}Connection: close\r\n`));
    expect(statusLines(raw)).toEqual(["HTTP/1.1 403 Forbidden"]);
    expect(raw).toContain("orders are written in the sandbox tenant only");
    expect(upstream.executed.slice(before)).toEqual([]);
  });

  it("the tenant header in CGI spelling (X_Tenant), named as x-tenant: denied and never executed", async () => {
    const before = upstream.executed.length;
    const raw = await rawExchange(gw.port, head("POST", "/orders", `X_Tenant: sandbox\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\nConnection: x-tenant, close\r\n\r\n`) + BODY);
    expect(statusLines(raw)).toEqual(["HTTP/1.1 403 Forbidden"]);
    expect(upstream.executed.slice(before)).toEqual([]);
  });

  it("Content-Type: the policy reads the body without it, as the upstream does", async () => {
    const before = upstream.executed.length;
    const judged = decider.inputs.length;
    const raw = await rawExchange(gw.port, order("Connection: content-type, close\r\n"));
    expect(statusLines(raw)).toEqual(["HTTP/1.1 200 OK"]);
    const executed = upstream.executed.slice(before);
    expect(executed).toHaveLength(1);
    expect(executed[0]!.headers["content-type"]).toBeUndefined();
    const inputs = decider.inputs.slice(judged).map((i) => i.http as HttpInput);
    expect(inputs.map((i) => [i.headers["content-type"], i.headers["x-tenant"]])).toEqual([[undefined, "sandbox"]]);
  });
});

describe("must-allow: Connection options that drop nothing the policy relied on", () => {
  it.each([
    ["keep-alive, then close, on one connection", order("Connection: keep-alive\r\n") + order("Connection: close\r\n"), 2],
    ["TE: trailers named in Connection (gRPC-style clients)", order("TE: trailers\r\nConnection: TE, close\r\n"), 1],
    ["an h2c upgrade offer with HTTP2-Settings (curl --http2)", order("Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"), 1],
    ["headers regate rebuilds or never forwards", order("Connection: authorization, host, content-length, x-forwarded-for, close\r\n"), 1],
    ["a header the request does not carry", order("Connection: x-trace, close\r\n"), 1],
  ])("%s", async (_name, payload, count) => {
    const before = upstream.executed.length;
    const raw = await rawExchange(gw.port, payload);
    expect(statusLines(raw)).toEqual(Array(count).fill("HTTP/1.1 200 OK"));
    const executed = upstream.executed.slice(before);
    expect(executed).toHaveLength(count);
    for (const e of executed) {
      expect(e).toMatchObject({ method: "POST", path: "/orders" });
      expect(e.headers).toMatchObject({ "x-tenant": "sandbox", "content-type": "application/json", "content-length": String(BODY.length), authorization: `Bearer ${UPSTREAM_SECRET}` });
    }
  });

  it("a chunked upload is forwarded with its exact length", async () => {
    const before = upstream.executed.length;
    const chunked = `${(8).toString(16)}\r\n${BODY.slice(0, 8)}\r\n${(BODY.length - 8).toString(16)}\r\n${BODY.slice(8)}\r\n0\r\n\r\n`;
    const raw = await rawExchange(gw.port, head("POST", "/orders", "X-Tenant: sandbox\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n") + chunked);
    expect(statusLines(raw)).toEqual(["HTTP/1.1 200 OK"]);
    expect(upstream.executed.slice(before).map((e) => e.headers["content-length"])).toEqual([String(BODY.length)]);
  });
});

describe("malformed bytes after a whole request: the request ran, so the agent gets its answer, not a 400", () => {
  const order2 = (extra: string): string => head("POST", "/orders", `X-Tenant: sandbox\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n${extra}\r\n`) + BODY;
  it.each([
    ["bytes past its Content-Length", order2("") + "GARBAGE\r\n\r\n", 1],
    ["a pipelined request with two Content-Lengths", order2("") + "POST /orders HTTP/1.1\r\nHost: api.local\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 1],
    ["two whole requests, then a malformed one", order2("") + order2("") + "NOT HTTP\r\n\r\n", 2],
    ["an HTTP/1.0 POST with a body and no length (no body to HTTP/1.0: the body is read as a request)", `POST /orders HTTP/1.0\r\nHost: api.local\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nX-Tenant: sandbox\r\n\r\n${BODY}`, 1],
  ])("%s", async (_name, payload, count) => {
    const before = upstream.executed.length;
    const raw = await rawExchange(gw.port, payload);
    const answers = raw.split(/(?=HTTP\/1\.1 \d{3} )/);
    expect(statusLines(raw)).toEqual(Array(count).fill("HTTP/1.1 200 OK"));
    expect(answers.at(-1)).toMatch(/\r\nConnection: close\r\n/i);
    expect(upstream.executed.slice(before).map((e) => `${e.method} ${e.path}`)).toEqual(Array(count).fill("POST /orders"));
  });

  it("must-allow: malformed bytes on their own are still refused with a JSON 400 that says why", async () => {
    const raw = await rawExchange(gw.port, "POST /orders HTTP/1.1\r\nHost: api.local\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
    expect(statusLines(raw)).toEqual(["HTTP/1.1 400 Bad Request"]);
    expect(raw).toContain('"reason":"Content-Length is repeated or comes with Transfer-Encoding');
  });
});

describe("pipelined requests behind an answer that closes the connection", () => {
  const v10 = (keepAlive: boolean, path = "/orders"): string =>
    `POST ${path} HTTP/1.0\r\nHost: api.local\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nX-Tenant: sandbox\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n${keepAlive ? "Connection: keep-alive\r\n" : ""}\r\n${BODY}`;

  it("HTTP/1.0: the streamed first answer closes the connection; the writes behind it never reach the upstream", async () => {
    const before = upstream.executed.length;
    const judged = decider.inputs.length;
    const raw = await rawExchange(gw.port, v10(true) + v10(true, "/orders/2") + v10(false, "/orders/3"));
    expect(statusLines(raw)).toEqual(["HTTP/1.1 200 OK"]);
    expect(raw).toMatch(/\r\nConnection: close\r\n/i);
    // Let anything still on its way arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(upstream.executed.slice(before).map((e) => e.path)).toEqual(["/orders"]);
    expect(decider.inputs.slice(judged).map((i) => (i.http as HttpInput).raw_path)).toEqual(["/orders"]);
  });

  it("must-allow: HTTP/1.1 pipelined requests are each decided, executed and answered in order", async () => {
    const before = upstream.executed.length;
    const get = (path: string, extra = ""): string => head("GET", path, `${extra}\r\n`);
    const raw = await rawExchange(gw.port, get("/a") + order("") + head("DELETE", "/orders/1", "\r\n") + get("/b", "Connection: close\r\n"));
    expect(statusLines(raw)).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 403 Forbidden", "HTTP/1.1 200 OK"]);
    expect(upstream.executed.slice(before).map((e) => `${e.method} ${e.path}`)).toEqual(["GET /a", "POST /orders", "GET /b"]);
  });
});

describe("an absolute-form target with another authority than Host", () => {
  it("the policy reads the authority the upstream is told (X-Forwarded-Host), not the Host header", async () => {
    const before = upstream.executed.length;
    const raw = await rawExchange(gw.port, order("Connection: close\r\n").replace("POST /orders ", "POST http://admin.local/orders "));
    expect(statusLines(raw)).toEqual(["HTTP/1.1 403 Forbidden"]);
    expect(raw).toContain("the admin host is read-only");
    expect(upstream.executed.slice(before)).toEqual([]);
  });

  it("must-allow: an absolute-form target naming the Host's own authority", async () => {
    const before = upstream.executed.length;
    const raw = await rawExchange(gw.port, order("Connection: close\r\n").replace("POST /orders ", "POST http://api.local/orders "));
    expect(statusLines(raw)).toEqual(["HTTP/1.1 200 OK"]);
    expect(upstream.executed.slice(before).map((e) => e.headers["x-forwarded-host"])).toEqual(["api.local"]);
  });
});
