import { describe, expect, it } from "vitest";
import type { MaskStrategy } from "../decision/types.js";
import { applyStrategy, hashValue, partialAscii, REDACTED, type MaskHint } from "./strategies.js";
import { maskText } from "./mask-text.js";

const KEY = Buffer.from("test-key-0123456789");

const CASES: [string, MaskStrategy, MaskHint | undefined, string | null][] = [
  ["alice@example.com", "redact", undefined, REDACTED],
  ["4111 1111 1111 1111", "redact", { kind: "card" }, REDACTED],
  ["alice@example.com", "null", undefined, null],
  ["alice@example.com", "partial", undefined, "***@example.com"],
  ["alice@example.com", "partial", { kind: "email" }, "***@example.com"],
  ["4111 1111 1111 1111", "partial", { kind: "card" }, "**** **** **** 1111"],
  ["4111111111111111", "partial", undefined, "************1111"],
  ["(415) 555-2671", "partial", { kind: "phone" }, "(***) ***-2671"],
  ["123-45-6789", "partial", { kind: "ssn" }, "***-**-6789"],
  ["1234", "partial", undefined, "****"], // too short to keep any digit
  ["GB82 WEST 1234 5698 7654 32", "partial", { kind: "iban" }, "GB****************5432"],
  ["AKIAIOSFODNN7EXAMPLE", "partial", { kind: "aws_key" }, REDACTED],
  ["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "partial", { kind: "secret" }, REDACTED],
  ["Alice Smith", "partial", undefined, "A***h"],
  ["Bob", "partial", undefined, REDACTED],
  ["😀abcde😀", "partial", undefined, "😀***😀"],
];

describe("applyStrategy", () => {
  it.each(CASES)("%j %s %j", (value, strategy, hint, expected) => {
    expect(applyStrategy(value, strategy, hint, KEY)).toBe(expected);
  });

  it("hash is keyed, stable and short", () => {
    const a = applyStrategy("alice@example.com", "hash", undefined, KEY);
    expect(a).toMatch(/^h:[0-9a-f]{16}$/);
    expect(applyStrategy("alice@example.com", "hash", undefined, KEY)).toBe(a);
    expect(applyStrategy("bob@example.com", "hash", undefined, KEY)).not.toBe(a);
    expect(applyStrategy("alice@example.com", "hash", undefined, Buffer.from("other"))).not.toBe(a);
    // Without a key: a per-process key, still stable within the process.
    expect(hashValue("x")).toBe(hashValue("x"));
    expect(hashValue("x")).not.toBe(hashValue("x", KEY));
  });

  it("an unknown strategy fails closed", () => {
    expect(applyStrategy("secret", "bogus" as MaskStrategy)).toBe(REDACTED);
  });
});

describe("maskText", () => {
  const text = "Customer alice@example.com, card 4111 1111 1111 1111, order 4111111111111112";

  it.each([
    ["redact", `Customer ${REDACTED}, card ${REDACTED}, order 4111111111111112`],
    ["partial", "Customer ***@example.com, card **** **** **** 1111, order 4111111111111112"],
    ["null", null],
  ] as [MaskStrategy, string | null][])("%s", (strategy, expected) => {
    expect(maskText(text, ["email", "card"], strategy, KEY)).toBe(expected);
  });

  it("hash replaces each value by its pseudonym", () => {
    const out = maskText("a alice@example.com b", ["email"], "hash", KEY);
    expect(out).toBe(`a ${hashValue("alice@example.com", KEY)} b`);
  });

  it("returns the very same string when nothing is detected", () => {
    const clean = "nothing to see here 2024-01-15";
    expect(maskText(clean, ["email", "card", "phone", "ssn"], "null")).toBe(clean);
  });
});

describe("partialAscii (DataRow fast path)", () => {
  // Byte for byte what applyStrategy(value, "partial") gives, whenever it answers; it must answer for the common shapes.
  const alphabet = ["a", "Z", "0", "7", "@", ".", "-", "+", "(", ")", " ", "\t", "_", "x", "9", "DE", "GB"];
  const shapes = ["ada@example.org", "+1 (555) 010-0199", "4111 1111 1111 1111", "123-45-6789", "Ada Lovelace", "ab", "abcde", "DE44500105175407324931", "GB82 WEST 1234 5698 7654 32", "a@b", "@x.org", "x@", "a@b@c", "   ", "12@34", "1234567", "12345678"];
  const random = (seed: number) => {
    let x = seed;
    const next = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x);
    const n = next() % 30;
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[next() % alphabet.length];
    return s;
  };
  it.each(shapes)("%s", (s) => {
    const fast = partialAscii(Buffer.from(s), 0, Buffer.byteLength(s));
    if (fast) expect(fast.toString("utf8")).toBe(applyStrategy(s, "partial"));
  });
  it("agrees with applyStrategy on 20,000 generated values, inside a larger buffer", () => {
    let answered = 0;
    for (let seed = 1; seed <= 20_000; seed++) {
      const s = random(seed);
      const buf = Buffer.from(`xx${s}yy`);
      const fast = partialAscii(buf, 2, Buffer.byteLength(s));
      if (!fast) continue;
      answered++;
      expect(fast.toString("utf8"), JSON.stringify(s)).toBe(applyStrategy(s, "partial"));
    }
    expect(answered).toBeGreaterThan(15_000);
  });
  it("answers the common shapes and leaves non-ASCII and IBAN-like values to the string path", () => {
    for (const s of ["ada@example.org", "+1 (555) 010-0199", "Ada Lovelace"]) expect(partialAscii(Buffer.from(s), 0, s.length)).toBeDefined();
    expect(partialAscii(Buffer.from("José"), 0, Buffer.byteLength("José"))).toBeUndefined();
    expect(partialAscii(Buffer.from("DE44500105175407324931"), 0, 22)).toBeUndefined();
  });
});
