// A small body of declared length on a route that injects a credential is read whole and scrubbed in one pass
// (relay-scrubbed-whole.ts); the same body sent chunked streams through relay-scrubbed.ts. The agent must get
// the same bytes either way, and never the credential: each body below is served both ways (the chunked one as
// a single chunk, and byte by byte) and the answers compared.

import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest, authed, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

const S = UPSTREAM_SECRET;
const half = Math.floor(S.length / 2);
const json = (v: unknown): string => JSON.stringify(v);
const uEscaped = [...S].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");

/** Bodies by name: [content type, body]. */
const BODIES: Record<string, [string, string]> = {
  plain: ["text/plain", `token=${S}\n`],
  "json value": ["application/json", json({ echo: S, n: 1 })],
  "json escaped slashes": ["application/json", `{"echo":"${S.replace(/-/g, "\\u002d")}"}`],
  "\\u-escaped": ["application/json", `{"echo":"${uEscaped}"}`],
  base64: ["application/json", json({ b: Buffer.from(`Bearer ${S}`).toString("base64") })],
  "split across values": ["application/json", json({ items: [{ t: S.slice(0, half) }, { t: S.slice(half) }] })],
  "split across tokens": ["application/json", json([S.slice(0, 5), S.slice(5, 12), S.slice(12)])],
  hex: ["text/plain", Buffer.from(S).toString("hex")],
  "innocent json": ["application/json", json({ id: 42, name: "Ada", tags: ["a", "b"], n: 1.5 })],
  "innocent text": ["text/plain", "nothing to see here\n"],
  empty: ["application/json", ""],
  "utf-16 text": ["text/plain", "\ufeffhello"],
};

/** Answers GET /<length|chunked|bytes>/<name>: the body with a Content-Length, as one chunk, or a chunk per byte. */
function startUpstream(): Promise<Server> {
  const server = createServer((sock: Socket) => {
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [, how, name] = (/^\S+ (\S+)/.exec(buf)?.[1] ?? "").split("/");
      buf = buf.slice(end + 4);
      const [type, text] = BODIES[decodeURIComponent(name ?? "")]!;
      const body = type === "text/plain" && text.startsWith("\ufeff") ? Buffer.from(text, "utf16le") : Buffer.from(text);
      if (how === "length") {
        sock.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
        return;
      }
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const pieces = how === "bytes" ? [...body].map((b) => Buffer.from([b])) : body.length > 0 ? [body] : [];
      for (const p of pieces) sock.write(Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from("\r\n")]));
      sock.write("0\r\n\r\n");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

let upstream: Server;
let gw: GatewayUnderTest;

beforeAll(async () => {
  upstream = await startUpstream();
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: url, credential: { type: "bearer", value: S } }], decider: new TestRulesDecider(() => ({})) });
});

afterAll(async () => {
  await gw.close();
  await new Promise((r) => upstream.close(r));
});

describe("a small body read whole answers as the streamed one does", () => {
  it.each(Object.keys(BODIES))("%s", async (name) => {
    const get = (how: string) => rawRequest(`${gw.url}/${how}/${encodeURIComponent(name)}`, { headers: authed() });
    const whole = await get("length");
    const chunk = await get("chunked");
    const bytes = await get("bytes");
    expect(whole.status).toBe(chunk.status);
    expect(whole.body.toString("latin1")).toBe(chunk.body.toString("latin1"));
    expect(bytes.status).toBe(chunk.status);
    expect(bytes.body.toString("latin1")).toBe(chunk.body.toString("latin1"));
    const seen = whole.body.toString("latin1");
    for (const form of [S, S.slice(4), json(S).slice(1, -1), Buffer.from(S).toString("hex"), Buffer.from(S).toString("base64").slice(2, -2)]) expect(seen).not.toContain(form);
    if (whole.status === 200) expect(whole.headers["content-length"]).toBe(String(whole.body.length));
  });
});
