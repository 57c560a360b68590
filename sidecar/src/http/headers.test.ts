import { describe, expect, it } from "vitest";
import { agentCredential, agentReference, collidingHeaders, entityTagPrecondition, forwardHeaders, keyCacheToAgent, inputHeaders, responseHeaders, rewriteSelfReferences } from "./headers.js";
import { compileRoutes } from "./routes.js";

const [route] = compileRoutes([{ name: "r", prefix: "/", upstream: "http://h", credential: { type: "header", header: "X-Service-Key", value: "svc" } }]);

const incoming = {
  host: "localhost:8080",
  authorization: "Bearer agent-token",
  "proxy-authorization": "Bearer other",
  cookie: "sid=1",
  "x-api-key": "agent-guess",
  "x-service-key": "agent-guess-2",
  connection: "keep-alive, X-Drop-Me",
  "x-drop-me": "1",
  "keep-alive": "timeout=5",
  te: "trailers",
  upgrade: "websocket",
  "transfer-encoding": "chunked",
  expect: "100-continue",
  "x-forwarded-for": "6.6.6.6",
  "accept-encoding": "gzip",
  range: "bytes=0-10",
  "content-type": "application/json",
  accept: "application/json",
};

describe("forwardHeaders", () => {
  it("strips credentials and hop-by-hop headers, injects the route credential and X-Forwarded-For", () => {
    const out = forwardHeaders(incoming, route!, { address: "127.0.0.1", host: "localhost:8080" }, "none");
    expect(out).toEqual({
      "x-service-key": "svc",
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-proto": "http",
      "x-forwarded-host": "localhost:8080",
      "accept-encoding": "gzip",
      range: "bytes=0-10",
      "content-type": "application/json",
      accept: "application/json",
    });
  });

  it("asks for an identity, complete body when masking", () => {
    const out = forwardHeaders(incoming, route!, { address: "::1", host: "" }, "mask");
    expect(out["accept-encoding"]).toBe("identity");
    expect(out.range).toBeUndefined();
  });

  it.each([
    ["none", ["if-none-match", "if-match", "range", "request-range", "if-range"]],
    ["scrub", ["if-none-match", "if-match"]],
    ["mask", []],
  ] as const)("under %s, of the conditional and range headers only %j are forwarded", (inspect, kept) => {
    const conditional = { "if-none-match": '"a"', "if-match": '"b"', range: "bytes=0-1", "request-range": "bytes=0-1", "if-range": '"a"' };
    const out = forwardHeaders(conditional, route!, { address: "::1", host: "" }, inspect);
    expect(Object.keys(out).filter((k) => k in conditional)).toEqual(kept);
  });

  it('a masked request keeps "*" and loses a tag in CGI spelling', () => {
    const out = forwardHeaders({ "if-match": "*", if_none_match: '"a"' }, route!, { address: "::1", host: "" }, "mask");
    expect([out["if-match"], out.if_none_match]).toEqual(["*", undefined]);
  });

  it.each([
    [{ "if-match": '"x"' }, "if-match"],
    [{ if_none_match: 'W/"x"' }, "if_none_match"],
    [{ "if-none-match": " * " }, undefined],
    [{ "if-modified-since": "Mon, 02 Nov 2026 10:00:00 GMT" }, undefined],
  ])("entityTagPrecondition(%j) is %s", (headers, expected) => {
    expect(entityTagPrecondition(headers)).toBe(expected);
  });
});

describe("inputHeaders", () => {
  it("removes every credential header and joins repeated values", () => {
    const out = inputHeaders({ ...incoming, "x-multi": ["a", "b"] }, route);
    for (const h of ["authorization", "proxy-authorization", "cookie", "x-api-key", "x-service-key"]) expect(out[h]).toBeUndefined();
    expect(out["x-multi"]).toBe("a, b");
    expect(out.accept).toBe("application/json");
  });

  it("a header named __proto__ is a plain member (spelt with dashes), not the prototype", () => {
    const incomingProto = JSON.parse('{"__proto__":"x","accept":"a"}') as Record<string, string>;
    const out = inputHeaders(incomingProto, route);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"--proto--":"x","accept":"a"}');
  });
});

describe("responseHeaders", () => {
  it("drops hop-by-hop headers and cookies", () => {
    expect(responseHeaders({ "set-cookie": ["a=1"], connection: "close, x-hop", "x-hop": "1", "transfer-encoding": "chunked", "content-type": "text/plain", "x-ok": "1" })).toEqual({
      "content-type": "text/plain",
      "x-ok": "1",
    });
  });

  it("leaves out the body's descriptors when the body will be rewritten, and only then", () => {
    const upstream = { "content-type": "application/json", "content-length": "10", "content-encoding": "gzip", etag: '"a"', "accept-ranges": "bytes", digest: "sha-256=x", "content-digest": "x", "repr-digest": "x", "content-md5": "x" };
    expect(responseHeaders(upstream, true)).toEqual({ "content-type": "application/json" });
    expect(responseHeaders(upstream)).toEqual(upstream);
  });
});

