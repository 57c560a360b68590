// Slow and broken HTTP clients. A request whose headers are refused (malformed, or not finished within Node's
// headers timeout: slowloris) is answered 400/408 by the gateway's own clientError handler, and its connection
// must then close even when the client keeps sending (the handler half-closes with socket.end; a client that
// trickles on must not keep the socket). The real timeout (60 s, checked every 30 s) is measured in
// sidecar/bench/load.ts; here its error is raised directly.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, TestRulesDecider, type GatewayUnderTest } from "../http/fixtures.js";

let gw: GatewayUnderTest;

beforeAll(async () => {
  gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: "http://127.0.0.1:9" }], decider: new TestRulesDecider(() => ({})) });
});

afterAll(async () => {
  await gw?.close();
});

describe("slow and broken HTTP clients", () => {
  it("a refused request's connection closes although the client keeps sending", async () => {
    const s = connect(gw.port, "127.0.0.1");
    s.on("error", () => undefined);
    await new Promise((r) => s.once("connect", r));
    let answer = "";
    s.on("data", (b: Buffer) => (answer += b.toString()));
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      s.once("close", () => resolve(Date.now() - t0));
    });
    s.write("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nThis is not a header\r\n");
    const trickle = setInterval(() => !s.destroyed && s.write("a"), 100);
    const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
    clearInterval(trickle);
    s.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(ms, "the connection was still open 5 s after the 400").toBeGreaterThanOrEqual(0);
  });

  it("slowloris: a request whose headers time out is answered 408 and its connection closes while the client still trickles", async () => {
    // Node's own check runs every 30 s (connectionsCheckingInterval) after 60 s (headersTimeout): the error it
    // raises is raised here directly, on the server's side of a real connection that is still sending headers.
    const serverSide = new Promise<Socket>((resolve) => gw.gateway.server.once("connection", resolve));
    const s = connect(gw.port, "127.0.0.1");
    s.on("error", () => undefined);
    await new Promise((r) => s.once("connect", r));
    let answer = "";
    s.on("data", (b: Buffer) => (answer += b.toString()));
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      s.once("close", () => resolve(Date.now() - t0));
    });
    s.write("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    const trickle = setInterval(() => !s.destroyed && s.write("a"), 100);
    const socket = await serverSide;
    await new Promise((r) => setTimeout(r, 300));
    gw.gateway.server.emit("clientError", Object.assign(new Error("Request timeout"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }), socket);
    const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
    clearInterval(trickle);
    s.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms, "the slowloris connection was still open 5 s after its 408").toBeGreaterThanOrEqual(0);
  });
});
