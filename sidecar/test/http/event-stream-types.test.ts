// Content types that name an event stream without being one by their media type. regate reads a body as events
// (joining the data lines of an event, and the data of consecutive events, as a client does) only when the
// media type is text/event-stream; clients look for the name anywhere in the header: the MCP TypeScript SDK
// with includes(), Microsoft's fetch-event-source with startsWith(), httpx-sse with a substring test on the
// part before ";". Such a client read a credential regate had scrubbed as plain text, cut across data lines,
// joined. Wherever regate inspects a response, such a content type is refused; a real event stream, and text
// that names none, pass as before. Judged by the bytes an agent reads on its socket.

import type { Server, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/decision/types.js";
import { AGENT_TOKEN, DETECTOR_RULES, MASKED, rawExchange, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest, headsUpstream } from "./fixtures.js";

const S = UPSTREAM_SECRET;
const cut = 12;
/** The credential cut across the data lines of one event, and across two events. */
const EVENTS = `data: ${S.slice(0, cut)}\ndata: ${S.slice(cut)}\n\ndata: ${S.slice(0, cut)}\n\ndata: ${S.slice(cut)}\n\n`;
/** A masked value cut the same way (an SSE client joins the lines of one event with a line break). */
const MASKED_EVENTS = `data: {"n":1}\n\ndata: ${MASKED.email}\n\n`;

/** The loose spellings, by how a client matches them. */
const LOOSE: Record<string, string> = {
  "a list (httpx-sse's substring)": "text/plain, text/event-stream",
  "a parameter (the MCP SDK's includes())": 'application/json; profile="text/event-stream"',
  "a longer subtype (fetch-event-source's startsWith())": "text/event-stream-v2",
  "upper case in a parameter": "text/plain; x=TEXT/EVENT-STREAM",
};

function answer(sock: Socket, head: string): void {
  const [, path] = head.split(" ");
  const q = new URLSearchParams(path!.split("?")[1] ?? "");
  const type = q.get("type")!;
  const body = q.get("body") === "masked" ? MASKED_EVENTS : q.get("body") === "plain" ? "nothing to see\n" : EVENTS;
  const framing = q.get("framing");
  if (framing === "chunked") {
    sock.write(`HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\ntransfer-encoding: chunked\r\n\r\n`);
    for (const piece of [body.slice(0, 9), body.slice(9)]) sock.write(`${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`);
    sock.write("0\r\n\r\n");
    return;
  }
  sock.write(`HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

let upstream: Server;
let gw: GatewayUnderTest;

beforeAll(async () => {
  const raw = await headsUpstream(answer);
  upstream = raw.server;
  const { port } = raw;
  const decider = new TestRulesDecider((input) => ((input.http as HttpInput).path.startsWith("/d/") ? { mask: DETECTOR_RULES } : {}));
  gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: `http://127.0.0.1:${port}`, credential: { type: "bearer", value: S } }] });
});

afterAll(async () => {
  await gw.close();
  await new Promise((resolve) => upstream.close(resolve));
});

/** Everything regate writes back for one request, byte for byte. */
function exchange(path: string, query: Record<string, string>): Promise<string> {
  const target = `${path}?${new URLSearchParams(query).toString()}`;
  return rawExchange(gw.port, `GET ${target} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${AGENT_TOKEN}\r\nconnection: close\r\n\r\n`);
}

/** The body of a raw response, de-chunked when it was sent chunked. */
function agentBody(raw: string): string {
  const at = raw.indexOf("\r\n\r\n");
  let rest = raw.slice(at + 4);
  if (!/\r\ntransfer-encoding: chunked\r\n/i.test(raw.slice(0, at + 2))) return rest;
  let body = "";
  for (;;) {
    const eol = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return body;
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 4 + size);
  }
}

/** The data of each event, as an SSE client reads it (lines joined with "\n"), all events joined. */
function eventData(raw: string): string {
  return agentBody(raw)
    .split(/\n\n/)
    .map((ev) => ev.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n"))
    .join("");
}

describe("a content type that names an event stream loosely", () => {
  it.each(Object.entries(LOOSE).flatMap(([name, type]) => ["length", "chunked"].map((framing) => [name, type, framing] as const)))(
    "%s (%s, %s): refused on a credential route, none of the body sent",
    async (_name, type, framing) => {
      const out = await exchange("/api/events", { type, framing });
      expect(out).toMatch(/^HTTP\/1\.1 502 /);
      expect(out).toContain('"code":"UPSTREAM_RESPONSE_REFUSED"');
      expect(out).not.toContain(S.slice(0, cut));
      expect(out).not.toContain(S.slice(cut));
    },
  );

  it.each(Object.entries(LOOSE))("%s (%s): refused on a masked route, none of the body sent", async (_name, type) => {
    const out = await exchange("/d/events", { type, body: "masked" });
    expect(out).toMatch(/^HTTP\/1\.1 403 /);
    expect(out).toContain('"code":"MASK_LINEAGE_UNKNOWN"');
    expect(out).not.toContain(MASKED.email);
  });
});

describe("must-allow", () => {
  it.each(["text/event-stream", "Text/Event-Stream; charset=utf-8"])("%s is read as events: the credential cut across lines and events is overwritten", async (type) => {
    const out = await exchange("/api/events", { type });
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    const data = eventData(out);
    expect(data.replace(/\n/g, "")).not.toContain(S);
    expect(data).not.toContain(S.slice(0, cut));
  });

  it.each(["text/plain", "application/json; charset=utf-8", "text/plain; note=events"])("%s that names no event stream passes byte for byte", async (type) => {
    for (const framing of ["length", "chunked"]) {
      const out = await exchange("/api/plain", { type, body: "plain", framing });
      expect(out).toMatch(/^HTTP\/1\.1 200 /);
      expect(agentBody(out)).toBe("nothing to see\n");
    }
  });
});
