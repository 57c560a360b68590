import { describe, expect, it } from "vitest";
import { coveredHeaders } from "./approved-headers.js";
import { requestHash } from "./hold.js";
import { compileRoutes } from "./routes.js";

const [route] = compileRoutes([{ name: "r", prefix: "/", upstream: "http://h", credential: { type: "header", header: "X-Service-Key", value: "svc-secret" } }]);

/** What an agent's client sends: headers the upstream acts on, and the rest. */
const incoming = {
  host: "localhost:8080",
  authorization: "Bearer agent-token",
  cookie: "sid=1",
  "x-service-key": "agent-guess",
  connection: "keep-alive, X-Drop-Me",
  "x-drop-me": "1",
  "content-length": "12",
  "content-type": "application/json",
  "x-forwarded-for": "6.6.6.6",
  "x-account-id": "acct_1",
  "idempotency-key": "k-1",
  prefer: "return=minimal",
  "if-match": '"v3"',
  range: "bytes=0-10",
  "x-tenant": "acme",
  x_tenant: "other",
  "user-agent": "agent-sdk/1.2",
  "accept-encoding": "gzip",
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  tracestate: "vendor=1",
  "x-request-id": "r-1",
  "x-b3-traceid": "463ac35c9f6413ad",
  "x-amzn-trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793",
};

describe("coveredHeaders", () => {
  it("covers every header forwarded from the agent but tracing, request ids and Accept-Encoding; none of regate's own; sorted by name", () => {
    expect(coveredHeaders(incoming, route!)).toEqual([
      ["idempotency-key", "k-1"],
      ["if-match", '"v3"'],
      ["prefer", "return=minimal"],
      ["range", "bytes=0-10"],
      ["user-agent", "agent-sdk/1.2"],
      ["x-account-id", "acct_1"],
      ["x-tenant", "acme"],
      ["x_tenant", "other"],
    ]);
    expect(JSON.stringify(coveredHeaders(incoming, route!))).not.toContain("svc-secret");
  });

  it("a header sent several times is covered with its values in order", () => {
    expect(coveredHeaders({ "x-scope": "a, b" }, route!)).not.toEqual(coveredHeaders({ "x-scope": "b, a" }, route!));
  });
});

describe("requestHash", () => {
  const hash = (h: Record<string, string>) => requestHash("bot", "r", "POST", "/refunds", "", ["application/json", ""], coveredHeaders(h, route!), Buffer.from("{}"));

  it("changes with any covered header, its name's spelling or its case-folded name not", () => {
    const base = hash({ "x-account-id": "acct_1" });
    expect(hash({ "x-account-id": "acct_2" })).not.toBe(base);
    expect(hash({ "x-account-id": "acct_1", "idempotency-key": "k" })).not.toBe(base);
    expect(hash({ x_account_id: "acct_1" })).not.toBe(base);
    expect(hash({})).not.toBe(base);
  });

  it("does not change with a new trace context, request id or client credential on a re-run", () => {
    const base = hash({ "x-account-id": "acct_1", traceparent: "00-a-b-01", "x-request-id": "1", authorization: "Bearer a" });
    expect(hash({ "x-account-id": "acct_1", traceparent: "00-c-d-01", "x-request-id": "2", authorization: "Bearer b" })).toBe(base);
  });
});
