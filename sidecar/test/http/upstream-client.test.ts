// What an agent receives where undici (regate's upstream client since decision 0002) and node:http read an
// upstream's response differently: each difference is decided the way that shows the agent nothing regate
// did not check, and pinned here with the bytes an agent reads.

import type { Server, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/decision/types.js";
import { authed, FIELD_RULES, rawExchange, rawRequest, startGateway, TestRulesDecider, UPSTREAM_SECRET, AGENT_TOKEN, type GatewayUnderTest, headsUpstream } from "./fixtures.js";

const J = "content-type: application/json";
const ok = (body: string, extra = ""): string => `HTTP/1.1 200 OK\r\n${J}\r\n${extra}content-length: ${Buffer.byteLength(body, "latin1")}\r\n\r\n${body}`;

/** Canned answers by path (after the route prefix); "close" ones end the connection after writing. */
const CANNED: Record<string, { raw: string; close?: boolean }> = {
  "/dup": {
    raw: `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Type: text/html\r\nX-A: 1\r\nX-A: 2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nETag: "one"\r\nETag: "two"\r\nContent-Length: 2\r\n\r\n{}`,
  },
  // Bytes 0xe9 and 0xff: not UTF-8, passed on byte for byte as node:http did (latin1 in, latin1 out).
  "/latin1": { raw: ok("{}", "x-name: caf\xe9\xff\r\n") },
  // Trailing whitespace is no part of a value (RFC 9110 5.5): node:http dropped it, undici keeps it.
  "/trailing-ows": { raw: ok("{}", "x-ws: v \t \r\n") },
  "/trailer": { raw: `HTTP/1.1 200 OK\r\n${J}\r\ntransfer-encoding: chunked\r\ntrailer: x-t\r\n\r\n2\r\n{}\r\n0\r\nx-t: ${UPSTREAM_SECRET}\r\n\r\n` },
  "/early-hints": { raw: `HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n${ok('{"n":1}')}` },
  "/unasked-100": { raw: `HTTP/1.1 100 Continue\r\n\r\n${ok('{"n":1}')}` },
  "/unasked-101": { raw: "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\nraw bytes" },
  "/short": { raw: `HTTP/1.1 200 OK\r\n${J}\r\ncontent-length: 40\r\n\r\n{"ssn":"123-45-6789"`, close: true },
  "/short-chunked": { raw: `HTTP/1.1 200 OK\r\n${J}\r\ntransfer-encoding: chunked\r\n\r\n14\r\n{"ssn":"123-45-6789"\r\n`, close: true },
  "/until-close": { raw: `HTTP/1.1 200 OK\r\n${J}\r\n\r\n{"n":1}`, close: true },
  "/te-gzip": { raw: `HTTP/1.1 200 OK\r\n${J}\r\ntransfer-encoding: gzip\r\n\r\nnot gzip at all`, close: true },
};

let upstream: Server;
let gw: GatewayUnderTest;
/** The head of each request the upstream received, by path. */
const heads = new Map<string, string>();
/** A body larger than every socket buffer between the upstream and the agent together. */
const BIG = 48 * 1024 * 1024;
let bigSocket: Socket | undefined;
/** Connections the upstream saw closed, by the path of the last request on them. */
const closedAfter: string[] = [];

function answer(sock: Socket, head: string): void {
  const path = head.split(" ")[1]!.replace(/^\/f/, "");
  heads.set(path, head);
  if (path === "/slow") {
    // A body that never ends: the agent leaves mid-way.
    const first = `[${" ".repeat(4094)}`;
    sock.write(`HTTP/1.1 200 OK\r\n${J}\r\ntransfer-encoding: chunked\r\n\r\n${first.length.toString(16)}\r\n${first}\r\n`);
    sock.once("close", () => closedAfter.push(path));
    return;
  }
  if (path === "/big") {
    bigSocket = sock;
    sock.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${BIG}\r\n\r\n`);
    sock.write(Buffer.alloc(BIG, 0x61));
    return;
  }
  if (path === "/echo-head") {
    const body = JSON.stringify({ head });
    sock.write(ok(body));
    return;
  }
  const c = CANNED[path];
  if (!c) return void sock.write(ok("{}"));
  sock.write(c.raw, "latin1");
  if (c.close) sock.end();
}

beforeAll(async () => {
  const raw = await headsUpstream(answer);
  upstream = raw.server;
  const { port } = raw;
  const decider = new TestRulesDecider((input) => ((input.http as HttpInput).path.startsWith("/f/") ? { mask: FIELD_RULES } : {}));
  gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: `http://127.0.0.1:${port}`, credential: { type: "bearer", value: UPSTREAM_SECRET } }] });
});

afterAll(async () => {
  await gw.close();
  await new Promise((resolve) => upstream.close(resolve));
});

const get = (path: string) => rawRequest(`${gw.url}${path}`, { headers: authed() });
/** Everything regate writes back on a connection for one request, byte for byte. */
const bytes = (path: string) => rawExchange(gw.port, `GET ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${AGENT_TOKEN}\r\nconnection: close\r\n\r\n`);

describe("repeated response headers reach the agent as node:http folded them", () => {
  it("the first Content-Type and ETag only, other repeats joined (cookies never reach the agent)", async () => {
    const res = await get("/dup");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.headers["x-a"]).toBe("1, 2");
    expect(res.headers["set-cookie"]).toBeUndefined();
    expect(res.headers["etag"]).toBe('"one"');
  });

  it("a masked route reads the same first Content-Type, so it masks what the agent will read as JSON", async () => {
    const res = await get("/f/dup");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
  });
});

