import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { SseMasker } from "./sse-mask.js";

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

  it("handles CRLF and CR line endings, also split between CR and LF", async () => {
    expect(await run(["data: a\r", "\n\r\ndata: b\r\r"])).toBe("data: A\n\ndata: B\n\n");
  });

  it("flushes an unterminated last event", async () => {
    expect(await run(["data: x\n\ndata: tail"])).toBe("data: X\n\ndata: TAIL\n");
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
    expect(await run(["data\n\n"], () => "")).toBe("data: \n\n");
    expect(await run(["data: x\n\n"], () => "a\nb")).toBe("data: a\ndata: b\n\n");
  });

  it.each([
    ["a comment", ": note alice@example.com\n\n", ": note [email]\n\n"],
    ["an event name", "event: alice@example.com\ndata: x\n\n", "event: [email]\ndata: x\n\n"],
    ["an id", "id: alice@example.com\n\n", "id: [email]\n\n"],
    ["an unknown field", "x-debug:alice@example.com\n\n", "x-debug:[email]\n\n"],
    ["a field name alone", "alice@example.com\n\n", "[email]\n\n"],
  ])("masks %s", async (_name, input, expected) => {
    const email = (d: string): string => d.replace(/\S+@\S+/g, "[email]");
    expect(await run([input], email)).toBe(expected);
  });

  it("refuses a non-data line whose masked value needs a line break", async () => {
    await expect(run(["event: x\n\n"], () => "a\nb")).rejects.toThrow(/cannot be masked/);
  });

  it("fails the stream when an event exceeds the cap", async () => {
    await expect(run([`data: ${"x".repeat(100)}`, "x".repeat(100)], upper, 150)).rejects.toThrow(/too large/);
    await expect(run(["data: 1\n".repeat(50)], upper, 100)).rejects.toThrow(/too large/);
  });
});
