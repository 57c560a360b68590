// Slowloris against the real headers timeout: five connections opened together, each sending a request line
// and then one header byte a second, are each answered 408 and closed within the 10 s headers timeout plus
// its one-second check, while a normal request on another connection is answered at once.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEADERS_TIMEOUT_MS } from "../../src/http/gateway.js";
import { until } from "../support/wait.js";
import { AGENT_TOKEN, startGateway, startUpstream, TestRulesDecider, type GatewayUnderTest, type Upstream } from "../http/fixtures.js";

let gw: GatewayUnderTest;
let upstream: Upstream;
/** Slow connections whose request line was written, and those closed (by the 408). */
let slowStarted = 0;
let slowClosed = 0;

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
    s.once("connect", () => s.write("GET /api/orders/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", () => slowStarted++));
    const trickle = setInterval(() => !s.destroyed && s.write("a"), 1000);
    s.once("close", () => {
      slowClosed++;
      clearInterval(trickle);
      resolve({ ms: Date.now() - t0, answer });
    });
  });
}

describe("slowloris", () => {
  it("five trickling connections are answered 408 and closed within the headers timeout; others are served meanwhile", async () => {
    const slow = Promise.all([slowloris(), slowloris(), slowloris(), slowloris(), slowloris()]);
    await until(() => slowStarted === 5);
    const res = await fetch(`http://127.0.0.1:${gw.port}/api/orders/1`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    // Answered while all five still trickle (each is closed only at the 10 s headers timeout): not queued behind them.
    expect(slowClosed).toBe(0);
    for (const { ms, answer } of await slow) {
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(ms).toBeLessThan(HEADERS_TIMEOUT_MS + 4000);
    }
  }, 40_000);
});
