// regate's route credential never comes back to the agent, whatever the upstream echoes: headers, JSON and
// text bodies, base64 at any alignment, gzip/deflate/br bodies, error bodies, event streams. Checked on the
// streaming path (no mask rules) and on the masking path (the example policy through the real pipeline).

import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { gunzipSync, gzipSync } from "node:zlib";
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
  encoded = await startEncodingUpstream();
  const token = { type: "bearer" as const, value: TOKEN };
  gateways.encodedStreaming = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: encoded.url, credential: token }], decider: new TestRulesDecider(() => ({})) });
  gateways.encodedMasking = await startGateway({
    routes: [{ name: "api", prefix: "/", upstream: encoded.url, credential: token }],
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
  await new Promise((r) => encoded.server.close(r));
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

// The spellings a byte search for the token misses but a client's decoder reads back. The token has "+", "/"
// and "=" so that percent-encoding has something to encode.
const TOKEN = `tok+AbC/dEf${UPSTREAM_SECRET.slice(-16)}xyz==`;
let encoded: { server: Server; url: string };

const uesc = (s: string): string => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
const wrap = (text: string, width: number): string => Buffer.from(text).toString("base64").replace(new RegExp(`(.{${width}})`, "g"), "$1\r\n");
const mime = (text: string): string => wrap(text, 76);
const INNOCENT = JSON.stringify({ note: "caf\u00e9 \"q\" /p", url: "https://x.example/?q=a%20b%2Bc", blob: mime(`Bearer someone-else-${"z".repeat(90)}`), hex: Buffer.from("not it").toString("hex") }).replace("/p", "\\/p");

type Answer = (sock: Socket) => void;
const reply = (status: string, headers: string[], body: string | Buffer): Answer => (sock) => {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  sock.write(`HTTP/1.1 ${status}\r\n${[...headers, `Content-Length: ${b.length}`].map((h) => `${h}\r\n`).join("")}\r\n`);
  sock.write(b);
};
/** Each event a separate chunk, a little apart, so regate sees them in separate reads. */
const events = (chunks: string[]): Answer => (sock) => {
  sock.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
  chunks.forEach((c, i) => setTimeout(() => sock.write(`${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n${i === chunks.length - 1 ? "0\r\n\r\n" : ""}`), 15 * (i + 1)));
};
const J = "Content-Type: application/json";
const ANSWERS: Record<string, Answer> = {
  "/u/one": reply("200 OK", [J], `{"echo":"${TOKEN.slice(0, 5)}${uesc(TOKEN[5]!)}${TOKEN.slice(6)}"}`),
  "/u/all": reply("200 OK", [J], `{"echo":"${uesc(TOKEN)}"}`),
  "/u/slash": reply("200 OK", [J], JSON.stringify({ echo: TOKEN }).replace(/\//g, "\\/").replace("+", "\\u002b")),
  "/pct/upper": reply("302 Found", [J, `Location: https://cb.example/?t=${TOKEN.replace("+", "%2B").replace(/=/g, "%3D")}`], "{}"),
  "/pct/lower": reply("302 Found", [J, `Location: https://cb.example/?t=${encodeURIComponent(TOKEN).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`], "{}"),
  "/pct/body": reply("200 OK", [J], JSON.stringify({ next: `https://cb.example/?t=${encodeURIComponent(TOKEN).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}` })),
  ...Object.fromEntries(
    [76, 64, 20].flatMap((width) => [0, 1, 2].map((pad) => [`/b64/${width}/${pad}`, reply("200 OK", [J], JSON.stringify({ mime: wrap(`GET / HTTP/1.1\r\n${"x".repeat(pad)}Authorization: Bearer ${TOKEN}\r\nX-Other: ${"y".repeat(80)}`, width) }))])),
  ),
  "/b64/text": reply("200 OK", ["Content-Type: text/plain"], wrap(`Authorization: Bearer ${TOKEN}`, 76)),
  "/hex/lower": reply("200 OK", [J], JSON.stringify({ hex: Buffer.from(TOKEN).toString("hex") })),
  "/hex/upper": reply("200 OK", [J], JSON.stringify({ hex: Buffer.from(TOKEN).toString("hex").toUpperCase() })),
  "/sse/events": events(['data: {"n":1}\n\n', `data: ${TOKEN.slice(0, 9)}\n\n`, `data: ${TOKEN.slice(9)}\n\n`, 'data: {"n":2}\n\n']),
  "/sse/lines": events([`data: ${TOKEN.slice(0, 9)}\n`, `data: ${TOKEN.slice(9)}\n\n`]),
  "/te/gzip": (sock) => {
    const g = gzipSync(JSON.stringify({ echo: TOKEN }));
    sock.write(`HTTP/1.1 200 OK\r\n${J}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${g.length.toString(16)}\r\n`);
    sock.write(Buffer.concat([g, Buffer.from("\r\n0\r\n\r\n")]));
  },
  "/innocent": reply("302 Found", [J, "Location: https://cb.example/?t=abc%2Bdef%2fghi%3D", "X-B64: QmVhcmVyIHNvbWVvbmUtZWxzZQ=="], INNOCENT),
};

/** A raw upstream: it answers each request with the bytes ANSWERS names for its path, framing and all. */
async function startEncodingUpstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((sock) => {
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const path = /^\S+ (\S+)/.exec(buf)?.[1] ?? "";
      buf = buf.slice(end + 4);
      (ANSWERS[path] ?? reply("404 Not Found", [J], "{}"))(sock);
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Everything a client could read out of a response: headers and body, decoded every way a client would. */
function readings(r: RawResponse): string[] {
  const out: string[] = [];
  const attempt = (f: () => string): void => {
    try {
      out.push(f());
    } catch {
      // not in that encoding
    }
  };
  const fromText = (s: string): void => {
    out.push(s);
    attempt(() => decodeURIComponent(s));
    attempt(() => Buffer.from(s.replace(/\s+/g, ""), "base64").toString("latin1"));
    if (/^[0-9a-f\s]+$/i.test(s)) attempt(() => Buffer.from(s.replace(/\s+/g, ""), "hex").toString("latin1"));
  };
  for (const v of Object.values(r.headers)) for (const s of [v ?? ""].flat()) fromText(s);
  const body = r.body.toString("latin1");
  fromText(body);
  attempt(() => gunzipSync(r.body).toString("latin1"));
  attempt(() => {
    const walk = (v: unknown): void => {
      if (typeof v === "string") fromText(v);
      else if (v && typeof v === "object") Object.values(v).forEach(walk);
    };
    walk(JSON.parse(body));
    return "";
  });
  // An agent reading an event stream may join the data of every event.
  out.push([...body.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join(""));
  return out;
}

/**
 * rawRequest, but a response cut short resolves with what arrived: the masking path cuts an event stream
 * whose data is not JSON, and what the agent got before the cut counts.
 */
async function rawOrCut(url: string): Promise<RawResponse> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: authed(), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", done);
      res.on("aborted", done);
      res.on("error", done);
    });
    req.on("error", reject);
    req.end();
  });
}

describe.each(["encodedStreaming", "encodedMasking"])("encoded spellings of the credential (%s)", (g) => {
  const fetchRaw = (path: string) => rawOrCut(`${gateways[g]!.url}${path}`);

  it.each([
    ["a JSON string with one \\u escape", "/u/one", 200],
    ["a fully \\u-escaped JSON string", "/u/all", 200],
    ["JSON with \\/ and \\u escapes", "/u/slash", 200],
    ["a Location header, partly percent-encoded in upper case", "/pct/upper", 302],
    ["a Location header, percent-encoded in lower case", "/pct/lower", 302],
    ["a percent-encoded URL in a JSON body", "/pct/body", 200],
    ...[76, 64, 20].flatMap((width) => [0, 1, 2].map((pad): [string, string, number] => [`base64 of the Authorization header wrapped at ${width} (offset ${pad})`, `/b64/${width}/${pad}`, 200])),
    ["lower-case hex", "/hex/lower", 200],
    ["upper-case hex", "/hex/upper", 200],
    ["an event stream that cuts it across events", "/sse/events", 200],
    ["an event stream that cuts it across data lines", "/sse/lines", 200],
  ])("%s never reaches the agent", async (_name, path, status) => {
    const r = await fetchRaw(path);
    expect(r.status).toBe(status);
    for (const text of readings(r)) expect(text).not.toContain(TOKEN);
    // On the masking path an event stream whose data is not JSON is cut before the event goes out.
    if (!(g === "encodedMasking" && path.startsWith("/sse/"))) expect(JSON.stringify(r.headers) + r.body.toString()).toMatch(/\*{4}|\[REDACTED\]/);
  });

  // Only where the stream is scrubbed: the masking path cuts this stream (its data is not JSON).
  if (g === "encodedStreaming") {
    it("event framing survives the scrub, and events without the token are untouched", async () => {
      const r = await fetchRaw("/sse/events");
      const body = r.body.toString();
      expect(body.split("\n\n").filter(Boolean)).toHaveLength(4);
      expect(body).toContain('data: {"n":1}\n\n');
      expect(body).toContain('data: {"n":2}\n\n');
    });
  }

  it("wrapped base64 in a plain-text body (scrubbed when streamed; refused outright on the masking path)", async () => {
    const r = await fetchRaw("/b64/text");
    expect(r.status).toBe(g === "encodedStreaming" ? 200 : 403);
    for (const text of readings(r)) expect(text).not.toContain(TOKEN);
  });

  it("a transfer-coding other than chunked is refused, saying the upstream handled the request", async () => {
    const r = await fetchRaw("/te/gzip");
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: "UPSTREAM_RESPONSE_REFUSED", reason: expect.stringContaining("handled the request") });
    for (const text of readings(r)) expect(text).not.toContain(TOKEN);
  });

  it("no log line carries the token", () => {
    expect(allLogs(gateways[g]!.lines)).not.toContain(TOKEN);
    expect(allLogs(gateways[g]!.lines)).not.toContain(encodeURIComponent(TOKEN));
  });
});

describe("must-allow with escapes, percent-encoding, base64 and hex that are not the credential", () => {
  it("passes byte for byte, headers included", async () => {
    const r = await rawRequest(`${gateways.encodedStreaming!.url}/innocent`, { headers: authed() });
    expect(r.status).toBe(302);
    expect(r.body.toString()).toBe(INNOCENT);
    expect(r.headers.location).toBe("https://cb.example/?t=abc%2Bdef%2fghi%3D");
    expect(r.headers["x-b64"]).toBe("QmVhcmVyIHNvbWVvbmUtZWxzZQ==");
  });
});
