import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { foreignCharset, textual, WideTextError, WideTextGuard } from "./charset.js";

describe("foreignCharset", () => {
  it.each([
    ["application/json; charset=utf-16", "UTF-16"],
    ["text/plain;charset=UTF-16LE", "UTF-16"],
    ['text/plain; charset="utf-32be"', "UTF-32"],
    ["text/plain; charset=ucs-2", "UTF-16"],
    ["text/plain; charset=ucs-4", "UTF-32"],
    ["text/html; charset=unicode", "UTF-16"],
    ["text/plain; charset=unicodeFFFE", "UTF-16"],
    ["text/plain; charset=utf-7", "UTF-7"],
    ["text/plain; charset=utf-1", "UTF-1"],
    ["text/plain; charset=cp500", "EBCDIC"],
    ["text/plain; charset=IBM037", "EBCDIC"],
    ["text/plain; charset=x-utf-16le-bom", "UTF-16"],
    ["text/plain; charset=utf-16le-anything-an-echo-wrote", "UTF-16"],
    ["text/plain; charset=utf-8; charset=utf-16", "UTF-16"],
    ["text/plain; charset=csUTF16", "UTF-16"],
    ["text/plain; charset=x-EBCDIC-International", "EBCDIC"],
  ])("%s is refused as %s", (type, charset) => {
    expect(foreignCharset(type)).toBe(charset);
  });

  it.each(["application/json", "application/json; charset=utf-8", "text/plain; charset=iso-8859-1", "text/plain; charset=windows-1252", "text/plain; charset=shift_jis", "text/plain; charset=ibm850", "text/plain; charset=unicode-1-1-utf-8", "text/plain; charset=utf-8; x=utf-16", "text/plain; charset=csUTF8", "text/plain; charset=ibm1252", "text/plain; charset=cp1250"])("%s passes", (type) => {
    expect(foreignCharset(type)).toBeUndefined();
  });
});

describe("textual", () => {
  it.each([undefined, "text/plain", "application/json", "application/problem+json", "application/x-ndjson", "application/xml", "application/javascript", "application/x-www-form-urlencoded"])("%s is sniffed", (t) => {
    expect(textual(t)).toBe(true);
  });
  it.each(["application/octet-stream", "image/png", "video/mp4", "application/x-protobuf", "text/event-stream"])("%s is not", (t) => {
    expect(textual(t)).toBe(false);
  });
});

/** The guard's output and error for `body` cut into chunks at `cuts`. */
async function guarded(body: Buffer, cuts: number[]): Promise<{ out: Buffer; err?: Error; checkedFirst: boolean }> {
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, body.length]) {
    chunks.push(body.subarray(prev, c));
    prev = c;
  }
  const guard = new WideTextGuard();
  let checked = false;
  let checkedFirst = true;
  guard.once("checked", () => (checked = true));
  const out: Buffer[] = [];
  guard.on("data", (d: Buffer) => {
    if (!checked) checkedFirst = false;
    out.push(d);
  });
  const err = await new Promise<Error | undefined>((resolve) => {
    guard.on("end", () => resolve(undefined));
    guard.on("error", resolve);
    Readable.from(chunks.filter((c) => c.length > 0)).pipe(guard);
  });
  return { out: Buffer.concat(out), ...(err ? { err } : {}), checkedFirst };
}

describe("WideTextGuard, at every split point", () => {
  const wide = [Buffer.from('{"a":1}', "utf16le"), Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from("hi", "utf16le").swap16()]), Buffer.from([0x7b, 0, 0, 0, 0x7d, 0, 0, 0])];
  const narrow = [Buffer.from('{"a":"é"}'), Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), Buffer.from("x"), Buffer.alloc(0)];
  const splits = (b: Buffer): number[][] => [[], ...Array.from({ length: Math.max(0, b.length - 1) }, (_v, i) => [i + 1])];

  it.each(wide.map((b, i) => [i, b] as const))("wide body %i fails before a byte passes", async (_i, body) => {
    for (const cuts of splits(body)) {
      const r = await guarded(body, cuts);
      expect(r.err).toBeInstanceOf(WideTextError);
      expect(r.out.length).toBe(0);
    }
  });

  it.each(narrow.map((b, i) => [i, b] as const))("narrow body %i passes whole, 'checked' first", async (_i, body) => {
    for (const cuts of splits(body)) {
      const r = await guarded(body, cuts);
      expect(r.err).toBeUndefined();
      expect(r.out.equals(body)).toBe(true);
      expect(r.checkedFirst).toBe(true);
    }
  });
});
