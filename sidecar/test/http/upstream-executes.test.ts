// The policy judges the request the upstream executes. A lenient upstream (method overrides honoured, paths
// decoded and normalised as frameworks do) behind regate with the example policy, through the real
// DecisionPipeline and decision log: each evasion is refused or decided as the upstream will execute it.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionLog } from "../../src/audit/index.js";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, allLogs, authed, memoryLogger, rawExchange, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";
import { startLenientUpstream, type LenientUpstream } from "./lenient-upstream.js";

const logSinks: DecisionLog[] = [];
/** The decision-log lines written so far: the sinks batch them, so their pending ones are written first. */
const loggedLines = (): string[] => {
  for (const sink of logSinks) sink.flush();
  return decisionLog.lines;
};
let upstream: LenientUpstream;
let store: PolicyStore;
const decisionLog = memoryLogger();

async function gatewayWith(request?: { method_override?: "decide" | "strip"; ambiguous_paths?: "refuse" | "canonical" }, responseTypes?: string[]): Promise<GatewayUnderTest> {
  const sink = new DecisionLog(decisionLog.logger, { bundleName: "regate", labels: { app: "regate" } });
  logSinks.push(sink);
  const decider = new DecisionPipeline({
    policy: () => store.active,
    entrypoint: "regate/decision",
    dryRun: false,
    sinks: [sink],
    logMask: true,
  });
  return startGateway({
    routes: [{ name: "demo-api", prefix: "/", upstream: upstream.url, credential: { type: "bearer", value: UPSTREAM_SECRET }, ...(responseTypes ? { response_types: responseTypes } : {}) }],
    decider,
    ...(request ? { request } : {}),
  });
}

let gw: GatewayUnderTest;
let strip: GatewayUnderTest;
let canonical: GatewayUnderTest;

beforeAll(async () => {
  store = new PolicyStore(BUNDLE);
  await store.load();
  upstream = await startLenientUpstream();
  gw = await gatewayWith();
  strip = await gatewayWith({ method_override: "strip" });
  canonical = await gatewayWith({ ambiguous_paths: "canonical" });
});

afterAll(async () => {
  await gw.close();
  await strip.close();
  await canonical.close();
  await upstream.close();
});

async function send(g: GatewayUnderTest, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const before = upstream.executed.length;
  const res = await fetch(`${g.url}${path}`, { method, headers: authed(headers), ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, text, executed: upstream.executed.slice(before) };
}

const form = { "content-type": "application/x-www-form-urlencoded" };
const json = { "content-type": "application/json" };

describe("method overrides (default: the policy judges the overriding method)", () => {
  it.each([
    ["X-HTTP-Method-Override", "/orders/1", { "x-http-method-override": "DELETE" }, undefined],
    ["X-HTTP-Method", "/orders/1", { "x-http-method": "delete" }, undefined],
    ["X-Method-Override", "/orders/1", { "x-method-override": "DELETE" }, undefined],
    ["_method in the query", "/orders/1?_method=DELETE", {}, undefined],
    ["_method in a form body", "/orders/1", form, "_method=DELETE"],
    ["_method in a JSON body", "/orders/1", json, JSON.stringify({ _method: "DELETE" })],
    ["X_HTTP_Method_Override (CGI, WSGI and Rack read it as the dashed one)", "/orders/1", { X_HTTP_Method_Override: "DELETE" }, undefined],
    ["x-http_method", "/orders/1", { "x-http_method": "DELETE" }, undefined],
    [".method in the query (PHP reads it as _method)", "/orders/1?.method=DELETE", {}, undefined],
    ["%2Emethod in the query", "/orders/1?%2Emethod=DELETE", {}, undefined],
    ["_method[] in a form", "/orders/1", form, "_method[]=DELETE"],
    // Not first: a form that begins with "[" is also a JSON-looking body (request-side-redteam.test.ts), refused with 400.
    ["[method in a form", "/orders/1", form, "a=1&[method=DELETE"],
  ])("POST with %s is judged as DELETE and denied; the upstream executes nothing", async (_name, path, headers, body) => {
    const r = await send(gw, "POST", path, headers, body ?? "");
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "POLICY_DENIED", reason: expect.stringMatching(/^regate refused this request: DELETE\ requests\ are\ not\ allowed \(decision [^)]+\)\. Next: .+\.$/) });
    expect(r.executed).toEqual([]);
  });

  it.each([
    ["POST overridden to GET on refunds: the POST (if the upstream ignores the override) needs approval", "POST", "/refunds", "GET", 403, "APPROVAL_REQUIRED"],
    ["DELETE overridden to GET: a POST-only override filter leaves the DELETE", "DELETE", "/orders/1", "GET", 403, "POLICY_DENIED"],
  ])("both methods are judged when they differ: %s", async (_name, wire, path, override, status, code) => {
    const r = await send(gw, wire, path, { ...json, "x-http-method-override": override }, JSON.stringify({ order_id: 1 }));
    expect(r.status).toBe(status);
    expect(JSON.parse(r.text)).toMatchObject({ code });
    expect(r.executed).toEqual([]);
  });

  it("an override header in two spellings is refused with 400: which one an upstream reads is its choice", async () => {
    const r = await send(gw, "POST", "/orders/1", { "x-http-method-override": "PATCH", x_http_method_override: "DELETE" }, "");
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toMatchObject({ code: "PROTOCOL_VIOLATION", reason: expect.stringContaining("one header") });
    expect(r.executed).toEqual([]);
  });

  it.each([
    ["a header and the query", "/orders/1?_method=GET", { "x-http-method-override": "DELETE" }, ""],
    ["_method=POST and .method=DELETE in a form (PHP keeps the last)", "/orders/1", form, "_method=POST&.method=DELETE"],
  ])("overrides that disagree (%s) are refused with 400 before the policy runs", async (_name, path, headers, body) => {
    const r = await send(gw, "POST", path, headers, body);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toMatchObject({ code: "PROTOCOL_VIOLATION", reason: expect.stringContaining("disagree") });
    expect(r.executed).toEqual([]);
  });

  it("an override the policy allows is forwarded, and the upstream executes what was judged", async () => {
    const r = await send(gw, "POST", "/orders/1", { "x-http-method-override": "PATCH" }, "{}");
    expect(r.status).toBe(200);
    expect(r.executed).toMatchObject([{ method: "PATCH", wire_method: "POST" }]);
  });

  it("the decision log records both methods and where the override came from", async () => {
    await send(gw, "POST", "/orders/2", { "x-http-method-override": "DELETE" }, "");
    const lines = loggedLines().map((l) => JSON.parse(l) as { input?: { http?: { path?: string } } }).filter((l) => l.input?.http?.path === "/orders/2");
    // One decision for the override, one for the request line's method (an upstream may honour either).
    expect(lines.map((l) => l.input?.http)).toMatchObject([
      { method: "DELETE", request_method: "POST", method_override: { source: ["x-http-method-override"], value: "DELETE" } },
      { method: "POST", request_method: "POST" },
    ]);
  });
});

