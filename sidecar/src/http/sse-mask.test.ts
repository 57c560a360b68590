import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { REDACTED } from "../mask/index.js";
import type { MaskRule } from "../decision/types.js";
import { ResponseMasker } from "./masker.js";
import { SseMasker } from "./sse-mask.js";
import { streamJoinsFor } from "./stream-joins.js";

const upper = (d: string): string => d.toUpperCase();

async function run(chunks: (string | Buffer)[], mask = upper, max = 1 << 20): Promise<string> {
  return text(Readable.from(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c))).pipe(new SseMasker(mask, max)));
}

const STREAM = ": keepalive\n\nevent: message\nid: 7\ndata: {\"a\":\"é\"}\n\ndata: line1\ndata: line2\nretry: 10\n\n";
const EXPECTED = ": KEEPALIVE\n\nevent: MESSAGE\nid: 7\ndata: {\"A\":\"É\"}\n\ndata: LINE1\ndata: LINE2\nretry: 10\n\n";

describe("SseMasker", () => {
  it("masks the data of each event, and every other line as data, in order", async () => {
    expect(await run([STREAM])).toBe(EXPECTED);
  });

  it("gives the same output for every split point (including inside a UTF-8 character)", async () => {
    const bytes = Buffer.from(STREAM);
    for (let i = 1; i < bytes.length; i++) {
      expect(await run([bytes.subarray(0, i), bytes.subarray(i)]), `split at ${i}`).toBe(EXPECTED);
    }
  });

  it("handles CRLF and CR line endings, also split between CR and LF, and writes each line's own back", async () => {
    expect(await run(["data: a\r", "\n\r\ndata: b\r\r"])).toBe("data: A\r\n\r\ndata: B\r\r");
  });

  it("flushes an unterminated last event, as unterminated as it came", async () => {
    expect(await run(["data: x\n\ndata: tail"])).toBe("data: X\n\ndata: TAIL");
  });

  describe("must-allow: lines no mask changes come back byte for byte, at every split point", () => {
    const same = (d: string): string => d;
    it.each([
      ["CRLF", 'event: message\r\nid: 7\r\ndata: {"a":1}\r\ndata:no-space\r\n\r\n: ping\r\n\r\n'],
      ["CR", 'event: message\rid: 7\rdata: {"a":1}\r\r: ping\r\r'],
      ["mixed, data between other fields, an unterminated tail", 'data: a\r\nid: 1\ndata: b\r\r\nretry: 5\rdata: tail'],
    ])("%s", async (_name, stream) => {
      const bytes = Buffer.from(stream);
      expect(await run([bytes], same)).toBe(stream);
      for (let i = 1; i < bytes.length; i++) expect(await run([bytes.subarray(0, i), bytes.subarray(i)], same), `split at ${i}`).toBe(stream);
    });

    it("a masked event takes its data lines' breaks; the events around it keep theirs", async () => {
      const mask = (d: string): string => d.replace("secret", "[x]");
      expect(await run(["data: a\r\n\r\ndata: one\r\ndata: secret\r\nid: 2\r\n\r\ndata: b\r\r"], mask)).toBe("data: a\r\n\r\ndata: one\r\ndata: [x]\r\nid: 2\r\n\r\ndata: b\r\r");
    });
  });

  it("writes each event as soon as it is complete", async () => {
    const masker = new SseMasker(upper, 1 << 20);
    const out: string[] = [];
    masker.on("data", (c: Buffer) => out.push(c.toString()));
    masker.write("data: one\n\ndata: tw");
    await new Promise((r) => setImmediate(r));
    expect(out.join("")).toBe("data: ONE\n\n");
    masker.end("o\n\n");
    await new Promise((r) => masker.on("end", r));
    expect(out.join("")).toBe("data: ONE\n\ndata: TWO\n\n");
  });

  it("multi-line masked data becomes several data lines; empty data stays", async () => {
    expect(await run(["data\n\n"], () => "")).toBe("data\n\n");
    expect(await run(["data: x\n\n"], () => "a\nb")).toBe("data: a\ndata: b\n\n");
  });

  it.each([
    ["a comment", ": note alice@example.com\n\n", ": note [email]\n\n"],
    ["an event name", "event: alice@example.com\ndata: x\n\n", "event: [email]\ndata: x\n\n"],
    ["an id", "id: alice@example.com\n\n", "id: [email]\n\n"],
    ["an unknown field", "x-debug:alice@example.com\n\n", "x-debug:[email]\n\n"],
    ["a field name alone", "alice@example.com\n\n", "[email]\n\n"],
  ])("masks %s", async (_name, input, expected) => {
    const email = (d: string): string => d.replace(/[\w.]+@[\w.]+/g, "[email]");
    expect(await run([input], email)).toBe(expected);
  });

  it("refuses a non-data line whose masked value needs a line break", async () => {
    await expect(run(["event: x\n\n"], () => "a\nb")).rejects.toThrow(/cannot be masked/);
  });

  it("fails the stream when an event exceeds the cap", async () => {
    await expect(run([`data: ${"x".repeat(100)}`, "x".repeat(100)], upper, 150)).rejects.toThrow(/too large/);
    await expect(run(["data: 1\n".repeat(50)], upper, 100)).rejects.toThrow(/too large/);
  });

  it("refuses a non-data line whose masked value is not a JSON string", async () => {
    await expect(run(["id: 1\n\n"], () => "{}")).rejects.toThrow(/cannot be masked/);
  });
});

