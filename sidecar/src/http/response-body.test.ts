import { Readable, type Transform } from "node:stream";
import { deflateRawSync, deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ResponseMasker } from "./masker.js";
import { decoderFor, maskBody } from "./response-body.js";

async function decode(body: Buffer, chunks: number): Promise<{ out: string; err?: Error }> {
  const d = decoderFor("deflate") as Transform;
  const size = Math.max(1, Math.ceil(body.length / chunks));
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) parts.push(body.subarray(i, i + size));
  const out: Buffer[] = [];
  d.on("data", (c: Buffer) => out.push(c));
  const err = await new Promise<Error | undefined>((resolve) => {
    d.on("end", () => resolve(undefined));
    d.on("error", resolve);
    Readable.from(parts).pipe(d);
  });
  return { out: Buffer.concat(out).toString(), ...(err ? { err } : {}) };
}

const TEXT = JSON.stringify({ a: "x".repeat(300), b: [1, 2, 3] });

describe("deflate decoding", () => {
  it.each([
    ["zlib (RFC 9110)", deflateSync(TEXT)],
    ["raw (IIS, older PHP and Java)", deflateRawSync(TEXT)],
  ])("%s, in one chunk or a byte at a time", async (_name, body) => {
    for (const chunks of [1, 2, body.length]) expect(await decode(body, chunks)).toEqual({ out: TEXT });
  });

  it.each([
    ["garbage", Buffer.from("not deflate at all")],
    ["one byte", Buffer.from([0x78])],
    ["a truncated stream", deflateRawSync(TEXT).subarray(0, 10)],
  ])("%s fails", async (_name, body) => {
    expect((await decode(body, 1)).err).toBeDefined();
  });

  it("stacked and unknown codings are not decoded", () => {
    for (const enc of ["gzip, gzip", "gzip, br", "zstd", "compress", "x-custom"]) expect(decoderFor(enc)).toBeUndefined();
  });
});

describe("a text body under field rules", () => {
  const fields = ResponseMasker.from([{ field: "email", strategy: "redact" }])!;
  const masked = (text: string, status: number, type?: string) => maskBody(Buffer.from(text), type, fields, status);

  // Express's res.sendStatus(202), and the MCP SDKs' HTTP+SSE transports answering a posted call.
  it.each([
    ["Accepted", 202, undefined],
    ["Accepted\n", 202, "text/plain; charset=utf-8"],
    ["OK", 200, "text/plain"],
  ])("%j with status %i says only what the status line says: it passes", (text, status, type) => {
    expect(masked(text, status, type)).toEqual({ ok: true, body: Buffer.from(text) });
  });

  it.each([
    ["Accepted", 200],
    ["Accepted: alice@example.com", 202],
    ["email=alice@example.com", 202],
  ])("%j with status %i is refused, as any other text", (text, status) => {
    expect(masked(text, status).ok).toBe(false);
  });
});
