// regate's route credential never comes back to the agent, whatever the upstream echoes: headers, JSON and
// text bodies, base64 at any alignment, gzip/deflate/br bodies, error bodies, event streams. Checked on the
// streaming path (no mask rules) and on the masking path (the example policy through the real pipeline).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, allLogs, authed, rawExchange, rawRequest, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest, type RawResponse } from "./fixtures.js";
import { startLenientUpstream, type LenientUpstream } from "./lenient-upstream.js";

let upstream: LenientUpstream;
const gateways: Record<string, GatewayUnderTest> = {};
const BASIC = { user: "svc", password: `basic-pw-${UPSTREAM_SECRET.slice(-12)}` };

beforeAll(async () => {
  upstream = await startLenientUpstream();
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const bearer = { type: "bearer" as const, value: UPSTREAM_SECRET };
  gateways.streaming = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: upstream.url, credential: bearer }], decider: new TestRulesDecider(() => ({})) });
  gateways.masking = await startGateway({
    routes: [{ name: "api", prefix: "/", upstream: upstream.url, credential: bearer }],
    decider: new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] }),
  });
  gateways.basic = await startGateway({
    routes: [{ name: "api", prefix: "/", upstream: upstream.url, credential: { type: "basic", value: `${BASIC.user}:${BASIC.password}` } }],
    decider: new TestRulesDecider(() => ({})),
  });
});

afterAll(async () => {
  for (const g of Object.values(gateways)) await g.close();
  await upstream.close();
});

/** Every form in which the secret could be recognised in what the agent received. */
function leaks(r: RawResponse, secret: string): string[] {
  const text = JSON.stringify(r.headers) + r.body.toString("latin1");
  const found: string[] = [];
  if (text.includes(secret)) found.push("raw");
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.from("A".repeat(pad) + secret).toString("base64");
    const core = b64.slice(Math.ceil((8 * pad) / 6), Math.floor((8 * (pad + secret.length)) / 6));
    if (text.includes(core)) found.push(`base64@${pad}`);
    if (text.includes(core.replace(/\+/g, "-").replace(/\//g, "_"))) found.push(`base64url@${pad}`);
  }
  return found;
}

const get = (g: string, path: string, headers: Record<string, string> = {}) => rawRequest(`${gateways[g]!.url}${path}`, { headers: authed({ "accept-encoding": "gzip, deflate, br", ...headers }) });

describe.each(["streaming", "masking"])("the bearer credential on the %s path", (g) => {
  it.each([
    ["a JSON echo of the request headers", "/echo/headers", 200],
    ["response header values", "/echo/header-value", 200],
    ["base64 of the token", "/echo/base64", 200],
    ["the token inside larger base64 blobs, at every alignment", "/echo/embedded-base64", 200],
    ["a gzip body", "/echo/gzip", 200],
    ["a deflate body", "/echo/deflate", 200],
    ["a brotli body", "/echo/br", 200],
    ["an error body", "/echo/error", 500],
  ])("is not in %s", async (_name, path, status) => {
    const r = await get(g, path);
    expect(r.status).toBe(status);
    expect(leaks(r, UPSTREAM_SECRET)).toEqual([]);
    expect(r.headers["content-encoding"]).toBeUndefined();
    // Headers and rewritten bodies say [REDACTED]; an uncompressed body streamed as is gets "*" per byte.
    expect(JSON.stringify(r.headers) + r.body.toString()).toMatch(/\[REDACTED\]|\*{20}/);
  });

  it("is not in a plain-text body (refused outright on the masking path: field rules cannot apply to text)", async () => {
    const r = await get(g, "/echo/text");
    expect(r.status).toBe(g === "streaming" ? 200 : 403);
    expect(leaks(r, UPSTREAM_SECRET)).toEqual([]);
    if (g === "streaming") expect(r.body.toString()).toBe(`debug: Bearer ${"*".repeat(UPSTREAM_SECRET.length)}`);
  });

  it("is not in an event stream, split across the upstream's writes", async () => {
    const res = await fetch(`${gateways[g]!.url}/echo/sse`, { headers: authed() });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('{"n":1}');
    let rest = new TextDecoder().decode(first.value);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toMatch(/\[REDACTED\]|\*{20}/);
    expect(rest).not.toContain(UPSTREAM_SECRET.slice(0, 12));
    expect(rest).not.toContain(UPSTREAM_SECRET.slice(-12));
  });

  it("a body in an encoding regate cannot decode is refused, saying the upstream handled the request", async () => {
    const r = await get(g, "/echo/zstd");
    expect(r.status).toBe(g === "streaming" ? 502 : 403);
    expect(leaks(r, UPSTREAM_SECRET)).toEqual([]);
    expect(JSON.parse(r.body.toString())).toMatchObject(g === "streaming" ? { code: "UPSTREAM_RESPONSE_REFUSED", reason: expect.stringContaining("handled the request") } : { code: "MASK_LINEAGE_UNKNOWN" });
  });

  it("is not in the status line (regate writes its own reason phrase)", async () => {
    const out = await rawExchange(gateways[g]!.port, `GET /echo/status-reason HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nConnection: close\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(out).not.toContain(UPSTREAM_SECRET);
  });

  it("a Range request cannot fetch the token in pieces: the range is not forwarded", async () => {
    const r = await get(g, "/echo/headers", { range: "bytes=0-40" });
    expect(r.status).toBe(200);
    expect(upstream.executed.at(-1)!.headers.range).toBeUndefined();
    expect(leaks(r, UPSTREAM_SECRET)).toEqual([]);
  });
});

describe("a basic credential", () => {
  it.each(["/echo/headers", "/echo/header-value", "/echo/base64", "/echo/gzip"])("neither user:password, the password nor their base64 come back from %s", async (path) => {
    const r = await get("basic", path);
    expect(r.status).toBe(200);
    expect(leaks(r, `${BASIC.user}:${BASIC.password}`)).toEqual([]);
    expect(leaks(r, BASIC.password)).toEqual([]);
  });
});

describe("must-allow", () => {
  it("a response without the credential passes byte for byte", async () => {
    const r = await get("streaming", "/orders/12345678901234567890");
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(JSON.stringify({ method: "GET", path: "/orders/12345678901234567890" }));
  });

  it("no log line carries the credential", () => {
    for (const g of Object.values(gateways)) expect(allLogs(g.lines)).not.toContain(UPSTREAM_SECRET);
  });
});