/** Everything the masker writes, and how it ended: "end", or the error that cut it. */
async function collect(chunks: string[], masker: SseMasker): Promise<{ out: string; ended: string }> {
  let out = "";
  masker.on("data", (c: Buffer) => (out += c.toString()));
  const ended = new Promise<string>((resolve) => {
    masker.on("end", () => resolve("end"));
    masker.on("error", (e: Error) => resolve(e.message));
  });
  for (const c of chunks) masker.write(Buffer.from(c));
  masker.end();
  return { out, ended: await ended };
}

describe("SseMasker with a ResponseMasker", () => {
  const SSN = "123-45-6789";
  const sse = (rules: MaskRule[]): SseMasker => {
    const m = ResponseMasker.from(rules)!;
    return new SseMasker((d) => m.maskEventData(d), 1 << 20);
  };
  const FIELDS: MaskRule[] = [{ field: "ssn", strategy: "redact" }];

  it.each([
    ["key=value data", `data: ssn=${SSN}\n\n`],
    ["broken JSON data", `data: {"ssn":"${SSN}"\n\n`],
    ["a document split across events", `data: {"ssn":\n\ndata: "${SSN}"}\n\n`],
    ["a document split across data lines of one event", `data: {"a":1}\ndata: ssn=${SSN}\n\n`],
    ["an unterminated last event", `data: ssn=${SSN}`],
  ])("under field rules, refuses %s: an error event, then the stream is cut", async (_name, input) => {
    const { out, ended } = await collect([`data: {"ok":1}\n\n`, input, `data: {"after":1}\n\n`], sse(FIELDS));
    expect(out).not.toContain(SSN);
    expect(out.startsWith(`data: {"ok":1}\n\nevent: error\ndata: {"error":"mask_failed","code":"MASK_LINEAGE_UNKNOWN"`)).toBe(true);
    expect(out).not.toContain("after");
    expect(ended).toMatch(/not a JSON document/);
  });

  it("under field rules, passes JSON data masked, [DONE], keep-alives and ordinary event lines", async () => {
    const input = `: ping\n\nevent: message\nid: 7\nretry: 100\ndata: {"ssn":"${SSN}","n":1}\n\ndata\n\ndata: [DONE]\n\n`;
    const { out, ended } = await collect([input], sse(FIELDS));
    expect(ended).toBe("end");
    expect(out).toBe(`: ping\n\nevent: message\nid: 7\nretry: 100\ndata: {"ssn":"${REDACTED}","n":1}\n\ndata\n\ndata: [DONE]\n\n`);
  });

  it("masks JSON carried in a non-data line with field rules, and text in it with detectors", async () => {
    const input = `id: {"ssn":"${SSN}"}\n: note ${SSN}\ndata: {}\n\n`;
    expect((await collect([input], sse(FIELDS))).out).toBe(`id: {"ssn":"${REDACTED}"}\n: note ${SSN}\ndata: {}\n\n`);
    expect((await collect([input], sse([{ detector: "ssn", strategy: "redact" }]))).out).toBe(`id: {"ssn":"${REDACTED}"}\n: note ${REDACTED}\ndata: {}\n\n`);
  });

  it("under field rules, passes MCP's endpoint event (a URL, not a document), masked as text", async () => {
    const input = `event: endpoint\ndata: /messages?session_id=abc\n\ndata: {"ssn":"${SSN}"}\n\n`;
    const fields = await collect([input], sse(FIELDS));
    expect(fields.ended).toBe("end");
    expect(fields.out).toBe(`event: endpoint\ndata: /messages?session_id=abc\n\ndata: {"ssn":"${REDACTED}"}\n\n`);
    const detected = await collect([`event: endpoint\ndata: /messages?ssn=${SSN}\n\n`], sse([...FIELDS, { detector: "ssn", strategy: "redact" }]));
    expect(detected.out).toBe(`event: endpoint\ndata: /messages?ssn=${REDACTED}\n\n`);
  });

  it("a null strategy empties a non-data line's value", async () => {
    expect((await collect([`id: ${SSN}\ndata: 1\n\n`], sse([{ detector: "ssn", strategy: "null" }]))).out).toBe("id: \ndata: 1\n\n");
  });

  it("with detector rules only, text data is masked as text", async () => {
    const { out, ended } = await collect([`data: ssn=${SSN}\n\n`], sse([{ detector: "ssn", strategy: "redact" }]));
    expect(ended).toBe("end");
    expect(out).toBe(`data: ssn=${REDACTED}\n\n`);
  });

  it("refuses JSON embedded deeper than regate masks", async () => {
    const nest = (v: unknown, n: number): unknown => (n === 0 ? v : { d: JSON.stringify(nest(v, n - 1)) });
    const { out, ended } = await collect([`data: ${JSON.stringify(nest({ ssn: SSN }, 4))}\n\n`], sse(FIELDS));
    expect(out).not.toContain(SSN);
    expect(out).toContain("event: error");
    expect(ended).toMatch(/embedded in strings deeper/);
  });
});

