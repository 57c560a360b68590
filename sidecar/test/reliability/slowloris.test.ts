// Slowloris against the real headers timeout: five connections opened together, each sending a request line
// and then one header byte a second, are each answered 408 and closed within the 10 s headers timeout plus
// its one-second check, while a normal request on another connection is answered at once.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEADERS_TIMEOUT_MS } from "../../src/http/gateway.js";
import { AGENT_TOKEN, startGateway, startUpstream, TestRulesDecider, type GatewayUnderTest, type Upstream } from "../http/fixtures.js";

let gw: GatewayUnderTest;
let upstream: Upstream;

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startGateway({ routes: [{ name: "api", prefix: "/api", upstream: `${upstream.url}/api` }], decider: new TestRulesDecider(() => ({})) });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

function slowloris(): Promise<{ ms: number; answer: string }> {
  return new Promise((resolve) => {
    const s = connect(gw.port, "127.0.0.1");
    let answer = "";
    const t0 = Date.now();
    s.on("error", () => undefined);
    s.on("data", (b: Buffer) => (answer += b.toString()));
    s.once("connect", () => s.write("GET /api/orders/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
    const trickle = setInterval(() => !s.destroyed && s.write("a"), 1000);
    s.once("close", () => {
      clearInterval(trickle);
      resolve({ ms: Date.now() - t0, answer });
    });
  });
}

describe("slowloris", () => {
  it("five trickling connections are answered 408 and closed within the headers timeout; others are served meanwhile", async () => {
    const slow = Promise.all([slowloris(), slowloris(), slowloris(), slowloris(), slowloris()]);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${gw.port}/api/orders/1`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    for (const { ms, answer } of await slow) {
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(ms).toBeLessThan(HEADERS_TIMEOUT_MS + 4000);
    }
  }, 40_000);
});
