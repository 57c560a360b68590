// Quoted-printable spellings of the route credential (a mail API's raw message, a debug dump of one): a soft
// line break inside it (`upstr=\r\neam-...`, which a mail client joins) and every byte as `=XX` (its hex with
// "=" between). Each body is served whole (Content-Length: relay-scrubbed-whole.ts) and chunked (as one chunk
// and a chunk per byte: relay-scrubbed.ts), and the agent must get exactly the expected bytes every way. Bodies
// with "=" that are no spelling of it (base64 padding, query strings, JSON, an innocent QP mail) pass byte for
// byte.

import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, rawRequest, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

const S = UPSTREAM_SECRET;
const stars = (s: string): string => "*".repeat(s.length);
/** Every byte as `=XX`, in upper (what RFC 2045 asks) or lower case (what lenient decoders take). */
const qpHex = (s: string, upper = true): string => [...Buffer.from(s)].map((b) => `=${b.toString(16).padStart(2, "0")}`).map((x) => (upper ? x.toUpperCase() : x)).join("");
/** A `=XX` run as the agent gets it: each digit overwritten, the "="s left. */
const qpStars = (qp: string): string => qp.replace(/[0-9A-Fa-f]/g, "*");
/** Breaks lines as a QP encoder does (at most 76 characters, "=" before each break, never inside an `=XX`). */
function wrap(qp: string, eol: string): string {
  const lines: string[] = [];
  let i = 0;
  while (i < qp.length) {
    let end = Math.min(qp.length, i + 75);
    if (end < qp.length && qp[end - 1] === "=") end -= 1;
    else if (end < qp.length && qp[end - 2] === "=") end -= 2;
    lines.push(qp.slice(i, end));
    i = end;
  }
  return lines.join(`=${eol}`);
}
const MAIL = (cte: string, body: string): string => `From: a@example.com\r\nSubject: debug\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}\r\n`;

/** [content type, body, what the agent must get]. */
const LEAKS: Record<string, [string, string, string]> = {
  "soft break CRLF": ["text/plain", `token: ${S.slice(0, 5)}=\r\n${S.slice(5)}\r\n`, `token: ${stars(S.slice(0, 5))}=\r\n${stars(S.slice(5))}\r\n`],
  "soft break LF": ["text/plain", `token: ${S.slice(0, 9)}=\n${S.slice(9)}\n`, `token: ${stars(S.slice(0, 9))}=\n${stars(S.slice(9))}\n`],
  "soft break after spaces": ["text/plain", `token: ${S.slice(0, 9)}= \t\r\n${S.slice(9)}\r\n`, `token: ${stars(S.slice(0, 9))}= \t\r\n${stars(S.slice(9))}\r\n`],
  "two soft breaks": ["text/plain", `${S.slice(0, 4)}=\r\n${S.slice(4, 11)}=\r\n${S.slice(11)}`, `${stars(S.slice(0, 4))}=\r\n${stars(S.slice(4, 11))}=\r\n${stars(S.slice(11))}`],
  "=XX upper": ["text/plain", `token: ${qpHex(S)}\r\n`, `token: ${qpStars(qpHex(S))}\r\n`],
  "=XX lower": ["text/plain", `token: ${qpHex(S, false)}\r\n`, `token: ${qpStars(qpHex(S, false))}\r\n`],
  "=XX wrapped with soft breaks": ["message/rfc822", MAIL("quoted-printable", wrap(`token: ${qpHex(S)}`, "\r\n")), "(below)"],
  "=XX in JSON": ["application/json", JSON.stringify({ raw: `t=${qpHex(S)}` }), JSON.stringify({ raw: `t=${qpStars(qpHex(S))}` })],
};
// The wrapped mail's expected text, spelled out: the header lines as they were, the "token: " prefix untouched,
// every hex digit of the credential overwritten, the "="s and line breaks left.
{
  const body = wrap(`token: ${qpHex(S)}`, "\r\n");
  const prefix = "token: ";
  LEAKS["=XX wrapped with soft breaks"]![2] = MAIL("quoted-printable", prefix + qpStars(body.slice(prefix.length)));
}

/** Bodies with "=" that spell nothing: [content type, body]; the agent gets them byte for byte. */
const ALLOWED: Record<string, [string, string]> = {
  "base64 with padding": ["application/json", JSON.stringify({ a: "YQ==", b: "YWI=", c: "YWJj", img: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==" })],
  "base64 wrapped, padding at line ends": ["text/plain", "TWFu\r\nTWE=\r\nTQ==\r\nYWJjZGVm=\nZ2hp==\n"],
  "URL with a query string": ["application/json", JSON.stringify({ next: "https://api.example.com/v1/items?page=2&cursor=ab12cd34ef56&sig=deadbeef00&x=" })],
  "form body": ["application/x-www-form-urlencoded", "a=1&b=22&c=ff&d=0x12&e=%3D&f=&g=="],
  "JSON with = in strings": ["application/json", JSON.stringify({ expr: "a=b", sum: "1+1=2", eq: "===", op: "!=", hex: "=75=70" })],
  "innocent QP mail": ["message/rfc822", MAIL("quoted-printable", "caf=C3=A9 au lait, a line long enough to be wrapped by the encoder at seventy-si=\r\nx characters =3D fine")],
  "equals at the very end": ["text/plain", "x="],
};

function startUpstream(bodies: Record<string, [string, string, ...string[]]>): Promise<Server> {
  const server = createServer((sock: Socket) => {
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [, how, name] = (/^\S+ (\S+)/.exec(buf)?.[1] ?? "").split("/");
      buf = buf.slice(end + 4);
      const [type, text] = bodies[decodeURIComponent(name ?? "")]!;
      const body = Buffer.from(text);
      if (how === "length") {
        sock.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
        return;
      }
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const pieces = how === "bytes" ? [...body].map((b) => Buffer.from([b])) : [body];
      for (const p of pieces) sock.write(Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from("\r\n")]));
      sock.write("0\r\n\r\n");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

let upstream: Server;
let gw: GatewayUnderTest;

beforeAll(async () => {
  upstream = await startUpstream({ ...LEAKS, ...ALLOWED });
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: url, credential: { type: "bearer", value: S } }], decider: new TestRulesDecider(() => ({})) });
});

afterAll(async () => {
  await gw.close();
  await new Promise((r) => upstream.close(r));
});

const get = (how: string, name: string) => rawRequest(`${gw.url}/${how}/${encodeURIComponent(name)}`, { headers: authed() });
const WAYS = ["length", "chunked", "bytes"];

describe("quoted-printable spellings of the credential are overwritten, whole and streamed", () => {
  it.each(Object.keys(LEAKS).flatMap((name) => WAYS.map((how) => [name, how])))("%s (%s)", async (name, how) => {
    const [, sent, expected] = LEAKS[name]!;
    expect(expected.length).toBe(sent.length);
    const res = await get(how!, name!);
    expect(res.status).toBe(200);
    expect(res.body.toString("latin1")).toBe(expected);
  });
});

describe("bodies with = that spell nothing pass byte for byte, whole and streamed", () => {
  it.each(Object.keys(ALLOWED).flatMap((name) => WAYS.map((how) => [name, how])))("%s (%s)", async (name, how) => {
    const res = await get(how!, name!);
    expect(res.status).toBe(200);
    expect(res.body.toString("latin1")).toBe(ALLOWED[name!]![1]);
  });
});
