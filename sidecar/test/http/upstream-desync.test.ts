// Responses that must not leave anything behind on a pooled upstream connection (fifth red-team pass). An
// upstream that writes a body after a response that has none (Python's `do_HEAD = do_GET` on a keep-alive
// server, a 204 or 304 written with its body) leaves those bytes on the connection regate pools for the
// route: they were read as the answer to whichever request went out on it next, another agent's perhaps,
// and that request's own answer went to the request after. When the late bytes are an HTTP response (an
// echo endpoint lets the agent write one), one agent chose what another received and read the other's answer.

import type { Server, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, rawRequest, startGateway, TestRulesDecider, type GatewayUnderTest, headsUpstream } from "./fixtures.js";

const FAKE = '{"smuggled":true}';
const fakeResponse = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${FAKE.length}\r\n\r\n${FAKE}`;

/**
 * A keep-alive upstream: the /late-* resources write a whole response 30 ms after one without a body (by
 * then the next request is on the connection); /overrun writes one right after its Content-Length is used up.
 */
function answer(sock: Socket, method: string, path: string): void {
  const late = (head: string): void => {
    sock.write(head);
    setTimeout(() => sock.write(fakeResponse), 30);
  };
  if (path === "/late-head" && method === "HEAD") return late("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n");
  if (path === "/late-204") return late("HTTP/1.1 204 No Content\r\n\r\n");
  if (path === "/late-304") return late('HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n');
  if (path === "/overrun") {
    // Past its Content-Length, written right after it (a miscounted length): no request is waiting for it.
    sock.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello");
    setImmediate(() => sock.write(fakeResponse));
    return;
  }
  const body = JSON.stringify({ for: path });
  // A little later than the late bytes would come: the request after is on the connection by then.
  setTimeout(() => sock.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${method === "HEAD" ? "" : body}`), 60);
}

let upstream: Server;
let gw: GatewayUnderTest;
let connections = 0;

beforeAll(async () => {
  const raw = await headsUpstream((sock, head) => {
    const [method, path] = head.split(" ");
    answer(sock, method!, path!);
  });
  raw.server.on("connection", () => connections++);
  upstream = raw.server;
  const { port } = raw;
  gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: `http://127.0.0.1:${port}` }], decider: new TestRulesDecider(() => ({})) });
});

afterAll(async () => {
  await gw.close();
  await new Promise((resolve) => upstream.close(resolve));
});

const send = (path: string, method = "GET") => rawRequest(`${gw.url}${path}`, { method, headers: authed() });

describe("a body written after a response that has none", () => {
  it.each([
    ["HEAD", "/late-head", 200],
    ["GET", "/late-204", 204],
    ["GET", "/late-304", 304],
  ])("%s %s: the next requests get their own answers", async (method, path, status) => {
    const first = await send(path, method);
    expect(first.status).toBe(status);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const other = await send("/other-agents-resource");
    expect(other.body.toString()).toBe('{"for":"/other-agents-resource"}');
    const next = await send("/next");
    expect(next.body.toString()).toBe('{"for":"/next"}');
  });
});

describe("bytes past a response's end", () => {
  it("a connection that received them while pooled is closed: the next requests get their own answers", async () => {
    const first = await send("/overrun");
    expect(first.body.toString()).toBe("hello");
    // Long enough for the bytes to arrive while the connection is pooled (Nagle holds a second small write
    // until the first is acknowledged, up to 40 ms on Linux).
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await send("/other-agents-resource")).body.toString()).toBe('{"for":"/other-agents-resource"}');
    expect((await send("/next")).body.toString()).toBe('{"for":"/next"}');
  });
});

describe("must-allow", () => {
  it("an ordinary HEAD is answered, and ordinary GETs keep reusing their connection", async () => {
    const head = await send("/plain", "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe('{"for":"/plain"}'.length.toString());
    const before = connections;
    for (const p of ["/a", "/b", "/c"]) expect((await send(p)).body.toString()).toBe(`{"for":"${p}"}`);
    expect(connections - before).toBeLessThanOrEqual(1);
  });
});
