// Fifth red-team pass, request pre-checks and what a masked response says about itself. Conditional requests:
// an upstream that answers If-None-Match / If-Match by comparing a hash of its unmasked body (Express's ETag
// is a SHA-1 of it) confirms an agent's guesses of the masked values, and a masked HEAD or 304 hands out that
// hash. Ranges: a slice is no document. A response the upstream marks public would let a shared cache serve one
// agent's answer to another without asking regate. Expect: 100-continue: Node said "go ahead" before regate had
// authenticated anyone, so a client uploaded a body only to be refused.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/mask/index.js";
import { AGENT_TOKEN, authed, MASKED, maskingGateway, rawExchange, rawRequest, type Captured, type GatewayUnderTest } from "./fixtures.js";

const run = promisify(execFile);
const CUSTOMER = { id: 1, name: "Alice", ssn: MASKED.ssn, email: MASKED.email };
const LAST_MODIFIED = "Mon, 02 Nov 2026 10:00:00 GMT";

/** Express's default ETag (the etag package): weak, the length in hex and 27 characters of the body's SHA-1. */
const expressEtag = (body: string): string => `W/"${Buffer.byteLength(body).toString(16)}-${createHash("sha1").update(body).digest("base64").slice(0, 27)}"`;
/** The tag an agent computes for a guess of the masked SSN: the masked answer shows everything else. */
const guess = (ssn: string): string => expressEtag(JSON.stringify({ ...CUSTOMER, ssn }));
const RIGHT = guess(MASKED.ssn);
const WRONG = guess("000-00-0000");

const tags = (h: string | undefined): string[] => (h ?? "").split(",").map((t) => t.trim().replace(/^W\//, ""));

const received: Captured[] = [];

/** Answers as Express's `res.send` and `fresh` do: ETag, Last-Modified, 304 on a matching tag or date, 412 on If-Match. */
function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() });
    const path = (req.url ?? "").replace(/^\/[a-z]/, "");
    const body = JSON.stringify(CUSTOMER);
    const etag = expressEtag(body);
    const validators = { etag, "last-modified": LAST_MODIFIED, digest: `sha-256=${createHash("sha256").update(body).digest("base64")}` };
    if (path === "/public") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=600", vary: "Accept-Encoding" }).end(body);
      return;
    }
    if (path === "/partial") {
      // Some servers answer with a range whatever was asked (a cached slice): regate must not pass it.
      res.writeHead(206, { "content-type": "application/json", "content-range": `bytes 0-9/${body.length}` }).end(body.slice(0, 10));
      return;
    }
    if (req.headers["if-match"] !== undefined && req.headers["if-match"] !== "*" && !tags(req.headers["if-match"]).includes(etag.replace(/^W\//, ""))) {
      res.writeHead(412, { "content-type": "application/json" }).end('{"error":"precondition failed"}');
      return;
    }
    const inm = req.headers["if-none-match"];
    const ims = req.headers["if-modified-since"];
    if ((req.method === "GET" || req.method === "HEAD") && (inm !== undefined ? tags(inm).includes(etag.replace(/^W\//, "")) : ims !== undefined && Date.parse(ims) >= Date.parse(LAST_MODIFIED))) {
      res.writeHead(304, validators).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...validators }).end(req.method === "HEAD" ? undefined : body);
  });
}

let gw: GatewayUnderTest;
let closeMasking: () => Promise<void>;

beforeAll(async () => {
  const started = await maskingGateway(handle);
  gw = started.gw;
  closeMasking = () => started.close();
});

afterAll(async () => {
  await closeMasking();
});

const send = (path: string, headers: Record<string, string> = {}, method = "GET", body?: string) => rawRequest(`${gw.url}${path}`, { method, headers: authed(headers), ...(body === undefined ? {} : { body }) });

describe.each(["f", "d"])("entity tags on a masked route (/%s)", (m) => {
  it.each([
    ["If-None-Match with the right guess", { "if-none-match": RIGHT }],
    ["If-None-Match with a list of guesses", { "if-none-match": `${WRONG}, ${RIGHT}` }],
    ["If-Match with a wrong guess", { "if-match": WRONG }],
    ["if_none_match in CGI spelling", { if_none_match: RIGHT }],
  ])("%s: the agent gets the masked answer, never a 304 or 412 that tells the guess apart", async (_name, headers) => {
    const r = await send(`/${m}/customer`, headers);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toMatchObject({ ssn: REDACTED, email: REDACTED });
    const seen = received.at(-1)!.headers;
    expect(seen["if-none-match"] ?? seen.if_none_match ?? seen["if-match"]).toBeUndefined();
  });

  it("a masked GET and HEAD carry no tag, digest or length of the unmasked body", async () => {
    for (const method of ["GET", "HEAD"]) {
      const r = await send(`/${m}/customer`, {}, method);
      expect(r.status).toBe(200);
      expect(r.headers.etag).toBeUndefined();
      expect(r.headers.digest).toBeUndefined();
      if (method === "HEAD") expect(r.headers["content-length"]).toBeUndefined();
      expect(r.headers["last-modified"]).toBe(LAST_MODIFIED);
    }
  });

  it("must-allow: If-Modified-Since (about time, not content) still gets its 304, without the tag", async () => {
    const r = await send(`/${m}/customer`, { "if-modified-since": LAST_MODIFIED });
    expect(r.status).toBe(304);
    expect(r.headers.etag).toBeUndefined();
    expect(r.headers.digest).toBeUndefined();
  });

  it.each([
    ["If-Match", { "if-match": RIGHT }],
    ["If-None-Match", { "if-none-match": WRONG }],
    ["if_match in CGI spelling", { if_match: RIGHT }],
  ])("a write with %s and a tag is refused before it reaches the upstream", async (_name, headers) => {
    const before = received.length;
    const r = await send(`/${m}/customer`, { "content-type": "application/json", ...headers }, "PATCH", '{"name":"Al"}');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: "FEATURE_UNSUPPORTED", error: "precondition_unsupported", reason: expect.stringContaining("not sent upstream") });
    expect(received.length).toBe(before);
  });

  it("must-allow: a write with If-Match: * (about existence, not content) goes through", async () => {
    const r = await send(`/${m}/customer`, { "content-type": "application/json", "if-match": "*" }, "PATCH", '{"name":"Al"}');
    expect(r.status).toBe(200);
    expect(received.at(-1)!.headers["if-match"]).toBe("*");
  });

  it("ranges are not forwarded (Range, If-Range, Apache's Request-Range), and a 206 sent anyway is refused", async () => {
    const r = await send(`/${m}/customer`, { range: "bytes=0-20", "if-range": RIGHT, "request-range": "bytes=0-20" });
    expect(r.status).toBe(200);
    const seen = received.at(-1)!.headers;
    expect([seen.range, seen["if-range"], seen["request-range"]]).toEqual([undefined, undefined, undefined]);
    const p = await send(`/${m}/partial`);
    expect(p.status).toBe(403);
    expect(JSON.parse(p.body.toString())).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN" });
  });
});

