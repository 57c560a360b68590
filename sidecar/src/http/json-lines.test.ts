import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { REDACTED } from "../mask/index.js";
import { isJsonLines, JsonLinesMasker } from "./json-lines.js";
import { ResponseMasker } from "./masker.js";

const FIELDS = ResponseMasker.from([{ field: "ssn", strategy: "redact" }])!;
const DETECT = ResponseMasker.from([{ detector: "email", strategy: "redact" }])!;

async function run(masker: ResponseMasker, body: Buffer, cut: number, holdChars = 0): Promise<{ out: string; err?: Error }> {
  const stream = new JsonLinesMasker(masker, { holdChars, maxLineChars: 1024 });
  const out: Buffer[] = [];
  stream.on("data", (d: Buffer) => out.push(d));
  const err = await new Promise<Error | undefined>((resolve) => {
    stream.on("end", () => resolve(undefined));
    stream.on("error", resolve);
    Readable.from([body.subarray(0, cut), body.subarray(cut)].filter((c) => c.length > 0)).pipe(stream);
  });
  return { out: Buffer.concat(out).toString("utf8"), ...(err ? { err } : {}) };
}

const everyCut = (b: Buffer): number[] => Array.from({ length: b.length + 1 }, (_v, i) => i);

describe("JsonLinesMasker, the body cut at every byte", () => {
  it.each([
    ["NDJSON", FIELDS, '{"ssn":"1"}\n{"n":12345678901234567890,"é":"ü"}\n', `{"ssn":"${REDACTED}"}\n{"n":12345678901234567890,"é":"ü"}\n`],
    ["CRLF and blank lines", FIELDS, '{"ssn":"1"}\r\n\r\n  \n{"a":[]}', `{"ssn":"${REDACTED}"}\r\n\r\n  \n{"a":[]}`],
    ["a JSON text sequence", FIELDS, '\x1e{"ssn":"1"}\n\x1e"x"\n', `\x1e{"ssn":"${REDACTED}"}\n\x1e"x"\n`],
    ["detectors in text lines", DETECT, 'a@example.com\n{"e":"b\\u0040example.com"}\n', `${REDACTED}\n{"e":"${REDACTED}"}\n`],
  ])("%s", async (_name, masker, body, expected) => {
    const bytes = Buffer.from(body);
    for (const cut of everyCut(bytes)) expect((await run(masker, bytes, cut)).out).toBe(expected);
  });

  it.each([
    ["a text line under field rules", '{"a":1}\nssn=123\n'],
    ["a broken document", '{"ssn":"1"\n'],
    ["invalid UTF-8", '{"a":"\xff"}\n'],
  ])("%s fails the stream", async (_name, body) => {
    const bytes = Buffer.from(body, "latin1");
    for (const cut of everyCut(bytes)) expect((await run(FIELDS, bytes, cut, 1 << 16)).err).toBeDefined();
  });

  it("a line longer than the cap fails", async () => {
    const r = await run(FIELDS, Buffer.from(`{"a":"${"x".repeat(2000)}"}\n`), 1500);
    expect(r.err?.message).toContain("longer than regate masks");
  });
});

describe("isJsonLines", () => {
  it.each([
    ["application/x-ndjson", "application/x-ndjson", true],
    ["application/json-seq", "application/json-seq", true],
    ["application/json", "application/json;stream=watch", true],
    ["application/json", 'application/json; charset=utf-8; stream="watch"', true],
    ["application/json", "application/json", false],
    ["application/json", "application/json; stream=watchers", false],
    ["text/plain", "text/plain;stream=watch", false],
    [undefined, undefined, false],
  ])("%s (%s): %s", (type, contentType, expected) => {
    expect(isJsonLines(type, contentType)).toBe(expected);
  });
});
