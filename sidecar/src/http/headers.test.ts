import { describe, expect, it } from "vitest";
import { agentCredential, collidingHeaders, forwardHeaders, inputHeaders, responseHeaders } from "./headers.js";
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
    const out = forwardHeaders(incoming, route!, { address: "127.0.0.1", host: "localhost:8080" }, false);
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
    const out = forwardHeaders(incoming, route!, { address: "::1", host: "" }, true);
    expect(out["accept-encoding"]).toBe("identity");
    expect(out.range).toBeUndefined();
  });
});

describe("inputHeaders", () => {
  it("removes every credential header and joins repeated values", () => {
    const out = inputHeaders({ ...incoming, "x-multi": ["a", "b"] }, route);
    for (const h of ["authorization", "proxy-authorization", "cookie", "x-api-key", "x-service-key"]) expect(out[h]).toBeUndefined();
    expect(out["x-multi"]).toBe("a, b");
    expect(out.accept).toBe("application/json");
  });
});

describe("responseHeaders", () => {
  it("drops hop-by-hop headers and cookies", () => {
    expect(responseHeaders({ "set-cookie": ["a=1"], connection: "close, x-hop", "x-hop": "1", "transfer-encoding": "chunked", "content-type": "text/plain", "x-ok": "1" })).toEqual({
      "content-type": "text/plain",
      "x-ok": "1",
    });
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
