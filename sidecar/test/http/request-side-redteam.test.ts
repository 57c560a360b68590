// Request-side red team: does the policy judge the request the upstream actually executes? Each case is a
// JSON-RPC call the example policy denies (an MCP tool named delete_*), written so that regate's reading of
// the body and a common framework's reading differ. The framework upstream (framework-upstream.ts) records the
// call it executed; regate, with the example policy bundle, must refuse each request before it gets there.

import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, authed, rawExchange, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";
import { parseFirstWins, parseLenient, startFrameworkUpstream, type FrameworkUpstream } from "./framework-upstream.js";

let upstream: FrameworkUpstream;
let gw: GatewayUnderTest;

beforeAll(async () => {
  const store = new PolicyStore(BUNDLE);
  await store.load();
  upstream = await startFrameworkUpstream();
  const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
  gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: upstream.url, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

/** node:http, not fetch: fetch will not send a body with a GET. */
async function send(method: string, path: string, headers: Record<string, string>, body: string | Buffer) {
  const before = upstream.calls.length;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    // A GET's body is not framed by default: its length is given.
    const req = request(`${gw.url}${path}`, { method, headers: authed({ "content-length": String(Buffer.byteLength(body)), ...headers }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject).end(body);
  });
  return { status, body: JSON.parse(text) as Record<string, unknown>, calls: upstream.calls.slice(before) };
}

/**
 * A refusal as the agent gets it: an HTTP error body, or for a JSON-RPC request whose id JSON.parse can read, a
 * JSON-RPC error (HTTP 200) carrying that body, so that an MCP client shows it (docs/policy.md).
 */
function refusal(r: { status: number; body: Record<string, unknown> }) {
  if (r.body.jsonrpc === "2.0") {
    const e = r.body.error as { code: number; data: { code: string; reason: string } };
    expect([r.status, e.code]).toEqual([200, -32001]);
    return { envelope: "json-rpc", code: e.data.code, reason: e.data.reason };
  }
  expect(r.status).toBe(403);
  return { envelope: "http", code: r.body.code, reason: r.body.reason };
}

const rpc = (name: string, extra = ""): string => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${name}"${extra}}}`;

describe("the upstream emulations read what they claim", () => {
  it("first wins, lenient", () => {
    expect(parseFirstWins('{"a":{"n":"x","n":"y"},"b":[1,"]"]}')).toEqual({ a: { n: "x" }, b: [1, "]"] });
    expect(parseLenient("{'a': NaN, /* c */ 'b': [1,],}")).toEqual({ a: null, b: [1] });
  });
});

describe("a JSON body with a key twice: JSON.parse keeps the last, gjson, jsonparser, simdjson and jiffy the first", () => {
  it("is refused as unparsable; the upstream executes nothing", async () => {
    const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_customer","name":"read_customer"}}`;
    const r = await send("POST", "/first/mcp", { "content-type": "application/json" }, body);
    expect(r.calls).toEqual([]);
    expect(refusal(r)).toEqual({ envelope: "json-rpc", code: "POLICY_DENIED", reason: expect.stringContaining("request body could not be parsed") });

  });

  it("a key twice at the top level too (the method)", async () => {
    const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"delete_customer"}}`;
    const r = await send("POST", "/first/mcp", { "content-type": "application/json" }, body);
    expect(r.calls).toEqual([]);
    expect(refusal(r)).toMatchObject({ envelope: "json-rpc", code: "POLICY_DENIED" });
  });

  it("distinct keys, one spelled with an escape, are one key twice ('name' and 'n\\u0061me')", async () => {
    const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_customer","n\\u0061me":"read_customer"}}`;
    const r = await send("POST", "/first/mcp", { "content-type": "application/json" }, body);
    expect(r.calls).toEqual([]);
    expect(refusal(r)).toMatchObject({ envelope: "json-rpc", code: "POLICY_DENIED" });
  });
});