describe("header names an upstream reads with _ for -", () => {
  it("headers regate rebuilds or never forwards go in that spelling too; the policy sees names as the upstream does", async () => {
    const r = await send(gw, "GET", "/orders/1", { X_Forwarded_For: "6.6.6.6", X_Api_Key: "agent-key", Proxy_Authorization: "Basic eA==", X_Tenant: "acme" });
    expect(r.status).toBe(200);
    const names = Object.keys(r.executed[0]!.headers).map((h) => h.replaceAll("_", "-"));
    expect(names).not.toContain("x-api-key");
    expect(names).not.toContain("proxy-authorization");
    expect(r.executed[0]!.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(r.executed[0]!.headers["x_forwarded_for"]).toBeUndefined();
    expect(r.executed[0]!.headers["x_tenant"]).toBe("acme");
    const logged = loggedLines().map((l) => JSON.parse(l) as { input?: { http?: { headers?: Record<string, string> } } });
    expect(logged.at(-1)?.input?.http?.headers).toMatchObject({ "x-tenant": "acme" });
    expect(JSON.stringify(logged.at(-1))).not.toContain("agent-key");
  });
});

describe("JSON keys as case-insensitive decoders read them (Go's encoding/json, mcp-go)", () => {
  it.each([
    ['{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"NAME":"delete_customer"}}'],
    ['{"jsonrpc":"2.0","id":6,"METHOD":"tools/call","params":{"name":"delete_customer"}}'],
    ['{"JSONRPC":"2.0","id":7,"method":"tools/call","params":{"name":"delete_customer"}}'],
    ['{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_customer","Name":"delete_customer"}}'],
    ['{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"read_customer"},"paramſ":{"name":"delete_customer"}}'],
  ])("%s is refused; the upstream executes nothing", async (body) => {
    const r = await send(gw, "POST", "/mcp", json, body);
    expect(r.executed).toEqual([]);
    expect(r.text).toMatch(/delete_customer is not allowed|could not be parsed/);
  });
});

describe("bodies an upstream reads otherwise (fourth red-team pass)", () => {
  it.each([
    ["a form type cut at a comma, as PHP cuts it", { "content-type": "application/x-www-form-urlencoded,text/plain" }, "_method=DELETE"],
    ["a NUL in the parameter name, where PHP ends it", form, "_method%00x=DELETE"],
    ["an RFC 2231 multipart name, which Go joins", { "content-type": "multipart/form-data; boundary=XX" }, '--XX\r\nContent-Disposition: form-data; name*0="_me"; name*1="thod"\r\n\r\nDELETE\r\n--XX--\r\n'],
  ])("%s: refused or judged as DELETE; the upstream executes nothing", async (_name, headers, body) => {
    const r = await send(gw, "POST", "/orders/1", headers, body);
    expect([400, 403]).toContain(r.status);
    expect(r.executed).toEqual([]);
  });
});

describe("headers that name another path", () => {
  it.each(["X-Original-URL", "X-Rewrite-URL"])("%s never reaches the upstream: it executes the path the policy judged", async (header) => {
    const r = await send(gw, "POST", "/orders/1", { ...json, [header]: "/refunds" }, "{}");
    expect(r.status).toBe(200);
    expect(r.executed).toMatchObject([{ method: "POST", path: "/orders/1" }]);
    expect(r.executed[0]!.headers[header.toLowerCase()]).toBeUndefined();
  });
});

describe("method overrides with method_override: strip", () => {
  it.each([
    ["X-HTTP-Method-Override", "/orders/1", { "x-http-method-override": "DELETE" }],
    ["X-HTTP-Method", "/orders/1", { "x-http-method": "DELETE" }],
    ["_method in the query", "/orders/1?a=1&_method=DELETE", {}],
    ["X_HTTP_Method_Override", "/orders/1", { X_HTTP_Method_Override: "DELETE" }],
    [".method in the query", "/orders/1?a=1&.method=DELETE", {}],
  ])("%s is removed: the upstream executes the POST the policy allowed", async (_name, path, headers) => {
    const r = await send(strip, "POST", path, headers, "{}");
    expect(r.status).toBe(200);
    expect(r.executed).toHaveLength(1);
    expect(r.executed[0]!.method).toBe("POST");
    expect(r.executed[0]!.url).not.toContain("method");
    for (const h of Object.keys(r.executed[0]!.headers)) expect(h.replaceAll("_", "-")).not.toMatch(/^x-(http-method|http-method-override|method-override)$/);
  });

  it("a _method in a form body cannot be removed: 400", async () => {
    const r = await send(strip, "POST", "/orders/1", form, "_method=DELETE");
    expect(r.status).toBe(400);
    expect(r.executed).toEqual([]);
  });
});

describe("canonical paths", () => {
  it.each([
    ["trailing slash", "/refunds/"],
    ["dot segments", "/x/../refunds/."],
    ["encoded dot segments", "/x/%2e%2e/refunds"],
    ["encoded unreserved characters", "/%72efunds"],
    ["repeated slashes", "//refunds//"],
  ])("POST to refunds via %s needs approval (the upstream would execute /refunds)", async (_name, path) => {
    const r = await send(gw, "POST", path, json, JSON.stringify({ order_id: 1 }));
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "APPROVAL_REQUIRED" });
    expect(r.executed).toEqual([]);
  });

  it.each([
    ["an encoded slash", "/x%2F..%2Frefunds"],
    ["a backslash", "/x\\..\\refunds"],
    ["a ; path parameter", "/refunds;jsessionid=1"],
    ["a ; in a dot segment", "/x/..;/refunds"],
    ["invalid UTF-8", "/refunds%ff"],
    ["a NUL", "/refunds%00"],
  ])("a path with %s is refused with 400 and a reason", async (_name, path) => {
    const before = upstream.executed.length;
    const out = await rawExchange(gw.port, `POST ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1.1 400/);
    expect(out).toContain("the request path is ambiguous or malformed");
    expect(upstream.executed.length).toBe(before);
  });

  it.each([
    ["an encoded slash", "/x%2F..%2Frefunds"],
    ["a ; in a dot segment", "/x/..;/refunds"],
  ])("with ambiguous_paths: canonical, a path with %s is decided in canonical form", async (_name, path) => {
    const before = upstream.executed.length;
    const out = await rawExchange(canonical.port, `POST ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1.1 403/);
    expect(out).toContain("APPROVAL_REQUIRED");
    expect(upstream.executed.length).toBe(before);
  });

  it("an allowed request is forwarded in canonical form, trailing slash kept", async () => {
    const out = await rawExchange(gw.port, `GET /a/./b/../%63ustomers//1/?x=1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nConnection: close\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1.1 200/);
    expect(upstream.executed.at(-1)!.url).toBe("/a/customers/1/?x=1");
  });
});

describe("masking with the example policy", () => {
  it("masks every spelling and every duplicate of a field, and keeps numbers exact", async () => {
    const r = await send(gw, "GET", "/customers/raw");
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"id": 12345678901234567890, "Email": "***@example.com", "email": "***@example.com", "email": "***@example.com", "SSN": "****", "balance": 10.50}');
  });
});

describe("a refused response after the upstream acted", () => {
  it("says the upstream already handled the write, so the agent does not retry it", async () => {
    const r = await send(gw, "POST", "/notes", json, JSON.stringify({ text: "hi" }));
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: expect.stringContaining("the upstream already handled the request, do not retry it") });
    expect(r.executed).toMatchObject([{ method: "POST", path: "/notes" }]);
    expect(r.text).not.toContain("alice@example.com");
  });
});

describe("routes that declare their response types", () => {
  it("a write whose answer field masks cannot apply to is refused before the upstream acts", async () => {
    const g = await gatewayWith(undefined, ["text/plain"]);
    try {
      const r = await send(g, "POST", "/notes", json, JSON.stringify({ text: "hi" }));
      expect(r.status).toBe(403);
      expect(JSON.parse(r.text)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: expect.stringContaining("the request was not sent upstream") });
      expect(r.executed).toEqual([]);
    } finally {
      await g.close();
    }
  });

  it("a JSON route answered with another type is refused; a JSON answer is masked as usual", async () => {
    const g = await gatewayWith(undefined, ["application/json"]);
    try {
      const text = await send(g, "POST", "/notes", json, "{}");
      expect(text.status).toBe(403);
      expect(JSON.parse(text.text)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: expect.stringContaining("does not declare") });
      expect(text.text).not.toContain("alice@example.com");
      const ok = await send(g, "GET", "/customers/raw");
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('"Email": "***@example.com"');
    } finally {
      await g.close();
    }
  });
});

describe("logs", () => {
  it("neither the agent's token nor the route credential reached any log line, decision log included", () => {
    expect(loggedLines().length).toBeGreaterThan(10);
    for (const lines of [loggedLines(), gw.lines, strip.lines, canonical.lines]) {
      expect(allLogs(lines)).not.toContain(AGENT_TOKEN);
      expect(allLogs(lines)).not.toContain(UPSTREAM_SECRET);
    }
  });
});

describe("a _method regate cannot read", () => {
  it.each([
    ["a form body over the input cap", form, `_method=DELETE&pad=${"x".repeat(9000)}`],
    ["a multipart body", { "content-type": "multipart/form-data; boundary=b" }, '--b\r\ncontent-disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--b--\r\n'],
    ["malformed JSON", json, '{"_method": "DELETE",'],
    ["a form body over the input cap, as .method", form, `.method=DELETE&pad=${"x".repeat(9000)}`],
    ["a form body over the input cap, as %2Emethod", form, `%2Emethod=DELETE&pad=${"x".repeat(9000)}`],
    ["malformed JSON, escaped", json, '{"\\u005f\\u006dethod": "DELETE",'],
    ["a UTF-16 body", {}, Buffer.from(JSON.stringify({ _method: "DELETE" }), "utf16le") as unknown as string],
  ])("in %s: refused with 400, nothing executed", async (_name, headers, body) => {
    const r = await send(gw, "POST", "/orders/1", headers, body);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toMatchObject({ code: "PROTOCOL_VIOLATION", reason: expect.stringContaining("_method") });
    expect(r.executed).toEqual([]);
  });

  it.each([
    ["without a content type", {}],
    ["as text/plain", { "content-type": "text/plain" }],
  ])("a UTF-16 body %s, which encoding-sniffing parsers read as JSON, is refused as unparsable", async (_name, headers) => {
    const r = await send(gw, "POST", "/orders/1", headers, Buffer.from(JSON.stringify({ amount: 1_000_000 }), "utf16le") as unknown as string);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "POLICY_DENIED", reason: expect.stringContaining("could not be parsed") });
    expect(r.executed).toEqual([]);
  });

  it("a large JSON-RPC body (its \"method\" is not an override) is judged as usual", async () => {
    const r = await send(gw, "POST", "/orders/1", json, JSON.stringify({ jsonrpc: "2.0", method: "tools/call", params: { pad: "x".repeat(9000) } }));
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "POLICY_DENIED", reason: expect.stringContaining("larger than regate inspects") });
  });

  it("a large body without one is judged as usual", async () => {
    const r = await send(gw, "POST", "/orders/1", json, JSON.stringify({ pad: "x".repeat(9000) }));
    // The example policy denies unparsed bodies on writes; the point is that the policy decided.
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "POLICY_DENIED", reason: expect.stringMatching(/^regate refused this request: request\ body\ is\ larger\ than\ regate\ inspects, or nested deeper \(decision [^)]+\)\. Next: .+\.$/) });
  });
});
