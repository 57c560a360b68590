import { describe, expect, it } from "vitest";
import { LeakGuard, MAX_HELD } from "./leak-guard.js";
import { decodedNeedles, secretForms } from "./scrub.js";

const TOKEN = "tok+AbC/dEf0123456789xyz==";
const needles = decodedNeedles(secretForms([TOKEN]));
const bound = MAX_HELD;

/**
 * Feeds `head` then `fill` repeated to `total` bytes in `chunk`-byte writes; checks after each write that the
 * guard holds back at most `bound` bytes and has let everything before that go out.
 */
function feed(sse: boolean, head: string, fill: string, total: number, chunk: number): { out: Buffer; maxHeld: number } {
  const g = new LeakGuard(needles, sse);
  const piece = Buffer.from(fill.repeat(Math.ceil(chunk / fill.length)).slice(0, chunk));
  const outs: Buffer[] = [g.write(Buffer.from(head))];
  let fed = head.length;
  let sent = outs[0]!.length;
  let maxHeld = g.held;
  let lost = 0;
  while (fed < total) {
    const o = g.write(piece);
    outs.push(o);
    fed += piece.length;
    sent += o.length;
    maxHeld = Math.max(maxHeld, g.held);
    // expect() per write would cost more than the guard.
    if (sent + g.held !== fed) lost++;
  }
  expect(lost).toBe(0);
  outs.push(g.end());
  return { out: Buffer.concat(outs), maxHeld };
}

describe("LeakGuard: what it holds back stays bounded", () => {
  it.each([
    ["a possible first byte, then spaces", false, "t", " ", 5 << 20, 65536],
    ["an event ending in a possible first byte, then blank lines", true, "data: t\n", "\n", 5 << 20, 65536],
    ["blank lines one per write (an event per chunk)", true, "data: t\n", "\n", 200_000, 1],
    ["spaces as percent escapes (dropped by the second pass)", false, "t", "%20", 1 << 20, 65536],
  ])("%s", (_name, sse, head, fill, total, chunk) => {
    const { out, maxHeld } = feed(sse, head, fill, total, chunk);
    expect(maxHeld).toBeLessThanOrEqual(bound);
    // Nothing of the credential here: the body goes through byte for byte.
    expect(out.length).toBeGreaterThanOrEqual(total);
    expect(out.subarray(0, head.length).toString()).toBe(head);
  });

  it("still finds a form whose parts are apart by whitespace and blank lines within the bound", () => {
    for (const [sse, text] of [
      [false, `x tok+AbC/d${" ".repeat(300)}\r\n${" ".repeat(300)}Ef0123456789xyz== y`],
      [true, `data: tok+AbC/d\n${"\n".repeat(500)}data: Ef0123456789xyz==\n\n`],
    ] as const) {
      const bytes = Buffer.from(text);
      for (const step of [1, 7, 64]) {
        const g = new LeakGuard(needles, sse);
        const outs: Buffer[] = [];
        for (let i = 0; i < bytes.length; i += step) outs.push(g.write(bytes.subarray(i, i + step)));
        outs.push(g.end());
        const out = Buffer.concat(outs).toString();
        expect(out.length, `step ${step}`).toBe(text.length);
        expect(out.replace(/\s|data:/g, "")).not.toContain(TOKEN.slice(0, 8));
        expect(g.found).toBe(true);
      }
    }
  });

  it("a flood of JSON places whose values could start the credential: memory and held bytes stay bounded", () => {
    const g = new LeakGuard(needles, false);
    let fed = 0;
    let sent = 0;
    let maxHeld = 0;
    const out: Buffer[] = [];
    for (let c = 0; c < 80; c++) {
      // 80 chunks of 2000 distinct keys, each value ending in four bytes of the credential ("tok+").
      const chunk = Buffer.from(Array.from({ length: 2000 }, (_, i) => `{"k${c}_${i}":"x tok+"}\n`).join(""));
      const o = g.write(chunk);
      out.push(o);
      fed += chunk.length;
      sent += o.length;
      maxHeld = Math.max(maxHeld, g.held);
      expect(sent + g.held).toBe(fed);
    }
    out.push(g.end());
    expect(maxHeld).toBeLessThanOrEqual(bound);
    // Places past the most remembered are forgotten; a candidate they held is overwritten first, so some
    // "tok+" come out as "****": the body keeps its length and framing.
    const text = Buffer.concat(out).toString();
    expect(text.length).toBe(fed);
    expect(text.split("\n").filter(Boolean).every((l) => /^\{"k\d+_\d+":"x (tok\+|\*{4})"\}$/.test(l))).toBe(true);
  });
});

