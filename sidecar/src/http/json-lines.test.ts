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

describe("JsonLinesMasker joins Ollama deltas under detectors", () => {
  const SSN = ResponseMasker.from([{ detector: "ssn", strategy: "redact" }])!;
  const line = (content: string, done = false): string => `${JSON.stringify({ model: "llama3.2", created_at: "2024-08-04T08:52:19.385406455-07:00", message: { role: "assistant", content }, done })}\n`;
  const joined = (out: string): string =>
    out
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => (JSON.parse(l) as { message: { content: string } }).message.content)
      .join("");

  it("an SSN cut across lines is masked part by part, every line still a document", async () => {
    const body = Buffer.from(line("SSN 607-5") + line("9-53") + line("53 on file") + line("", true));
    for (const cut of everyCut(body)) {
      const { out, err } = await run(SSN, body, cut);
      expect(err).toBeUndefined();
      expect(joined(out)).toBe(`SSN ${REDACTED} on file`);
    }
  });

  it("a line that may start a value waits at most the bound, then goes out with that part masked", async () => {
    const stream = new JsonLinesMasker(SSN, { holdChars: 0, maxLineChars: 1024, maxHoldMs: 30 });
    const out: string[] = [];
    stream.on("data", (d: Buffer) => out.push(d.toString()));
    stream.write(Buffer.from(line("SSN 607-59")));
    expect(out).toEqual([]);
    await new Promise((r) => setTimeout(r, 80));
    expect(joined(out.join(""))).toBe(`SSN ${REDACTED}`);
    stream.end(Buffer.from(line("-5353 on file", true)));
    await new Promise((r) => stream.on("end", r).resume());
    expect(joined(out.join(""))).not.toContain("5353");
  });
});
