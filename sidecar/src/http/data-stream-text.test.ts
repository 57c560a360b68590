import { describe, expect, it } from "vitest";
import { ResponseMasker } from "./masker.js";
import { maskDataStreamText } from "./data-stream-text.js";

const emailOnly = ResponseMasker.from([{ detector: "email", strategy: "redact" }])!;
const all = ResponseMasker.from((["ssn", "card", "email", "phone", "iban", "aws_key", "jwt", "secret"] as const).map((detector) => ({ detector, strategy: "redact" as const })))!;

describe("the Vercel AI SDK data stream, read whole", () => {
  it("a body of many text parts that may all be one match costs linear time, not a rescan per part", () => {
    // 24k parts of `0:"12"`: each add() rescanned everything held (a digit run may be an email's local part),
    // about 40 s before; read once at the end it takes a fraction of a second. The bound is generous for a slow machine.
    const body = `f:{"messageId":"m"}\n${'0:"12"\n'.repeat(24_000)}d:{"finishReason":"stop"}\n`;
    const started = performance.now();
    const out = maskDataStreamText(body, emailOnly);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(out).toBeUndefined();
  });

  it("a value cut across text parts is masked once, whole", () => {
    const body = ['f:{"messageId":"m"}', '0:"Mail jane"', '0:".doe@exam"', '0:"ple.com or SSN 607-"', '0:"59-5353 ok"', 'd:{"finishReason":"stop"}', ""].join("\n");
    const text = maskDataStreamText(body, all)!
      .split("\n")
      .filter((l) => l.startsWith("0:"))
      .map((l) => JSON.parse(l.slice(2)) as string)
      .join("");
    expect(text).toBe("Mail **** or SSN **** ok");
  });

  it("many emails over many parts cost linear time", () => {
    const body = `${'0:"a1@x.io "\n'.repeat(20_000)}`;
    const started = performance.now();
    const out = maskDataStreamText(body, emailOnly)!;
    expect(performance.now() - started).toBeLessThan(3000);
    expect(out.split("\n")[19_999]).toBe('0:"**** "');
  });
});