describe("SseMasker cost", () => {
  it("searches each character of a long unterminated line once, however it is chunked", async () => {
    const masker = new SseMasker(upper, 4 << 20);
    const done = text(masker);
    masker.write("data: ");
    const piece = "a".repeat(1024);
    for (let i = 0; i < 1024; i++) masker.write(piece);
    masker.end("\n\n");
    expect(await done).toBe(`data: ${"A".repeat(1 << 20)}\n\n`);
    expect(masker.scanned).toBeLessThanOrEqual((1 << 20) + 8 + 2);
  });

  it("pushes the events of one chunk as one chunk, not one per event", async () => {
    const masker = new SseMasker(upper, 1 << 20);
    const out: string[] = [];
    masker.on("data", (c: Buffer) => out.push(c.toString()));
    masker.end(`data: x\n${"\n".repeat(1000)}`);
    await new Promise((r) => masker.on("end", r));
    expect(out.join("")).toBe(`data: X\n${"\n".repeat(1000)}`);
    expect(out.length).toBe(1);
  });
});

describe("SseMasker joins deltas under detectors", () => {
  const m = ResponseMasker.from([{ detector: "ssn", strategy: "redact" }])!;
  const chunk = (content: string): string => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;

  it("holds an event that may start a value until the bound, then masks that part", async () => {
    const masker = new SseMasker((d) => m.maskEventData(d), 1 << 20, streamJoinsFor(m), { maxHoldMs: 30 });
    let out = "";
    masker.on("data", (c: Buffer) => (out += c.toString()));
    masker.write(Buffer.from(chunk("Hello ") + chunk("SSN 607-59")));
    expect(out).toBe(chunk("Hello "));
    await new Promise((r) => setTimeout(r, 80));
    expect(out).toBe(chunk("Hello ") + chunk(`SSN ${REDACTED}`));
    masker.end(Buffer.from(chunk("-5353.") + "data: [DONE]\n\n"));
    await new Promise((r) => masker.on("end", r));
    expect(out).not.toContain("5353");
    expect(out.endsWith("data: [DONE]\n\n")).toBe(true);
  });
});

describe("SseMasker joins data that is one JSON string", () => {
  it("as a client that parses each event's data appends it", async () => {
    const m = ResponseMasker.from([{ detector: "ssn", strategy: "redact" }])!;
    const masker = new SseMasker((d) => m.maskEventData(d), 1 << 20, streamJoinsFor(m));
    const { out } = await collect(['data: "SSN 607-5"\n\n', 'data: "9-5353 ok"\n\n'], masker);
    const joined = out
      .split("\n\n")
      .filter((e) => e !== "")
      .map((e) => JSON.parse(e.slice(6)) as string)
      .join("");
    expect(joined).toBe(`SSN ${REDACTED} ok`);
  });
});
