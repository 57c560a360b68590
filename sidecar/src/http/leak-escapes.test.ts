import { describe, expect, it } from "vitest";
import { LeakGuard } from "./leak-guard.js";
import { decodedNeedles, secretForms } from "./scrub.js";

const TOKEN = "upstream-secret-Tok3n";
const needles = decodedNeedles(secretForms([TOKEN]));

/** The guard's output for `text` written `step` bytes at a time, and whether it found the credential. */
function guarded(text: string, step: number): { out: string; found: boolean } {
  const g = new LeakGuard(needles, false);
  const b = Buffer.from(text);
  const outs: Buffer[] = [];
  for (let i = 0; i < b.length; i += step) outs.push(g.write(b.subarray(i, i + step)));
  outs.push(g.end());
  return { out: Buffer.concat(outs).toString(), found: g.found };
}

const each = (f: (code: number) => string): string => [...TOKEN].map((c) => f(c.charCodeAt(0))).join("");

describe("JavaScript, Python and C escapes of the credential, as a client evaluating the text reads them", () => {
  it.each([
    ["\\u{…} (JavaScript)", each((c) => `\\u{${c.toString(16)}}`)],
    ["\\u{…} with leading zeros", each((c) => `\\u{0000000000${c.toString(16).toUpperCase()}}`)],
    ["octal \\NNN", each((c) => `\\${c.toString(8)}`)],
    ["octal, zero-padded where a digit follows", each((c) => `\\${c.toString(8).padStart(3, "0")}`)],
    ["one escape of each kind among plain bytes", "ups\\164ream-\\u{73}ecret-\\x54ok3n"],
  ])("%s is overwritten, however the bytes are cut", (_name, form) => {
    const text = `var t = "${form}";`;
    for (const step of [1, 2, 5, 4096]) {
      const r = guarded(text, step);
      expect(r.found, `step ${step}`).toBe(true);
      expect(r.out).not.toBe(text);
      expect(r.out.length).toBe(text.length);
    }
  });

  it.each([
    ["escapes that spell something else", "\\u{1F600} \\101\\102 \\0 \\8"],
    ["a Windows path", "C:\\new\\1\\temp"],
    ["\\u{…} that is not one (no digits, no brace, too large)", "\\u{} \\u{zz} \\u{41 \\u{110000}"],
    ["more leading zeros than an escape regate reads", "\\u{0000000000000000041}"],
  ])("must-allow: %s passes byte for byte", (_name, text) => {
    for (const step of [1, 4096]) {
      const r = guarded(text, step);
      expect(r.found).toBe(false);
      expect(r.out).toBe(text);
    }
  });
});
