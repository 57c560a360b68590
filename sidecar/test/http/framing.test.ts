// What real clients and upstreams do at the edges of HTTP/1.1, through the gateway: upstream redirects and
// links that must keep the agent behind regate, pooled upstream connections the upstream closes as idle,
// and protocol switches and framings regate refuses with one clear answer instead of a dropped connection.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as netServer, type Server as NetServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_TOKEN, authed, closeServer, listen, rawExchange, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** A framework-like upstream under base path /v1 that redirects and paginates with its own URLs. */
async function startRedirecting(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
    // Absolute URLs built from the Host header regate sent, as Express, Flask and Django build them.
    const self = `http://${req.headers.host}`;
    switch ((req.url ?? "").split("?")[0]) {
      case "/v1/old":
        res.writeHead(301, { location: `${self}/v1/items/2?x=1#top` }).end();
        return;
      case "/v1/relative":
        // Go's http.Redirect and many others send a path-absolute reference.
        res.writeHead(302, { location: "/v1/items/3" }).end();
        return;
      case "/v1/sibling":
        res.writeHead(303, { location: "items/4" }).end();
        return;
      case "/v1/base":
        res.writeHead(302, { location: `${self}/v1` }).end();
        return;
      case "/v1/elsewhere":
        res.writeHead(302, { location: "https://login.example.com/sso?next=1" }).end();
        return;
      case "/v1/outside":
        res.writeHead(302, { location: "/login" }).end();
        return;
      case "/v1/created":
        res.writeHead(201, { location: `${self}/v1/items/9`, "content-location": `${self}/v1/items/9`, "content-type": "application/json" }).end('{"id":9}');
        return;
      case "/v1/items":
        res.writeHead(200, { link: `<${self}/v1/items?page=2>; rel="next", <https://docs.example.com/items>; rel="help"`, "content-type": "application/json" }).end("[]");
        return;
      default:
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ url: req.url }));
    }
  });
  const url = await listen(server);
  return { url, seen, close: () => closeServer(server) };
}

/**
 * A raw upstream that keeps connections alive but closes a reused one without answering when the next request
 * arrives on it (`staleAfterMs` 0: always; otherwise only after that much idle time): the race of an upstream
 * closing an idle connection just as the proxy sends on it.
 */
