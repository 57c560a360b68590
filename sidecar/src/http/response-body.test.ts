import { Readable, type Transform } from "node:stream";
import { brotliCompressSync, deflateRawSync, deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ResponseMasker } from "./masker.js";
import { decoderFor, maskBody } from "./response-body.js";

async function decode(body: Buffer, chunks: number, coding = "deflate"): Promise<{ out: string; err?: Error }> {
  const d = decoderFor(coding) as Transform;
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

  // node's decoders end their output where their stream ends: the bytes after it were dropped unread (br), or
  // the decoder never ended at all (deflate), and the agent waited until the upstream timeout, or for ever.
  it.each([
    ["deflate", "zlib", deflateSync(TEXT)],
    ["deflate", "raw", deflateRawSync(TEXT)],
    ["br", "brotli", brotliCompressSync(TEXT)],
  ])("%s (%s) followed by more bytes fails, in one chunk or a byte at a time", async (coding, _name, body) => {
    const more = Buffer.concat([body, Buffer.from('{"more":1}')]);
    for (const chunks of [1, 2, more.length]) expect((await decode(more, chunks, coding)).err?.message).toMatch(/^bytes after the end of the (deflate|brotli) stream$/);
  });

  it("br, whole, in one chunk or a byte at a time; an empty body is empty", async () => {
    const body = brotliCompressSync(TEXT);
    for (const chunks of [1, 2, body.length]) expect(await decode(body, chunks, "br")).toEqual({ out: TEXT });
    expect(await decode(Buffer.alloc(0), 1, "br")).toEqual({ out: "" });
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
