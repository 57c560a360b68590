import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { REDACTED } from "../mask/index.js";
import { ResponseMasker } from "./masker.js";
import { SseMasker } from "./sse-mask.js";
import { hasOtherBreak, maskAcrossBreaks, maskUnreadLine, unreadLine } from "./sse-unread-line.js";

const SSN = "123-45-6789";
const run = (input: string, rules: MaskRule[]): Promise<string> => {
  const m = ResponseMasker.from(rules)!;
  return text(Readable.from([Buffer.from(input)]).pipe(new SseMasker((d) => m.maskEventData(d), 1 << 20)));
};
const FIELDS: MaskRule[] = [{ field: "ssn", strategy: "redact" }];
const DETECT: MaskRule[] = [{ detector: "ssn", strategy: "redact" }];

describe("lines no SSE client reads", () => {
  it.each([
    ["a bare JSON document", `{"ssn":"${SSN}"}`, true],
    ["a field name holding a value", `${SSN}: x`, true],
    ["an unknown field", "x-debug: 1", true],
    ["a field name alone", "foo", true],
    ["a field SSE names with another case", "Data: 1", true],
    ["a comment", `: ${SSN}`, false],
    ["event, id, retry, data", "event: x", false],
    ["an id with no colon", "id", false],
    ["a data line behind the stream's byte order mark", "\ufeffdata: 1", false],
  ])("%s: %s", (_name, line, unread) => {
    expect(unreadLine(line)).toBe(unread);
  });

  it("a JSON document on such a line is masked whole under field rules", async () => {
    expect(await run(`{"ssn":"${SSN}","n":1}\n\n`, FIELDS)).toBe(`{"ssn":"${REDACTED}","n":1}\n\n`);
  });

  it("a value in the name is masked under detector rules", async () => {
    expect(await run(`${SSN}: x\ndata: 1\n\n`, DETECT)).toBe(`${REDACTED}: x\ndata: 1\n\n`);
  });

  it("masked to nothing, the line is left out rather than ending the event early", async () => {
    expect(await run(`${SSN}\ndata: 1\n\n`, [{ detector: "ssn", strategy: "null" }])).toBe("data: 1\n\n");
  });

  it("a mask that would turn it into a field SSE clients read, or into two lines, refuses it", () => {
    expect(() => maskUnreadLine("x-a: 1", () => "data: 1")).toThrow(/cannot be masked/);
    expect(() => maskUnreadLine("x-a: 1", () => "a\nb")).toThrow(/cannot be masked/);
    expect(maskUnreadLine("x-a: 1", () => ": 1")).toBe(": 1");
  });

  it.each(["\u2028", "\u2029", "\x85", "\v", "\f", "\x1c", "\x1d", "\x1e"])("a document after %j (a Python str.splitlines() break) in an event name or comment is masked", async (br) => {
    const input = `event: x${br}{"ssn":"${SSN}"}\n: c${br}{"ssn":"${SSN}"}${br}\ndata: {}\n\n`;
    expect(hasOtherBreak(input)).toBe(true);
    expect(await run(input, FIELDS)).toBe(input.replaceAll(SSN, REDACTED));
  });

  it("the part before the first break is read as SSE reads it; a masked part that needs a line break refuses", () => {
    expect(maskAcrossBreaks("id: 1\u2028a\u2028", (l) => `<${l}>`, (t) => t.toUpperCase())).toBe("<id: 1>\u2028A\u2028");
    expect(() => maskAcrossBreaks("id: 1\u2028a", (l) => l, () => "x\ny")).toThrow(/cannot be masked/);
  });

  it("must-allow: known fields and comments keep their value-only masking", async () => {
    const input = `: ping\n\nevent: message\nid: 7\nretry: 100\ndata: {"ssn":"${SSN}"}\n\ndata: [DONE]\n\n`;
    expect(await run(input, FIELDS)).toBe(input.replace(SSN, REDACTED));
  });
});