describe("agentCredential", () => {
  it.each([
    [{ authorization: "Bearer abc" }, "abc"],
    [{ authorization: "bearer  abc " }, "abc"],
    [{ "proxy-authorization": "Bearer p", authorization: "Bearer a" }, "p"],
    [{ "proxy-authorization": "Basic x", authorization: "Bearer a" }, "a"],
    [{ authorization: "Basic abc" }, undefined],
    [{ authorization: "Bearer a b" }, undefined],
    [{}, undefined],
  ])("%j", (headers, expected) => expect(agentCredential(headers)).toBe(expected));
});

describe("collidingHeaders", () => {
  it.each([
    [{ "x-tenant": "a", x_tenant: "b" }, ["x_tenant", "x-tenant"]],
    [{ x_a_b: "a", "x-a_b": "b" }, ["x_a_b", "x-a_b"]],
    [{ x_tenant: "b", accept: "*/*" }, undefined],
    [{ "x-tenant": "a" }, undefined],
  ])("%j: %j", (headers, expected) => {
    expect(collidingHeaders(headers)).toEqual(expected);
  });
});

describe("agentReference", () => {
  // Agents call /crm/...; regate forwards to http://10.0.0.7:8080/v1/...; this request went to /v1/orders/5.
  const crm = { origin: "http://10.0.0.7:8080", basePath: "/v1", prefix: "/crm" };
  const root = { origin: "http://10.0.0.7:8080", basePath: "", prefix: "" };
  it.each([
    ["absolute, on the upstream", crm, "http://10.0.0.7:8080/v1/orders/6?a=1#f", "/crm/orders/6?a=1#f"],
    ["absolute, host in another case and the port spelled out", { ...crm, origin: "http://api.internal" }, "HTTP://API.internal:80/v1/x", "/crm/x"],
    ["path-absolute", crm, "/v1/orders", "/crm/orders"],
    ["relative to the request", crm, "../items/2", "/crm/items/2"],
    ["query only", crm, "?page=2", "/crm/orders/5?page=2"],
    ["the base path itself", crm, "/v1", "/crm"],
    ["the base path with its slash", crm, "/v1/", "/crm/"],
    ["outside the base path: no address through this route", crm, "/login", "/login"],
    ["a base path's look-alike", crm, "/v10/x", "/v10/x"],
    ["another origin", crm, "https://sso.example.com/x", "https://sso.example.com/x"],
    ["the upstream's host on another port", crm, "http://10.0.0.7:9090/v1/x", "http://10.0.0.7:9090/v1/x"],
    ["the upstream's host over https", crm, "https://10.0.0.7:8080/v1/x", "https://10.0.0.7:8080/v1/x"],
    ["a root route, absolute", root, "http://10.0.0.7:8080/a/b", "/a/b"],
    ["a root route, the root", root, "http://10.0.0.7:8080", "/"],
    ["not a URL", crm, "http://[bad", "http://[bad"],
  ])("%s", (_name, route, ref, expected) => {
    expect(agentReference(ref, route, "/v1/orders/5")).toBe(expected);
  });

  it("rewrites Location, Content-Location and each Link target, nothing else", () => {
    const headers = {
      location: "http://10.0.0.7:8080/v1/a",
      "content-location": "/v1/b",
      link: '<http://10.0.0.7:8080/v1/c?page=2>; rel="next", <https://docs.example.com/>; rel="help"',
      "x-other": "http://10.0.0.7:8080/v1/d",
    };
    rewriteSelfReferences(headers, crm, "/v1/orders/5");
    expect(headers).toEqual({
      location: "/crm/a",
      "content-location": "/crm/b",
      link: '</crm/c?page=2>; rel="next", <https://docs.example.com/>; rel="help"',
      "x-other": "http://10.0.0.7:8080/v1/d",
    });
  });
});

describe("keyCacheToAgent", () => {
  it.each([
    [{ "cache-control": "public, max-age=600" }, "Authorization, Proxy-Authorization"],
    [{ "cache-control": "max-age=60, s-maxage=600", vary: "Accept-Encoding" }, "Accept-Encoding, Authorization, Proxy-Authorization"],
    [{ "cache-control": "Must-Revalidate", vary: "authorization" }, "authorization, Proxy-Authorization"],
    [{ "cache-control": "public", vary: "*" }, "*"],
    [{ "cache-control": "private, max-age=60" }, undefined],
    [{ "cache-control": "no-store" }, undefined],
    [{ "cache-control": "max-age=60, x-public-ish" }, undefined],
    [{}, undefined],
  ])("%j: Vary %s", (headers, vary) => {
    const h: Record<string, string> = { ...headers };
    keyCacheToAgent(h);
    expect(h.vary).toBe(vary);
  });
});
