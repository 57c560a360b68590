// Red team of the HTTP speed pass (0425a8c): request targets parsed once per raw URL, maskers shared by
// rules (by identity and by JSON), response header pairs masked once per masker, static tokens looked up
// synchronously, a small masked body written with its headers. These tests pin the behaviour each cache
// must keep (they fail if a cache answered one request with another's result); judged by what the
// upstream received and the bytes the agent got.

import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/http/to-input.js";
import { AgentDirectory } from "../../src/identity/index.js";
import {
  AGENT_TOKEN,
  authed,
  DETECTOR_RULES,
  FIELD_RULES,
  maskingGateway,
  MASKED,
  rawExchange,
  rawRequest,
  startGateway,
  TestRulesDecider,
  type GatewayUnderTest,
} from "./fixtures.js";
import { startLenientUpstream, type LenientUpstream } from "./lenient-upstream.js";

describe("one raw URL under different Host headers and forms (pins the target memo)", () => {
  let a: LenientUpstream;
  let b: LenientUpstream;
  let g: GatewayUnderTest;
  beforeAll(async () => {
    a = await startLenientUpstream();
    b = await startLenientUpstream();
    const decider = new TestRulesDecider((input) => ((input.http as HttpInput).host.startsWith("b.") ? { outcome: "deny" } : {}));
    g = await startGateway({
      decider,
      routes: [
        { name: "a", prefix: "/", upstream: a.url, host: "a.test" },
        { name: "b", prefix: "/", upstream: b.url, host: "b.test" },
      ],
      request: { ambiguous_paths: "refuse", method_override: "decide" },
    });
  });
  afterAll(async () => {
    await g?.close();
    await a?.close();
    await b?.close();
  });

  it("each request is routed and decided by its own Host, however often the URL repeats", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await rawRequest(`${g.url}/items/1`, { headers: authed({ host: "a.test" }) })).status);
      statuses.push((await rawRequest(`${g.url}/items/1`, { headers: authed({ host: "b.test" }) })).status);
    }
    expect(statuses).toEqual([200, 403, 200, 403, 200, 403]);
    expect(a.executed.map((e) => e.path)).toEqual(["/items/1", "/items/1", "/items/1"]);
    expect(b.executed).toHaveLength(0);
  });

  it("an absolute-form target names its own authority; the same path in origin form takes the Host's", async () => {
    const reply = async (target: string, host: string): Promise<string> =>
      (await rawExchange(g.port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nConnection: close\r\n\r\n`)).split("\r\n")[0]!;
    expect(await reply("http://b.test/items/2", "a.test")).toContain(" 403 ");
    expect(await reply("/items/2", "a.test")).toContain(" 200 ");
    expect(await reply("http://b.test/items/2", "a.test")).toContain(" 403 ");
    expect(b.executed).toHaveLength(0);
  });

  it("a refused (ambiguous) target stays refused, and a frozen parse is never written to (no 500)", async () => {
    for (let i = 0; i < 2; i++) {
      expect((await rawRequest(`${g.url}/items/a%2fb`, { headers: authed({ host: "a.test" }) })).status).toBe(400);
      expect((await rawRequest(`${g.url}/items/x/?_method=GET`, { headers: authed({ host: "a.test" }) })).status).toBe(200);
    }
  });
});

/** An upstream answering every path with the same JSON body and headers holding the masked values. */
function echoValues(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({ ssn: MASKED.ssn, email: MASKED.email, note: `call ${MASKED.email}` });
  res.writeHead(200, {
    "content-type": "application/json",
    "x-contact": MASKED.email,
    "x-customer-ssn": "no-digits-here",
    location: `/c?email=${MASKED.email}`,
    etag: '"abc"',
    // Differs by request: a memo keyed by less than the whole pair would hand one request's value to another.
    "x-note": req.url?.endsWith("/2") ? `ticket-${req.url.length}` : `mail ${MASKED.email}`,
  });
  res.end(body);
}

describe("decisions with other rules share no masking (pins Maskers and the header memo)", () => {
  let m: Awaited<ReturnType<typeof maskingGateway>>;
  beforeAll(async () => {
    m = await maskingGateway(echoValues);
  });
  afterAll(async () => m?.close());

  it("field rules, detector rules and none, interleaved: each answer masked by its own decision", async () => {
    for (let i = 0; i < 3; i++) {
      const f = await rawRequest(`${m.gw.url}/f/1`, { headers: authed() });
      const d = await rawRequest(`${m.gw.url}/d/1`, { headers: authed() });
      const plain = await rawRequest(`${m.gw.url}/p/1`, { headers: authed() });
      // Field rules: the named fields whole; headers scanned with every detector (mask-headers.ts).
      expect(JSON.parse(f.body.toString())).toEqual({ ssn: "****", email: "****", note: `call ${MASKED.email}` });
      expect(f.headers["x-contact"]).toBe("****");
      expect(f.headers["x-customer-ssn"]).toBe("****");
      expect(f.headers.etag).toBeUndefined();
      // Detector rules: values wherever they are; a header named after a field keeps its value.
      expect(JSON.parse(d.body.toString())).toEqual({ ssn: "****", email: "****", note: "call ****" });
      expect(d.headers["x-contact"]).toBe("****");
      expect(d.headers["x-customer-ssn"]).toBe("no-digits-here");
      expect(d.headers.location).toBe("/c?email=****");
      // No rules: untouched, validators kept.
      expect(JSON.parse(plain.body.toString())).toMatchObject({ email: MASKED.email });
      expect(plain.headers["x-contact"]).toBe(MASKED.email);
      expect(plain.headers.etag).toBe('"abc"');
      for (const p of ["/f/", "/d/"]) {
        expect((await rawRequest(`${m.gw.url}${p}1`, { headers: authed() })).headers["x-note"]).toBe("mail ****");
        expect((await rawRequest(`${m.gw.url}${p}2`, { headers: authed() })).headers["x-note"]).toBe("ticket-4");
        expect((await rawRequest(`${m.gw.url}${p}x/2`, { headers: authed() })).headers["x-note"]).toBe("ticket-6");
      }
    }
  });

  it("pipelined requests on one connection: a small masked body, a HEAD and another body each framed apart", async () => {
    const req = (method: string, path: string, last = false): string =>
      `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\n${last ? "Connection: close\r\n" : ""}\r\n`;
    const out = await rawExchange(m.gw.port, req("GET", "/f/1") + req("HEAD", "/d/1") + req("GET", "/d/2", true));
    const responses = out.split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(3);
    for (const r of responses) expect(r.startsWith("HTTP/1.1 200 ")).toBe(true);
    const [first, head, third] = responses as [string, string, string];
    const bodyOf = (r: string): string => r.slice(r.indexOf("\r\n\r\n") + 4);
    expect(JSON.parse(bodyOf(first))).toMatchObject({ ssn: "****", email: "****" });
    expect(Number(/content-length: (\d+)/i.exec(first)![1])).toBe(Buffer.byteLength(bodyOf(first)));
    expect(bodyOf(head)).toBe("");
    expect(JSON.parse(bodyOf(third))).toMatchObject({ note: "call ****" });
    // Field rules leave an unnamed field's text alone (note); the detector answers hold no email anywhere.
    expect(head + third).not.toContain(MASKED.email);
  });
});

describe("a JSON-RPC batch's rules are every call's (pins decideAll's hand-over of one decision's array)", () => {
  const EMAIL_ONLY = [{ field: "email", strategy: "redact" as const }];
  const SSN_ONLY = [{ field: "ssn", strategy: "redact" as const }];
  let up: { url: string; close(): Promise<void> };
  let g: GatewayUnderTest;
  beforeAll(async () => {
    const { createServer } = await import("node:http");
    const { closeServer, listen } = await import("./fixtures.js");
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: { email: MASKED.email, ssn: MASKED.ssn } }));
    });
    up = { url: await listen(server), close: () => closeServer(server) };
    // The same two arrays every time: a batch concatenating them must not change either, nor the masker
    // found for a single call's array by identity.
    const decider = new TestRulesDecider((input) => ((input.http as HttpInput).mcp?.tool === "a" ? { mask: EMAIL_ONLY } : { mask: SSN_ONLY }));
    g = await startGateway({ decider, routes: [{ name: "mcp", prefix: "/", upstream: up.url }] });
  });
  afterAll(async () => {
    await g?.close();
    await up?.close();
  });

  const call = (tool: string, id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: tool, arguments: {} } });
  const post = async (body: unknown) =>
    JSON.parse((await rawRequest(`${g.url}/mcp`, { method: "POST", headers: authed({ "content-type": "application/json" }), body: JSON.stringify(body) })).body.toString()) as {
      result: Record<string, string>;
    };

  it("single calls, a batch and single calls again: each masked by exactly its decisions' rules", async () => {
    for (let i = 0; i < 2; i++) {
      expect((await post(call("a", 1))).result).toEqual({ email: "****", ssn: MASKED.ssn });
      expect((await post([call("a", 1), call("b", 2)])).result).toEqual({ email: "****", ssn: "****" });
      expect((await post(call("b", 1))).result).toEqual({ email: MASKED.email, ssn: "****" });
    }
    expect(EMAIL_ONLY).toHaveLength(1);
    expect(SSN_ONLY).toHaveLength(1);
  });
});

describe("a small masked body written with its headers in one string (pins the latin1 write)", () => {
  const TEXT = `héllo ✓ ${MASKED.email} \u0000 \xff end`;
  let m: Awaited<ReturnType<typeof maskingGateway>>;
  beforeAll(async () => {
    m = await maskingGateway((req, res) => {
      const plain = Buffer.from(TEXT, "utf8");
      if (req.url?.includes("gz")) {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-encoding": "gzip", "content-length": String(gzipSync(plain).length) });
        res.end(gzipSync(plain));
      } else if (req.url?.includes("chunked")) {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8", trailer: "x-sum" });
        res.write(plain.subarray(0, 7));
        res.addTrailers({ "x-sum": MASKED.email });
        res.end(plain.subarray(7));
      } else {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        res.end(plain);
      }
    });
  });
  afterAll(async () => m?.close());

  it.each(["/d/plain", "/d/gz", "/d/chunked"])("%s: the exact UTF-8 bytes, masked, with their length and no coding", async (path) => {
    const r = await rawRequest(`${m.gw.url}${path}`, { headers: authed() });
    const expected = Buffer.from(TEXT.replace(MASKED.email, "****"), "utf8");
    expect(r.status).toBe(200);
    expect(r.body.equals(expected)).toBe(true);
    expect(r.headers["content-length"]).toBe(String(expected.length));
    expect(r.headers["content-encoding"]).toBeUndefined();
    expect(JSON.stringify(r.headers)).not.toContain(MASKED.email);
  });
});

describe("static tokens on the synchronous path (pins the lookup)", () => {
  it("a token that is also JWT-shaped is the static agent's; an unknown JWT-shaped one is refused", async () => {
    const jwtShaped = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    const agents = new AgentDirectory({ tokens: [{ subject: "jwt-shaped-agent", token: jwtShaped }] });
    const up = await startLenientUpstream();
    const decider = new TestRulesDecider(() => ({}));
    const g = await startGateway({ decider, agents, routes: [{ name: "api", prefix: "/", upstream: up.url }] });
    try {
      expect((await rawRequest(`${g.url}/x`, { headers: { authorization: `Bearer ${jwtShaped}` } })).status).toBe(200);
      expect((decider.inputs.at(-1)?.session as { principal: { subject: string } }).principal.subject).toBe("jwt-shaped-agent");
      expect((await rawRequest(`${g.url}/x`, { headers: { authorization: `Bearer ${jwtShaped}x` } })).status).toBe(401);
      expect((await rawRequest(`${g.url}/x`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } })).status).toBe(401);
      expect(up.executed).toHaveLength(1);
    } finally {
      await g.close();
      await up.close();
    }
  });
});