describe("JSON that JSON.parse rejects but lenient parsers read, sent with another type or none", () => {
  it.each([
    ["NaN without a content type (Starlette, FastAPI, Flask force=True: Python's json)", {}, rpc("delete_customer", ',"limit":NaN'), "http"],
    ["Infinity as text/plain (Flask get_json(force=True))", { "content-type": "text/plain" }, rpc("delete_customer", ',"limit":-Infinity'), "http"],
    ["a comment as text/x-json (Rails reads it as JSON; Ruby's parser skips comments)", { "content-type": "text/x-json" }, rpc("delete_customer", "/* c */"), "http"],
    ["single quotes and a trailing comma (Gson, Json.NET)", { "content-type": "text/plain" }, "{'jsonrpc':'2.0','id':1,'method':'tools/call','params':{'name':'delete_customer',},}", "http"],
    ["a leading comment (Gson, Json.NET, Ruby)", { "content-type": "text/plain" }, `/* x */ ${rpc("delete_customer")}`, "http"],
    ["an anti-XSSI prefix (Gson skips \")]}'\")", { "content-type": "text/plain" }, `)]}'\n${rpc("delete_customer")}`, "http"],
    ["a # comment first (Gson)", {}, `# x\n${rpc("delete_customer")}`, "http"],
    ["JSON sent as a form (Starlette's request.json() and Flask's force=True ignore the type)", { "content-type": "application/x-www-form-urlencoded" }, rpc("delete_customer"), "json-rpc"],
  ])("%s: refused; the upstream executes nothing", async (_name, headers, body, envelope) => {
    const r = await send("POST", "/lenient/rpc", headers, body);
    expect(r.calls).toEqual([]);
    expect(refusal(r)).toEqual({ envelope, code: "POLICY_DENIED", reason: expect.stringContaining("request body could not be parsed") });

  });

  it("a form that begins with \"[\" (PHP reads \"[method\" as _method) is refused with 400: its _method cannot be judged", async () => {
    const r = await send("POST", "/lenient/orders/1", { "content-type": "application/x-www-form-urlencoded" }, "[method=DELETE");
    expect(r.calls).toEqual([]);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: "PROTOCOL_VIOLATION", reason: expect.stringContaining("_method") });
  });

  it("plain text that does not start like JSON is still text, and allowed", async () => {
    const r = await send("POST", "/lenient/rpc", { "content-type": "text/plain" }, "hello");
    // The lenient reader cannot parse it: a 400 from the upstream is the upstream's own answer, after regate allowed it.
    expect(r.status).toBe(400);
  });
});

describe("a declared charset the upstream decodes the body with (Django's request.encoding, DRF's JSONParser)", () => {
  // In UTF-8 the tool is "x+ACIALAAi-..."; in UTF-7 "+ACIALAAi-" is '","' and the call names delete_customer.
  const utf7 = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x+ACIALAAi-name+ACIAOgAi-delete_customer"}}`;

  it.each([
    ["charset=utf-7", "application/json; charset=utf-7"],
    ["a quoted charset", 'application/json; charset="UTF-7"'],
    ["a second charset parameter", "application/json; charset=utf-8; charset=utf-7"],
  ])("%s: refused as unparsable; the upstream executes nothing", async (_name, type) => {
    const r = await send("POST", "/charset/rpc", { "content-type": type }, utf7);
    expect(r.calls).toEqual([]);
    expect(refusal(r)).toEqual({ envelope: "json-rpc", code: "POLICY_DENIED", reason: expect.stringContaining("request body could not be parsed") });

  });

  it("UTF-8 and ASCII-only bodies in a single-byte charset are read as the upstream reads them: allowed", async () => {
    for (const type of ["application/json; charset=utf-8", "application/json; charset=ISO-8859-1", "application/json; charset=us-ascii"]) {
      const r = await send("POST", "/charset/rpc", { "content-type": type }, rpc("read_customer"));
      expect(r.status).toBe(200);
      expect(r.calls).toMatchObject([{ tool: "read_customer" }]);
    }
  });

  it("non-ASCII text in a single-byte charset reads otherwise there: refused", async () => {
    const r = await send("POST", "/charset/rpc", { "content-type": "application/json; charset=windows-1252" }, rpc("read_cliënt"));
    expect(r.calls).toEqual([]);
    expect(refusal(r)).toMatchObject({ envelope: "json-rpc", code: "POLICY_DENIED" });
  });
});

