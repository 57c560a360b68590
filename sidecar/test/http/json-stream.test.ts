// Masked JSON responses that are large, chunked or compressed stream through regate (http/upstream-json.ts):
// a real upstream, a real gateway, node:http as the agent.

import { request } from "node:http";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/mask/index.js";
import { allLogs, authed, closeServer, listen, rawRequest, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";
import { createServer, type Server, type ServerResponse } from "node:http";

const ROWS = 5_000;
const HUGE = 200_000;
const row = (i: number): string => `{"id":${i},"email":"user${i}@example.com","balance":123456789012345678901234567890,"plan":"pro"}`;

/** Writes `pieces` one per tick (chunked: no Content-Length), so the gateway sees them arrive one by one. */
async function trickle(res: ServerResponse, pieces: (string | Buffer)[], headers: Record<string, string> = {}): Promise<void> {
  res.writeHead(200, { "content-type": "application/json", ...headers });
  for (const p of pieces) {
    res.write(p);
    await new Promise((r) => setImmediate(r));
  }
  res.end();
}

let upstream: Server;
let upstreamUrl: string;
let gw: GatewayUnderTest;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const big = ["[", ...Array.from({ length: ROWS }, (_, i) => (i ? "," : "") + row(i)), "]"];
    switch (req.url) {
      case "/big":
        return void trickle(res, big);
      case "/small-chunked":
        return void trickle(res, ['{"id":1,"em', 'ail":"alice@exa', 'mple.com","n":12345678901234567890123}']);
      case "/gzip":
        return void trickle(res, [gzipSync(big.join(""))], { "content-encoding": "gzip" });
      case "/bad-small":
        return void trickle(res, ['{"email":"a@x.com",', '"x": nope}']);
      case "/bad-late":
        return void trickle(res, [...big.slice(0, -1), ',{"email": "late@example.com"']);
      case "/deep":
        return void trickle(res, ["[".repeat(600), '"a@x.com"', "]".repeat(600)]);
      case "/huge-value":
        return void trickle(res, ['{"email":"', "a".repeat(200_000), '"}']);
      case "/huge":
        // ~19 MB in 200 pieces: more than loopback socket buffers hold, so a client that stops reading holds
        // regate back.
        return void trickle(res, ["[", ...Array.from({ length: HUGE / 1000 }, (_, k) => Array.from({ length: 1000 }, (_, j) => (k + j ? "," : "") + row(k * 1000 + j)).join("")), "]"]);
      case "/abort":
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"email":"a@x.com",');
        setTimeout(() => res.destroy(), 20);
        return;
      default:
        res.writeHead(404).end();
    }
  });
  upstreamUrl = await listen(upstream);
  const decider = new TestRulesDecider(() => ({ mask: [{ field: "email", strategy: "redact" }] }));
  // A whole-body cap far below the big document: only a single value is held now.
  gw = await startGateway({
    decider,
    routes: [{ name: "api", prefix: "/api", upstream: upstreamUrl }],
    limits: { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 3000, max_masked_body_bytes: 64 * 1024 },
  });
});

afterAll(async () => {
  await gw?.close();
  if (upstream) await closeServer(upstream);
});

const get = (path: string) => rawRequest(`${gw.url}/api${path}`, { headers: authed() });

describe("streamed JSON masking", () => {
  it("masks a document far larger than the masking cap, every value, numbers exact", async () => {
    const res = await get("/big");
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBeUndefined();
    const text = res.body.toString("utf8");
    expect(text).not.toMatch(/user\d+@example\.com/);
    expect(text.split(JSON.stringify(REDACTED)).length - 1).toBe(ROWS);
    expect(text).toContain('"balance":123456789012345678901234567890');
    expect((JSON.parse(text) as unknown[]).length).toBe(ROWS);
  });

  it("masks a small chunked document and sends it with its length", async () => {
    const res = await get("/small-chunked");
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(`{"id":1,"email":${JSON.stringify(REDACTED)},"n":12345678901234567890123}`);
    expect(res.headers["content-length"]).toBe(String(res.body.length));
  });

  it("decodes a gzip document as it streams and sends it masked, uncompressed", async () => {
    const res = await rawRequest(`${gw.url}/api/gzip`, { headers: authed({ "accept-encoding": "gzip" }) });
    expect(res.status).toBe(200);
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.body.toString()).not.toMatch(/user\d+@example\.com/);
    expect((JSON.parse(res.body.toString()) as unknown[]).length).toBe(ROWS);
  });

  it.each([
    ["/bad-small", /does not parse/],
    ["/deep", /nested too deeply/],
    ["/huge-value", /larger than regate masks/],
  ])("%s is refused before a byte of it is sent", async (path, reason) => {
    const res = await get(path);
    expect(res.status).toBe(403);
    const body = JSON.parse(res.body.toString()) as { code: string; reason: string };
    expect(body.code).toBe("MASK_LINEAGE_UNKNOWN");
    expect(body.reason).toMatch(reason);
    expect(res.body.toString()).not.toContain("a@x.com");
  });

  it("cuts a large document short when it breaks after the first bytes went out", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = request(`${gw.url}/api/bad-late`, { headers: authed(), agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(`ended ${Buffer.concat(chunks).length}`));
        res.on("error", () => resolve(`aborted, had ${/user\d+@example\.com/.test(Buffer.concat(chunks).toString()) ? "raw" : "masked"} data`));
        res.on("aborted", () => resolve("aborted"));
      });
      req.on("error", () => resolve("aborted"));
      req.end();
    });
    expect(outcome).toMatch(/^aborted/);
    expect(outcome).not.toContain("raw");
    await new Promise((r) => setTimeout(r, 20));
    expect(allLogs(gw.lines)).toContain("masked response cut short");
    expect(allLogs(gw.lines)).not.toContain("late@example.com");
  });

  it("waits for an agent that reads slowly: its pause is not the upstream going quiet", async () => {
    const slow = await startGateway({
      decider: new TestRulesDecider(() => ({ mask: [{ field: "email", strategy: "redact" }] })),
      routes: [{ name: "api", prefix: "/api", upstream: upstreamUrl }],
      limits: { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 300 },
    });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(`${slow.url}/api/huge`, { headers: authed(), agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.pause();
          // Stop reading for twice the upstream timeout once the first bytes arrived.
          setTimeout(() => {
            res.on("data", (c: Buffer) => chunks.push(c));
            res.resume();
          }, 700);
          res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
          res.on("error", reject);
          res.on("aborted", () => reject(new Error("aborted")));
        });
        req.on("error", reject);
        req.end();
      });
      expect((JSON.parse(body) as unknown[]).length).toBe(HUGE);
      expect(body).not.toMatch(/user\d+@example\.com/);
    } finally {
      await slow.close();
    }
  });

  it("answers 502 when the upstream hangs up mid-document before anything was sent", async () => {
    const res = await get("/abort");
    expect(res.status).toBe(502);
    expect((JSON.parse(res.body.toString()) as { code: string }).code).toBe("UPSTREAM_UNAVAILABLE");
  });
});