async function startClosingIdle(opts: { staleAfterMs: number; keepAliveHint?: string }): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: NetServer = netServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => sock.destroy());
    let answered = 0;
    let last = 0;
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        requests.push(buf.slice(0, buf.indexOf(" HTTP/")));
        buf = buf.slice(end + 4 + length);
        if (answered > 0 && Date.now() - last >= opts.staleAfterMs) {
          sock.destroy();
          return;
        }
        answered++;
        last = Date.now();
        sock.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n${opts.keepAliveHint ? `keep-alive: ${opts.keepAliveHint}\r\n` : ""}\r\n{"ok":true}`);
      }
    });
  });
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let redirecting: Awaited<ReturnType<typeof startRedirecting>>;
let closing: Awaited<ReturnType<typeof startClosingIdle>>;
let hinting: Awaited<ReturnType<typeof startClosingIdle>>;
let plain: { url: string; seen: Seen[]; close(): Promise<void> };
let gw: GatewayUnderTest;

beforeAll(async () => {
  redirecting = await startRedirecting();
  closing = await startClosingIdle({ staleAfterMs: 0 });
  // Announces a 2 s keep-alive and closes a connection left idle past 1.2 s (as its timer would, give or take).
  hinting = await startClosingIdle({ staleAfterMs: 1200, keepAliveHint: "timeout=2" });
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ url: req.url, upgrade: req.headers.upgrade ?? null }));
    });
  });
  plain = { url: await listen(server), seen, close: () => closeServer(server) };
  gw = await startGateway({
    decider: new TestRulesDecider(() => ({})),
    routes: [
      { name: "api", prefix: "/api", upstream: `${redirecting.url}/v1`, credential: { type: "bearer", value: UPSTREAM_SECRET } },
      { name: "closing", prefix: "/closing", upstream: closing.url },
      { name: "hinting", prefix: "/hinting", upstream: hinting.url },
      { name: "plain", prefix: "/plain", upstream: plain.url },
    ],
  });
});

afterAll(async () => {
  await gw.close();
  await redirecting.close();
  await closing.close();
  await hinting.close();
  await plain.close();
});

const location = async (path: string): Promise<{ status: number; location: string | null; res: Response }> => {
  const res = await fetch(`${gw.url}${path}`, { headers: authed(), redirect: "manual" });
  return { status: res.status, location: res.headers.get("location"), res };
};

describe("the upstream's references to itself lead back through regate", () => {
  it.each([
    ["an absolute URL built from the Host regate sent", "/api/old", 301, "/api/items/2?x=1#top"],
    ["a path-absolute reference", "/api/relative", 302, "/api/items/3"],
    ["a relative reference", "/api/sibling", 303, "/api/items/4"],
    ["the base path itself", "/api/base", 302, "/api"],
    ["another origin: left alone", "/api/elsewhere", 302, "https://login.example.com/sso?next=1"],
    ["a path outside the route's base path: left alone (no address through this route)", "/api/outside", 302, "/login"],
  ])("%s", async (_name, path, status, expected) => {
    const r = await location(path);
    expect(r.status).toBe(status);
    expect(r.location).toBe(expected);
  });

  it("Content-Location and Link targets too; other origins in Link are left alone", async () => {
    const created = await fetch(`${gw.url}/api/created`, { method: "POST", headers: authed({ "content-type": "application/json" }), body: "{}" });
    expect(created.headers.get("location")).toBe("/api/items/9");
    expect(created.headers.get("content-location")).toBe("/api/items/9");
    const list = await fetch(`${gw.url}/api/items`, { headers: authed() });
    expect(list.headers.get("link")).toBe('</api/items?page=2>; rel="next", <https://docs.example.com/items>; rel="help"');
  });

  it("an agent following the redirect stays behind regate, and the upstream sees regate's credential", async () => {
    const before = redirecting.seen.length;
    const res = await fetch(`${gw.url}/api/old`, { headers: authed() });
    expect(res.url).toBe(`${gw.url}/api/items/2?x=1`);
    expect(await res.json()).toEqual({ url: "/v1/items/2?x=1" });
    expect(redirecting.seen.slice(before).map((s) => [s.url, s.authorization])).toEqual([
      ["/v1/old", `Bearer ${UPSTREAM_SECRET}`],
      ["/v1/items/2?x=1", `Bearer ${UPSTREAM_SECRET}`],
    ]);
  });
});

describe("pooled upstream connections the upstream closes as idle", () => {
  it("a GET is sent again on a fresh connection", async () => {
    expect((await fetch(`${gw.url}/closing/a`, { headers: authed() })).status).toBe(200);
    const before = closing.requests.length;
    const res = await fetch(`${gw.url}/closing/b`, { headers: authed() });
    expect(res.status).toBe(200);
    expect(closing.requests.slice(before)).toEqual(["GET /b", "GET /b"]);
  });

  it.each([
    ["a POST", "POST", {}],
    ["a GET whose override names another method", "GET", { "x-http-method-override": "DELETE" }],
  ])("%s is not sent again: a 502 that says the upstream may have received it", async (_name, method, extra) => {
    expect((await fetch(`${gw.url}/closing/warm`, { headers: authed() })).status).toBe(200);
    const before = closing.requests.length;
    const res = await fetch(`${gw.url}/closing/write`, { method, headers: authed({ "content-type": "application/json", ...extra }), ...(method === "POST" ? { body: "{}" } : {}) });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: "UPSTREAM_UNAVAILABLE", reason: expect.stringContaining("may have received the request") });
    expect(closing.requests.slice(before)).toEqual([`${method} /write`]);
  });

  it("an upstream's Keep-Alive timeout is heeded: a POST after the connection went idle goes on a new one", async () => {
    expect((await fetch(`${gw.url}/hinting/first`, { headers: authed() })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    const res = await fetch(`${gw.url}/hinting/second`, { method: "POST", headers: authed({ "content-type": "application/json" }), body: "{}" });
    expect(res.status).toBe(200);
  });
});

/** The status lines of every response in a raw exchange. */
const statusLines = (raw: string): string[] => raw.match(/HTTP\/1\.1 \d{3} [^\r]*/g) ?? [];
/** The JSON object in a raw exchange's body (chunked or not: it is one chunk). */
const jsonBody = (raw: string): Record<string, unknown> => JSON.parse(raw.slice(raw.indexOf("{"), raw.lastIndexOf("}") + 1)) as Record<string, unknown>;
const auth = `authorization: Bearer ${AGENT_TOKEN}\r\n`;

/** Like rawExchange, with the payload's parts written 50 ms apart: the handler answers between them. */
async function exchangeInParts(port: number, parts: string[]): Promise<string> {
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", async () => {
      for (const p of parts) {
        if (socket.writable) socket.write(p);
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    const done = (): void => resolve(Buffer.concat(chunks).toString("latin1"));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("close", done);
    socket.on("error", () => undefined);
    socket.setTimeout(3000, () => socket.destroy());
  });
}

describe("protocol switches and framings regate does not carry: one clear answer, nothing forwarded", () => {
  it.each([
    ["a WebSocket upgrade", `GET /plain/ws HTTP/1.1\r\nhost: x\r\n${auth}connection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n`, "FEATURE_UNSUPPORTED", "upgrade_unsupported"],
    ["an upgrade offering h2c and websocket", `GET /plain/ws HTTP/1.1\r\nhost: x\r\n${auth}connection: keep-alive, Upgrade\r\nupgrade: h2c, websocket\r\n\r\n`, "FEATURE_UNSUPPORTED", "upgrade_unsupported"],
    ["a transfer coding other than chunked", `POST /plain/x HTTP/1.1\r\nhost: x\r\n${auth}transfer-encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, "FEATURE_UNSUPPORTED", "transfer_coding_unsupported"],
    ["Transfer-Encoding in HTTP/1.0", `POST /plain/x HTTP/1.0\r\nhost: x\r\n${auth}transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, "PROTOCOL_VIOLATION", "bad_request"],
    ["two Host headers", `GET /plain/x HTTP/1.1\r\nhost: a\r\nhost: b\r\n${auth}\r\n`, "PROTOCOL_VIOLATION", "bad_request"],
  ])("%s", async (_name, payload, code, error) => {
    const before = plain.seen.length;
    const raw = await rawExchange(gw.port, payload);
    expect(statusLines(raw)).toEqual(["HTTP/1.1 400 Bad Request"]);
    expect(jsonBody(raw)).toMatchObject({ code, error });
    expect(plain.seen.length).toBe(before);
  });

  it("CONNECT gets a JSON refusal instead of a dropped connection", async () => {
    const raw = await rawExchange(gw.port, `CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\nproxy-authorization: Bearer ${AGENT_TOKEN}\r\n\r\n`);
    expect(statusLines(raw)).toEqual(["HTTP/1.1 400 Bad Request"]);
    expect(jsonBody(raw)).toMatchObject({ code: "FEATURE_UNSUPPORTED", error: "tunnel_unsupported" });
  });

  it("HTTP/2 with prior knowledge is answered in HTTP/2: SETTINGS, then GOAWAY with HTTP_1_1_REQUIRED", async () => {
    const raw = Buffer.from(await rawExchange(gw.port, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "latin1");
    // An empty SETTINGS frame on stream 0.
    expect([...raw.subarray(0, 9)]).toEqual([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const goaway = raw.subarray(9);
    expect(goaway[3]).toBe(0x07);
    expect(goaway.readUIntBE(0, 3)).toBe(goaway.length - 9);
    expect(goaway.readUInt32BE(9)).toBe(0);
    expect(goaway.readUInt32BE(13)).toBe(0x0d);
  });

  it.each([
    ["raw UTF-8 in the request target (curl -g with unencoded text)", "GET /plain/caf\u00c3\u00a9 HTTP/1.1\r\nhost: x\r\n\r\n", "percent-encode"],
    ["Content-Length with Transfer-Encoding", "POST /plain/x HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", "ambiguous"],
    ["two Content-Lengths", "POST /plain/x HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\nhello", "ambiguous"],
    // A token by the grammar, but no method Node knows: the reason names the usual slip, not the grammar.
    ["a lowercase method (curl -X delete)", "delete /plain/x HTTP/1.1\r\nhost: x\r\n\r\n", "case-sensitive (DELETE, not delete)"],
  ])("a request Node's parser refuses says why: %s", async (_name, payload, words) => {
    const before = plain.seen.length;
    const raw = await rawExchange(gw.port, payload);
    expect(statusLines(raw)).toEqual(["HTTP/1.1 400 Bad Request"]);
    expect(jsonBody(raw)).toMatchObject({ code: "PROTOCOL_VIOLATION", reason: expect.stringContaining(words) });
    expect(plain.seen.length).toBe(before);
  });

  it("an h2c upgrade offer is ignored and served over HTTP/1.1 (curl --http2 on http://)", async () => {
    const raw = await rawExchange(gw.port, `GET /plain/h2c HTTP/1.1\r\nhost: x\r\n${auth}connection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\nconnection: close\r\n\r\n`);
    expect(statusLines(raw)).toEqual(["HTTP/1.1 200 OK"]);
    expect(jsonBody(raw)).toEqual({ url: "/h2c", upgrade: null });
  });

  it.each([
    ["with a Transfer-Encoding Node's parser rejects only at the body", `POST /plain/x HTTP/1.1\r\nhost: x\r\n${auth}transfer-encoding: xchunked\r\n\r\n0\r\n\r\n`, "HTTP/1.1 400 Bad Request"],
    ["refused on its headers (two spellings of one header) whose body's chunking then fails", `POST /plain/x HTTP/1.1\r\nhost: x\r\n${auth}x_tenant: a\r\nx-tenant: b\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n`, "HTTP/1.1 400 Bad Request"],
  ])("a request %s gets exactly one answer", async (_name, payload, status) => {
    const raw = typeof payload === "string" ? await rawExchange(gw.port, payload) : await exchangeInParts(gw.port, payload);
    expect(statusLines(raw)).toEqual([status]);
  });
});
