import { Readable, type Transform } from "node:stream";
import { deflateRawSync, deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decoderFor } from "./response-body.js";

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
