// Masked values must not reach the agent through the side doors a red-team probe found (build/redteam/p4.ts):
// response headers, server-sent events that are not JSON under field rules, and JSON embedded in strings
// deeper than regate inspects. A real upstream, a real gateway, raw bytes as the agent reads them.

import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/mask/index.js";
import { AGENT_TOKEN, allLogs, DETECTOR_RULES, FIELD_RULES, MASKED, maskingGateway, rawExchange, type GatewayUnderTest } from "./fixtures.js";

const SSN = MASKED.ssn;
const EMAIL = MASKED.email;
/** Every form of the masked values an agent could read them in. */
const FORMS = [SSN, "123456789", EMAIL, "alice%40example.com", "alice%2540example.com", "alice\\u0040example.com"];

const FIELDS = FIELD_RULES;
const DETECTORS = DETECTOR_RULES;

const nest = (v: unknown, n: number): unknown => (n === 0 ? v : { d: JSON.stringify(nest(v, n - 1)) });

/** Headers that carry the masked values the ways upstreams do. */
const LEAKY_HEADERS: Record<string, string> = {
  "content-disposition": `attachment; filename="${SSN}.json"`,
  "x-customer-email": EMAIL,
  "x-customer-ssn": SSN,
  link: `</customers?q=alice%40example.com>; rel="self"`,
  "x-next": "/c?q=alice%2540example.com",
  "x-meta": JSON.stringify({ ssn: SSN }),
  [`x-${SSN}`]: "1",
};

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...headers }).end(payload);
}

/** An event stream: one good event, then `bad`, then (later) one more the agent must not get once refused. */
function sse(res: ServerResponse, bad: string): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write(`data: {"n":1}\n\n`);
  res.write(bad);
  setTimeout(() => res.end(`data: {"after":true}\n\n`), 50);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  // The first segment picked the rules (see the decider); the rest is the resource.
  const path = (req.url ?? "").replace(/^\/[a-z]+/, "").split("?")[0]!;
  const embedded = /^\/embedded(-chunked)?\/(\d+)$/.exec(path);
  if (embedded) {
    const body = JSON.stringify(nest({ ssn: SSN, name: "Alice" }, Number(embedded[2])));
    if (embedded[1]) {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(body.slice(0, 10));
      setImmediate(() => res.end(body.slice(10)));
    } else json(res, 200, JSON.parse(body));
    return;
  }
  switch (path) {
    case "/customer":
      return json(res, 200, { id: 1, name: "Alice", ssn: SSN, email: EMAIL }, { "x-request-id": "r-42", "cache-control": "no-store" });
    case "/redirect":
      return json(res, 302, {}, { location: `/customers?email=${EMAIL}` });
    case "/headers":
      return json(res, 200, {}, LEAKY_HEADERS);
    case "/nocontent":
      res.writeHead(204, LEAKY_HEADERS).end();
      return;
    case "/sse/ok":
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`: ping\n\nevent: message\nid: 1\ndata: {"ssn":"${SSN}","n":1}\n\ndata: [DONE]\n\n`);
      return;
    case "/sse/kv":
      return sse(res, `data: ssn=${SSN}\n\n`);
    case "/sse/broken":
      return sse(res, `data: {"ssn":"${SSN}"\n\n`);
    case "/sse/split":
      return sse(res, `data: {"ssn":\n\ndata: "${SSN}"}\n\n`);
    case "/sse/deep":
      return sse(res, `data: ${JSON.stringify(nest({ ssn: SSN }, 4))}\n\n`);
    default:
      res.writeHead(404).end();
  }
}

let gw: GatewayUnderTest;
let closeAll: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const started = await maskingGateway(handle);
  gw = started.gw;
  closeAll = started.close;
});

afterAll(async () => {
  await closeAll?.();
});

interface Exchange {
  status: number;
  head: string;
  /** The body, de-chunked when it was chunked. */
  body: string;
  /** False when a chunked body ended without its last chunk: the response was cut. */
  complete: boolean;
  raw: string;
}

/** What the agent's socket receives, headers and framing included. */
async function exchange(path: string, method = "GET"): Promise<Exchange> {
  const raw = await rawExchange(gw.port, `${method} ${path} HTTP/1.1\r\nHost: regate\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nConnection: close\r\n\r\n`);
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split);
  const rest = raw.slice(split + 4);
  if (!/\r\ntransfer-encoding: chunked/i.test(head)) return { status: Number(raw.slice(9, 12)), head, body: rest, complete: true, raw };
  let body = "";
  let complete = false;
  for (let pos = 0; ; ) {
    const eol = rest.indexOf("\r\n", pos);
    if (eol < 0) break;
    const size = parseInt(rest.slice(pos, eol), 16);
    if (size === 0) {
      complete = true;
      break;
    }
    if (Number.isNaN(size) || eol + 2 + size > rest.length) break;
    body += rest.slice(eol + 2, eol + 2 + size);
    pos = eol + 4 + size;
  }
  // rawExchange reads latin1; the bodies here are ASCII.
  return { status: Number(raw.slice(9, 12)), head, body, complete, raw };
}

