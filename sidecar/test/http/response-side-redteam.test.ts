// Response side (sixth red-team pass): bodies regate must read whole before it vouches for them.
// - A compressed body with bytes after the end of its stream: node's inflater ended its output there and the
//   deflate decoder then waited for an end that had passed (a masked answer became a 504 "upstream timed
//   out" after limits.timeout_ms, a credential-only one never ended); brotli dropped the bytes unread and
//   answered 200 with the first stream as the whole body.
// - Byte ranges sent unasked as a 200 (multipart/byteranges, or Apache's multipart/x-byteranges): each part a
//   slice, so a value or the route credential cut between two parts passed the detectors and the scrubber,
//   and was whole once the agent joined the parts. Refused as a 206 is.
// A raw upstream writes each answer; /d/ masks with detectors, /f/ with field rules, /s/ only scrubs the
// route credential, which the upstream echoes back as it received it.

import type { Socket } from "node:net";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/http/index.js";
import { authed, DETECTOR_RULES, FIELD_RULES, headsUpstream, MASKED, rawRequest, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

const { ssn: SSN, email: EMAIL } = MASKED;
/** Exact numbers and an unmasked field the masked answers must keep as written. */
const KEPT = '"n":12345678901234567890,"price":1.10,"note":"kept"';

const encoders: Record<string, (b: Buffer) => Buffer> = { deflate: deflateSync, "deflate-raw": deflateRawSync, br: brotliCompressSync, gzip: gzipSync };
const CODING: Record<string, string> = { deflate: "deflate", "deflate-raw": "deflate", br: "br", gzip: "gzip" };

function respond(sock: Socket, status: string, headers: string[], body: Buffer): void {
  sock.write(Buffer.concat([Buffer.from(`HTTP/1.1 ${status}\r\n${[...headers, `content-length: ${body.length}`].join("\r\n")}\r\n\r\n`), body]));
}

/**
 * /<rules>/<what>/<coding>: `doc` is a JSON document holding the values and the credential; `more` is that
 * document compressed, then the same document again in the clear; `ranges` (`xranges`) is a 200 of two byte
 * ranges of it, cut inside the credential and inside the SSN.
 */
function answer(sock: Socket, head: string): void {
  const [, path] = head.split(" ") as [string, string];
  const [, , what, coding = "gzip"] = path.split("/");
  const credential = /^authorization: *(.*)$/im.exec(head)?.[1] ?? "";
  const doc = Buffer.from(`{"ssn":"${SSN}","email":"${EMAIL}","auth":"${credential}",${KEPT}}`);
  const json = "content-type: application/json";
  if (what === "doc") return respond(sock, "200 OK", [json, `content-encoding: ${CODING[coding]}`], encoders[coding]!(doc));
  if (what === "more") return respond(sock, "200 OK", [json, `content-encoding: ${CODING[coding]}`], Buffer.concat([encoders[coding]!(doc), doc]));
  if (what === "ranges" || what === "xranges") {
    const text = doc.toString();
    const cut = [text.indexOf(SSN) + 5, text.indexOf(UPSTREAM_SECRET) + 10];
    const part = (from: number, to: number) => `--B\r\nContent-Type: application/json\r\nContent-Range: bytes ${from}-${to - 1}/${text.length}\r\n\r\n${text.slice(from, to)}\r\n`;
    const body = `${part(0, cut[0]!)}${part(cut[0]!, cut[1]!)}${part(cut[1]!, text.length)}--B--\r\n`;
    return respond(sock, "200 OK", [`content-type: multipart/${what === "xranges" ? "x-" : ""}byteranges; boundary=B`], Buffer.from(body));
  }
  if (what === "mixed") {
    // A multipart answer that is no set of ranges (a batch API's), each part whole.
    const body = `--B\r\nContent-Type: application/json\r\n\r\n${doc.toString()}\r\n--B--\r\n`;
    return respond(sock, "200 OK", ["content-type: multipart/mixed; boundary=B"], Buffer.from(body));
  }
  respond(sock, "404 Not Found", [json], Buffer.from("{}"));
}

let gw: GatewayUnderTest;
let closeUpstream: () => Promise<void>;

beforeAll(async () => {
  const up = await headsUpstream(answer);
  closeUpstream = () => new Promise((resolve) => up.server.close(() => resolve()));
  const decider = new TestRulesDecider((input) => {
    const { path } = input.http as HttpInput;
    if (path.startsWith("/d/")) return { mask: DETECTOR_RULES };
    if (path.startsWith("/f/")) return { mask: FIELD_RULES };
    return {};
  });
  gw = await startGateway({ decider, routes: [{ name: "api", prefix: "/", upstream: `http://127.0.0.1:${up.port}`, credential: { type: "bearer", value: UPSTREAM_SECRET } }] });
});

afterAll(async () => {
  await gw.close();
  await closeUpstream();
});

const get = (path: string) => rawRequest(`${gw.url}${path}`, { headers: authed() });
/** A request the relay cuts short: the head went out with the first decoded bytes, the body never ends. */
const cut = (path: string) => get(path).then((r) => ({ cut: false, r }), (err: Error) => ({ cut: true, message: err.message }));
const errorOf = (body: Buffer): { code: string; reason: string } => JSON.parse(body.toString()) as { code: string; reason: string };

describe("a compressed body with bytes after the end of its stream", () => {
  for (const coding of ["deflate", "deflate-raw", "br"]) {
    for (const rules of ["d", "f"]) {
      it(`${coding}, masked (/${rules}/): refused at once as a body that does not decode`, async () => {
        const r = await get(`/${rules}/more/${coding}`);
        expect(r.status).toBe(403);
        expect(errorOf(r.body)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: "response body could not be decoded; the upstream already handled the request" });
      });
    }

    it(`${coding}, credential only: the response is cut short, never ended as if whole`, async () => {
      const got = await cut(`/s/more/${coding}`);
      expect(got).toEqual({ cut: true, message: "aborted" });
    });
  }
});