describe("header value bytes outside ASCII", () => {
  it("are relayed byte for byte (latin1 in, latin1 out), as node:http relayed them", async () => {
    const out = await bytes("/latin1");
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out).toContain("x-name: caf\xe9\xff\r\n");
  });
});

describe("header value whitespace", () => {
  it("a value's trailing spaces and tabs are dropped, as node:http dropped them", async () => {
    const out = await bytes("/trailing-ows");
    expect(out).toContain("x-ws: v\r\n");
  });
});

describe("trailers", () => {
  it("are not relayed: the credential in a trailer never reaches the agent", async () => {
    const out = await bytes("/trailer");
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out).not.toContain(UPSTREAM_SECRET);
    expect(out.toLowerCase()).not.toContain("x-t:");
  });
});

describe("interim and protocol-switching responses", () => {
  it("a 103 is skipped: the agent gets the final response only", async () => {
    const out = await bytes("/early-hints");
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out).not.toContain("103");
    expect(out.endsWith('{"n":1}')).toBe(true);
  });

  it("a 100 Continue nobody asked for (regate never sends Expect) is refused as a broken upstream: 502", async () => {
    const res = await get("/unasked-100");
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString())).toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
  });

  it("a 101 to a request that asked for no upgrade is refused: 502, and none of its bytes reach the agent", async () => {
    const out = await bytes("/unasked-101");
    expect(out).toMatch(/^HTTP\/1\.1 502 /);
    expect(out).toContain("UPSTREAM_UNAVAILABLE");
    expect(out).not.toContain("raw bytes");
  });
});

describe("a body the upstream cuts short", () => {
  // Chunked, its head went out with the first bytes: the honest signal left is a response cut short too.
  it("unmasked /short-chunked: the agent's response is cut short too, never ended as if whole", async () => {
    await expect(get("/short-chunked")).rejects.toThrow(/aborted|socket hang up|ECONNRESET/);
  });

  // Of declared length it is read whole (relay-scrubbed-whole.ts) and nothing went out yet: a clear 502 saying
  // the upstream already handled the request, as the masked path answers, rather than a bare reset an agent
  // could take for "never sent" and retry.
  it("unmasked /short: 502 UPSTREAM_UNAVAILABLE, and the partial body never reaches the agent", async () => {
    const res = await get("/short");
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString())).toMatchObject({ code: "UPSTREAM_UNAVAILABLE", reason: expect.stringContaining("already handled the request") });
    expect(res.body.toString()).not.toContain("123-45-6789");
  });

  it.each(["/f/short", "/f/short-chunked"])("masked %s: 502 UPSTREAM_UNAVAILABLE, and the partial value never reaches the agent", async (path) => {
    const res = await get(path);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString())).toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    expect(res.body.toString()).not.toContain("123-45-6789");
  });

  it("a body delimited by the close of its connection is whole at that close", async () => {
    const res = await get("/until-close");
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('{"n":1}');
  });
});

describe("transfer codings", () => {
  it("Transfer-Encoding: gzip alone (undici reads it to the close) is still refused by its header", async () => {
    const res = await get("/te-gzip");
    expect(JSON.parse(res.body.toString())).toMatchObject({ code: "UPSTREAM_RESPONSE_REFUSED" });
    expect(res.body.toString()).not.toContain("not gzip");
  });
});

describe("the forwarded request", () => {
  it("a request with no body goes without Content-Length or Transfer-Encoding, with the route's credential", async () => {
    const res = await get("/echo-head");
    const head = (JSON.parse(res.body.toString()) as { head: string }).head.toLowerCase();
    expect(head).not.toMatch(/\r\n(content-length|transfer-encoding|expect):/);
    // Echoed back, so regate scrubbed it on the way: its length shows it was the route's.
    expect(head).toMatch(new RegExp(`\\r\\nauthorization: bearer \\*{${UPSTREAM_SECRET.length}}(\\r|$)`));
  });

  it("an agent that goes away mid-body: regate closes the upstream connection", async () => {
    const { request } = await import("node:http");
    await new Promise<void>((resolve) => {
      const req = request(`${gw.url}/slow`, { headers: authed(), agent: false }, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", () => {});
      req.end();
    });
    await expect.poll(() => closedAfter.includes("/slow"), { timeout: 2000 }).toBe(true);
  });

  it("an agent that reads slowly holds the upstream back: regate does not read the body ahead of it", async () => {
    const { request } = await import("node:http");
    const res = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => request(`${gw.url}/big`, { headers: authed(), agent: false }, resolve).on("error", reject).end());
    res.pause();
    await new Promise((r) => setTimeout(r, 500));
    // Still unsent on the upstream's side: nobody read it ahead of the agent.
    expect(bigSocket!.writableLength).toBeGreaterThan(0);
    let got = 0;
    res.on("data", (c: Buffer) => (got += c.length));
    res.resume();
    await new Promise((r) => res.on("end", r));
    expect(got).toBe(BIG);
  });
});