describe("must-allow: an unmasked route keeps conditional requests", () => {
  it("If-None-Match with the upstream's tag gets its 304 and the tag", async () => {
    const first = await send("/n/customer");
    expect(first.headers.etag).toBe(RIGHT);
    const r = await send("/n/customer", { "if-none-match": RIGHT });
    expect(r.status).toBe(304);
    expect(r.headers.etag).toBe(RIGHT);
  });

  it("a write with If-Match is forwarded, and the upstream's 412 comes back", async () => {
    const r = await send("/n/customer", { "content-type": "application/json", "if-match": WRONG }, "PATCH", '{"name":"Al"}');
    expect(r.status).toBe(412);
  });
});

describe("shared caches", () => {
  it.each(["n", "f"])("/%s: an answer the upstream lets shared caches reuse is keyed to the agent's credential", async (m) => {
    const r = await send(`/${m}/public`);
    expect(r.status).toBe(200);
    expect(r.headers["cache-control"]).toBe("public, max-age=600");
    expect(r.headers.vary).toBe("Accept-Encoding, Authorization, Proxy-Authorization");
  });
});

const expectHead = (payload: string, lines: string): string => `POST /n/upload HTTP/1.1\r\nHost: regate\r\n${lines}Content-Type: application/octet-stream\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${payload}`;

describe("Expect: 100-continue", () => {
  it.each([
    ["an unknown agent token", `Authorization: Bearer not-${AGENT_TOKEN}\r\nContent-Length: 10\r\n`, 401],
    ["no agent token", "Content-Length: 10\r\n", 401],
    ["a declared body over the cap", `Authorization: Bearer ${AGENT_TOKEN}\r\nContent-Length: 10000000\r\n`, 413],
  ])("%s: the refusal comes without 100 Continue, so no body is sent", async (_name, lines, status) => {
    const out = await rawExchange(gw.port, expectHead("", lines));
    expect(out).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(out).not.toContain("100 Continue");
  });

  it("an authenticated request gets 100 Continue, then its answer once the body is in", async () => {
    const before = received.length;
    const out = await rawExchange(gw.port, expectHead("", `Authorization: Bearer ${AGENT_TOKEN}\r\nContent-Length: 10\r\n`).replace(/\r\n\r\n$/, "\r\n\r\n0123456789"));
    expect(out).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(received.length).toBe(before + 1);
    expect(received.at(-1)!.body).toBe("0123456789");
  });

  it.each([
    ["an unknown token", `not-${AGENT_TOKEN}`, 401, false],
    ["the agent's token", AGENT_TOKEN, 200, true],
  ])("node:http with %s: 'continue' only when the request will be read", async (_name, token, status, continued) => {
    const got = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let sawContinue = false;
      const req = request(`${gw.url}/n/upload`, { method: "POST", agent: false, headers: { authorization: `Bearer ${token}`, expect: "100-continue", "content-length": "5" } });
      req.on("continue", () => {
        sawContinue = true;
        req.end("hello");
      });
      req.on("response", (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, continued: sawContinue }));
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(got).toEqual({ status, continued });
  });

  it.each([
    ["an unknown token", `not-${AGENT_TOKEN}`, 401, false],
    ["the agent's token", AGENT_TOKEN, 200, true],
  ])("curl with %s: 100 Continue only when the request will be read", async (_name, token, status, continued) => {
    const dir = await mkdtemp(join(tmpdir(), "regate-expect-"));
    try {
      const file = join(dir, "upload.bin");
      await writeFile(file, Buffer.alloc(20_000, 0x78));
      const { stdout, stderr } = await run("curl", ["-sS", "-v", "--max-time", "10", "--expect100-timeout", "5", "-H", `Authorization: Bearer ${token}`, "-H", "Expect: 100-continue", "--data-binary", `@${file}`, "-o", "/dev/null", "-w", "%{http_code}", `${gw.url}/n/upload`]);
      expect(Number(stdout)).toBe(status);
      expect(/< HTTP\/1\.1 100 Continue/.test(stderr)).toBe(continued);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