function expectNoLeak(text: string): void {
  for (const form of FORMS) expect(text).not.toContain(form);
}

const RULES = [
  ["field rules", "f"],
  ["detector rules", "d"],
] as const;

describe.each(RULES)("response headers under %s", (_name, m) => {
  it.each([
    ["a redirect", "GET", "/redirect", 302],
    ["a JSON response", "GET", "/headers", 200],
    ["a HEAD response", "HEAD", "/headers", 200],
    ["a 204 response", "GET", "/nocontent", 204],
  ])("%s carries no masked value in any header", async (_what, method, path, status) => {
    const r = await exchange(`/${m}${path}`, method);
    expect(r.status).toBe(status);
    expectNoLeak(r.raw);
  });

  it("masks the values in place, keeping the headers", async () => {
    const r = await exchange(`/${m}/redirect`);
    expect(r.head).toContain(`location: /customers?email=${REDACTED}`);
    const h = await exchange(`/${m}/headers`);
    expect(h.head).toContain(`content-disposition: attachment; filename="${REDACTED}.json"`);
    expect(h.head).toContain(`x-customer-email: ${REDACTED}`);
    expect(h.head).toContain(`link: </customers?q=${REDACTED}>; rel="self"`);
  });
});

describe("responses the masks leave alone", () => {
  it("an unmasked route passes its headers and body untouched", async () => {
    const r = await exchange("/n/headers");
    expect(r.head).toContain(`x-customer-email: ${EMAIL}`);
    expect(r.head).toContain(`content-disposition: attachment; filename="${SSN}.json"`);
    const c = await exchange("/n/customer");
    expect(JSON.parse(c.body)).toEqual({ id: 1, name: "Alice", ssn: SSN, email: EMAIL });
  });

  it.each(RULES)("an ordinary masked response is masked as before under %s", async (_name, m) => {
    const r = await exchange(`/${m}/customer`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ id: 1, name: "Alice", ssn: REDACTED, email: REDACTED });
    expect(r.head).toContain("x-request-id: r-42");
    expect(r.head).toContain("cache-control: no-store");
  });

  it.each(RULES)("an event stream of JSON events passes masked under %s", async (_name, m) => {
    const r = await exchange(`/${m}/sse/ok`);
    expect(r.status).toBe(200);
    expect(r.body).toContain(`data: {"ssn":"${REDACTED}","n":1}\n\n`);
    expect(r.body).toContain(": ping\n\nevent: message\nid: 1\n");
    expect(r.body).toContain("data: [DONE]\n\n");
    expect(r.complete).toBe(true);
    expectNoLeak(r.raw);
  });
});

describe("server-sent events under field rules", () => {
  it.each([
    ["key=value data", "kv", /not a JSON document/],
    ["broken JSON data", "broken", /not a JSON document/],
    ["a document split across events", "split", /not a JSON document/],
    ["JSON embedded deeper than regate masks", "deep", /embedded in strings deeper/],
  ])("refuses %s: the events before it, an error event, then the stream is cut", async (_name, path, reason) => {
    const r = await exchange(`/f/sse/${path}`);
    expect(r.status).toBe(200);
    expectNoLeak(r.raw);
    expect(r.body).toContain(`data: {"n":1}\n\n`);
    const error = /event: error\ndata: (.*)\n\n/.exec(r.body);
    expect(error).not.toBeNull();
    expect(JSON.parse(error![1]!)).toMatchObject({ error: "mask_failed", code: "MASK_LINEAGE_UNKNOWN", reason: expect.stringMatching(reason) });
    expect(r.body).not.toContain("after");
    // No last chunk: the response did not end normally, which any HTTP client reports.
    expect(r.complete).toBe(false);
  });

  it("with detector rules, text data is masked and the stream ends normally", async () => {
    const r = await exchange("/d/sse/kv");
    expectNoLeak(r.raw);
    expect(r.body).toContain(`data: ssn=${REDACTED}\n\n`);
    expect(r.body).toContain(`data: {"after":true}\n\n`);
    expect(r.complete).toBe(true);
  });
});

describe.each(RULES)("JSON embedded in strings under %s", (_name, m) => {
  it.each(["embedded", "embedded-chunked"])("%s: three levels deep is masked", async (kind) => {
    const r = await exchange(`/${m}/${kind}/3`);
    expect(r.status).toBe(200);
    expectNoLeak(r.raw);
    expect(r.body).toContain("Alice");
  });

  it.each(["embedded", "embedded-chunked"])("%s: four levels deep is refused", async (kind) => {
    const r = await exchange(`/${m}/${kind}/4`);
    expect(r.status).toBe(403);
    expectNoLeak(r.raw);
    expect(JSON.parse(r.body)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN" });
  });
});

describe("logs", () => {
  it("never carry a masked value", () => {
    const logs = allLogs(gw.lines);
    expect(logs).not.toContain(SSN);
    expect(logs).not.toContain(EMAIL);
  });
});