describe("a body over the input cap on a GET (Express's express.json() and Go read GET bodies)", () => {
  it("is refused like any other body the policy could not read", async () => {
    const body = rpc("delete_customer", `,"arguments":{"pad":"${"x".repeat(9000)}"}`);
    const r = await send("GET", "/any/rpc", { "content-type": "application/json" }, body);
    expect(r.calls).toEqual([]);
    expect(refusal(r)).toEqual({ envelope: "json-rpc", code: "POLICY_DENIED", reason: expect.stringContaining("request body is larger than regate inspects") });

  });

  it("a GET without a body is allowed as before", async () => {
    const res = await fetch(`${gw.url}/any/rpc`, { headers: authed() });
    expect(res.status).toBe(400); // the upstream's answer to an empty JSON body: regate let it through
  });
});

describe("';' in the query: Rack 2 (Rails up to 7.0), older Python and Django split parameters at it", () => {
  // A policy of its own: the example policy reads no query parameter but _method, which no framework that
  // splits at ";" takes from the query. This one refuses role=admin in any value of the parameter.
  const decider = new TestRulesDecider((input) => {
    const q = (input.http as { parsed_query: Record<string, string[]> }).parsed_query;
    return (q.role ?? []).includes("admin") ? { outcome: "deny", reasons: ["role=admin is not for agents"] } : {};
  });
  let refuse: GatewayUnderTest;
  let canonical: GatewayUnderTest;
  beforeAll(async () => {
    const routes = [{ name: "api", prefix: "/", upstream: upstream.url, credential: { type: "bearer" as const, value: UPSTREAM_SECRET } }];
    refuse = await startGateway({ routes, decider });
    canonical = await startGateway({ routes, decider, request: { ambiguous_paths: "canonical" } });
  });
  afterAll(async () => {
    await refuse.close();
    await canonical.close();
  });
  const get = (g: GatewayUnderTest, target: string) =>
    rawExchange(g.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nConnection: close\r\n\r\n`);

  it("is refused with 400 by default: the upstream reads role=admin, the policy one value \"user;role=admin\"", async () => {
    const before = upstream.calls.length;
    const out = await get(refuse, "/rack/users?role=user;role=admin");
    expect(upstream.calls.slice(before)).toEqual([]);
    expect(out).toMatch(/^HTTP\/1.1 400/);
    expect(out).toContain("';' in the query");
  });

  it("with ambiguous_paths: canonical, it is forwarded as %3B: the upstream reads the value the policy judged", async () => {
    const before = upstream.calls.length;
    const out = await get(canonical, "/rack/users?role=user;role=admin");
    expect(out).toMatch(/^HTTP\/1.1 200/);
    expect(upstream.calls.slice(before)).toMatchObject([{ query: { role: "user;role=admin" } }]);
    expect(decider.inputs.at(-1)!.http).toMatchObject({ query: "role=user%3Brole=admin", parsed_query: { role: ["user;role=admin"] } });
  });

  it("'&' and an encoded ';' are read alike by both", async () => {
    const out = await get(refuse, "/rack/users?role=user&role=admin");
    expect(out).toMatch(/^HTTP\/1.1 403/);
    const before = upstream.calls.length;
    expect(await get(refuse, "/rack/users?role=a%3Bb")).toMatch(/^HTTP\/1.1 200/);
    expect(upstream.calls.slice(before)).toMatchObject([{ query: { role: "a;b" } }]);
  });
});

describe("a decimal a double does not hold (Python's Decimal, Go's json.Number, Jackson's BigDecimal read it exactly)", () => {
  // A policy of its own: refunds up to 1000. JSON.parse reads 1000.00000000000001 as 1000.
  const decider = new TestRulesDecider((input) => {
    const h = input.http as { body_parse_error: boolean; parsed_body?: { amount?: number } };
    if (h.body_parse_error) return { outcome: "deny", reasons: ["request body could not be parsed"] };
    return (h.parsed_body?.amount ?? 0) > 1000 ? { outcome: "deny", reasons: ["refunds over 1000 need a human"] } : {};
  });
  let g: GatewayUnderTest;
  beforeAll(async () => {
    g = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: upstream.url, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
  });
  afterAll(() => g.close());

  it.each(["1000.00000000000001", "1000000000000000001e-15"])("amount %s is refused as unparsable; the upstream refunds nothing", async (amount) => {
    const before = upstream.calls.length;
    const res = await fetch(`${g.url}/decimal/refunds`, { method: "POST", headers: authed({ "content-type": "application/json" }), body: `{"amount":${amount}}` });
    expect(upstream.calls.slice(before)).toEqual([]);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ reason: expect.stringContaining("could not be parsed") });
  });

  it("an amount a double holds is judged as written", async () => {
    const before = upstream.calls.length;
    const res = await fetch(`${g.url}/decimal/refunds`, { method: "POST", headers: authed({ "content-type": "application/json" }), body: '{"amount":999.99}' });
    expect(res.status).toBe(200);
    expect(upstream.calls.slice(before)).toMatchObject([{ amount: "999.99" }]);
  });
});

describe("sound: what the upstream cannot receive", () => {
  it("a trailer (a method override in it, which servers that merge trailers into headers would honour) and chunk extensions never reach the upstream", async () => {
    const body = rpc("read_customer");
    const before = upstream.calls.length;
    const out = await rawExchange(
      gw.port,
      `POST /any/rpc HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: X-HTTP-Method-Override\r\nConnection: close\r\n\r\n` +
        `${body.length.toString(16)};ext="x-http-method-override: DELETE"\r\n${body}\r\n0\r\nX-HTTP-Method-Override: DELETE\r\n\r\n`,
    );
    expect(out).toMatch(/^HTTP\/1.1 200/);
    const calls = upstream.calls.slice(before);
    expect(calls).toMatchObject([{ method: "POST", tool: "read_customer", trailers: {} }]);
    expect(calls[0]!.headers).not.toHaveProperty("x-http-method-override");
    expect(calls[0]!.headers).not.toHaveProperty("trailer");
    expect(calls[0]!.headers).not.toHaveProperty("transfer-encoding");
    expect(calls[0]!.headers!["content-length"]).toBe(String(body.length));
  });

  it("two Content-Type headers: node keeps the first, and only that one is forwarded, so the policy and the upstream read the same type", async () => {
    const body = rpc("delete_customer");
    const before = upstream.calls.length;
    const out = await rawExchange(
      gw.port,
      `POST /any/rpc HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    // A refused JSON-RPC request is answered with a JSON-RPC error (HTTP 200), as docs/policy.md says.
    expect(out).toContain('"code":-32001');
    expect(out).toContain("MCP tool delete_customer is not allowed");
    expect(upstream.calls.slice(before)).toEqual([]);
  });

  it("a gzip body is judged decoded, and a GET's gzip body over the cap once decoded is refused", async () => {
    const { gzipSync } = await import("node:zlib");
    const small = await send("POST", "/any/rpc", { "content-type": "application/json", "content-encoding": "gzip" }, gzipSync(rpc("delete_customer")));
    expect(small.calls).toEqual([]);
    expect(small.body).toMatchObject({ error: { code: -32001, message: expect.stringContaining("MCP tool delete_customer is not allowed") } });
    const bomb = await send("GET", "/any/rpc", { "content-type": "application/json", "content-encoding": "gzip" }, gzipSync(rpc("delete_customer", `,"pad":"${"x".repeat(20_000)}"`)));
    expect(bomb.calls).toEqual([]);
    expect(bomb.body).toMatchObject({ reason: expect.stringContaining("larger than regate inspects") });
  });
});