describe("byte ranges the upstream sends unasked, as a 200", () => {
  for (const what of ["ranges", "xranges"]) {
    it(`${what}, detectors: refused as partial content`, async () => {
      const r = await get(`/d/${what}`);
      expect(r.status).toBe(403);
      expect(errorOf(r.body)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: "partial content cannot be masked; the upstream already handled the request" });
      expect(r.body.toString()).not.toContain(SSN.slice(0, 5));
    });

    it(`${what}, credential only: refused as partial content, no piece of the credential sent`, async () => {
      const r = await get(`/s/${what}`);
      expect(r.status).toBe(502);
      expect(errorOf(r.body).code).toBe("UPSTREAM_RESPONSE_REFUSED");
      expect(errorOf(r.body).reason).toContain("(partial content)");
      expect(r.body.toString()).not.toContain(UPSTREAM_SECRET.slice(0, 10));
    });
  }
});

describe("must-allow", () => {
  for (const coding of ["deflate", "deflate-raw", "br", "gzip"]) {
    it(`${coding}, whole: masked, numbers and unmasked fields as written`, async () => {
      const r = await get(`/d/doc/${coding}`);
      expect(r.status).toBe(200);
      expect(r.headers["content-encoding"]).toBeUndefined();
      expect(r.body.toString()).toBe(`{"ssn":"****","email":"****","auth":"Bearer [REDACTED]",${KEPT}}`);
    });
  }

  it("a multipart answer that is no set of ranges is masked, not refused", async () => {
    const r = await get("/d/mixed");
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(`--B\r\nContent-Type: application/json\r\n\r\n{"ssn":"****","email":"****","auth":"Bearer [REDACTED]",${KEPT}}\r\n--B--\r\n`);
  });
});
