import { describe, expect, it } from "vitest";
import type { DetectorName } from "../decision/types.js";
import { findMatches } from "./detectors.js";
import { luhnValid } from "./checksums.js";

const b64url = (s: string): string => Buffer.from(s).toString("base64url");
const JWT = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url('{"sub":"1234567890"}')}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`;
const JWT_NO_ALG = `${b64url('{"typ":"JWT"}')}.${b64url('{"sub":"1"}')}.abc`;

// [detector, text, expected matched substrings]
const CASES: [DetectorName, string, string[]][] = [
  // email
  ["email", "contact alice@example.com today", ["alice@example.com"]],
  ["email", "<first.last+tag@sub.example.co.uk>", ["first.last+tag@sub.example.co.uk"]],
  ["email", "a@b.io, c@d.org.", ["a@b.io", "c@d.org"]],
  ["email", "alice@localhost", []],
  ["email", "@example.com and user@ and a@b.c", []],
  // A local part is at most 64 characters (RFC 5321); none is read inside a longer run.
  ["email", `${"a".repeat(64)}@example.com`, [`${"a".repeat(64)}@example.com`]],
  ["email", `${"1".repeat(65)}@example.com`, []],
  // card (Luhn + issuer prefix)
  ["card", "card 4111 1111 1111 1111 exp", ["4111 1111 1111 1111"]],
  ["card", "5500-0000-0000-0004", ["5500-0000-0000-0004"]],
  ["card", "amex 378282246310005", ["378282246310005"]],
  ["card", "6011111111111117", ["6011111111111117"]],
  ["card", "ref 1234 4111 1111 1111 1111 end", ["4111 1111 1111 1111"]],
  ["card", "4111 1111 1111 1111 2024", ["4111 1111 1111 1111"]],
  ["card", "two: 4111111111111111 5500000000000004", ["4111111111111111", "5500000000000004"]],
  ["card", "order 4111111111111112", []], // fails Luhn: an order id
  ["card", "0000000000000000", []], // passes Luhn but no issuer starts with 0
  ["card", "ts 1700000000123456789", []],
  ["card", "phone 415-555-2671", []],
  // Digits of a UUID that pass Luhn (1 random UUID in ~700) are the id, not a card.
  ["card", "session d055efc3-3d86-4322-9401-814896b0a5d3", []],
  ["card", "/orders/D055EFC3-3D86-4322-9401-814896B0A5D3/items", []],
  ["card", "ord-d055efc3-3d86-4322-9401-814896b0a5d3", []],
  ["card", "glued to hex: deadbeef4111111111111111cafebabe0123", ["4111111111111111"]],
  ["card", "id:4111111111111111 uuid d055efc3-3d86-4322-9401-814896b0a5d3", ["4111111111111111"]],
  ["card", "card:4111111111111111abc", ["4111111111111111"]],
  ["card", "4111-1111-1111-1111-abcd", ["4111-1111-1111-1111"]],
  // ssn
  ["ssn", "ssn 123-45-6789.", ["123-45-6789"]],
  ["ssn", "123 45 6789", ["123 45 6789"]],
  ["ssn", "000-12-3456 666-12-3456 912-34-5678", []],
  ["ssn", "123-00-4567 123-45-0000", []],
  ["ssn", "123-45 6789 and 123456789", []],
  ["ssn", "2024-01-15", []],
  // phone
  ["phone", "call +14155552671 now", ["+14155552671"]],
  ["phone", "+1 415 555 2671", ["+1 415 555 2671"]],
  ["phone", "(415) 555-2671", ["(415) 555-2671"]],
  ["phone", "tel: 415-555-2671, 415.555.2671", ["415-555-2671", "415.555.2671"]],
  ["phone", "+1 (415) 555-2671", ["+1 (415) 555-2671"]],
  ["phone", "+44 20 7946 0958", ["+44 20 7946 0958"]],
  ["phone", "on 2024-01-15 at 12:30:45", []],
  ["phone", "order 4155552671", []],
  ["phone", "id 100234567890123", []],
  ["phone", "4111 1111 1111 1111", []],
  ["phone", "192.168.100.200 v1.2.3", []],
  ["phone", "123-45-6789", []],
  // iban
  ["iban", "pay GB82 WEST 1234 5698 7654 32 please", ["GB82 WEST 1234 5698 7654 32"]],
  ["iban", "DE89370400440532013000", ["DE89370400440532013000"]],
  ["iban", "NL91ABNA0417164300 OK THEN", ["NL91ABNA0417164300"]],
  ["iban", "FR14 2004 1010 0505 0001 3M02 606", ["FR14 2004 1010 0505 0001 3M02 606"]],
  ["iban", "GB82 WEST 1234 5698 7654 33", []],
  ["iban", "AB12 CDEF GHIJ KLMN", []],
  // aws_key
  ["aws_key", "key=AKIAIOSFODNN7EXAMPLE;", ["AKIAIOSFODNN7EXAMPLE"]],
  ["aws_key", "ASIAY34FZKBOKMUTVV7A", ["ASIAY34FZKBOKMUTVV7A"]],
  ["aws_key", "AKIAIOSFODNN7EXAMPL XAKIAIOSFODNN7EXAMPLE akiaiosfodnn7example", []],
  // jwt
  ["jwt", `Bearer ${JWT}.`, [JWT]],
  ["jwt", JWT_NO_ALG, []],
  ["jwt", "eyJ.not.a.token and eyJhbGciOiJIUzI1NiJ9", []],
  // secret
  ["secret", "STRIPE=sk_live_4eC39HqLyjWDarjtT1zdp7dc", ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"]],
  ["secret", `token ghp_${"a1B2".repeat(9)} x`, [`ghp_${"a1B2".repeat(9)}`]],
  ["secret", "xoxb-1234567890-abcdefghij", ["xoxb-1234567890-abcdefghij"]],
  ["secret", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", ["-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"]],
  ["secret", "sk_live_short skiing ghp_tooshort", []],
];

describe("findMatches", () => {
  it.each(CASES)("%s in %j", (detector, text, expected) => {
    const found = findMatches(text, [detector]).map((m) => text.slice(m.start, m.end));
    expect(found).toEqual(expected);
  });

  it("the false-positive card sample really fails Luhn", () => {
    expect(luhnValid("4111111111111112")).toBe(false);
    expect(luhnValid("4111111111111111")).toBe(true);
  });

  it("runs several detectors, sorted and labelled", () => {
    const text = "alice@example.com paid with 4111 1111 1111 1111, ssn 123-45-6789";
    const found = findMatches(text, ["ssn", "card", "email"]);
    expect(found.map((m) => [m.detector, text.slice(m.start, m.end)])).toEqual([
      ["email", "alice@example.com"],
      ["card", "4111 1111 1111 1111"],
      ["ssn", "123-45-6789"],
    ]);
  });

  it("merges overlapping spans so no part of a value stays readable", () => {
    // The card ends inside the email: one span, named after the longer detection.
    const found = findMatches("x 4111111111111111@example.com", ["card", "email"]);
    expect(found).toEqual([{ detector: "email", start: 2, end: 30 }]);
  });

  it("returns nothing for empty text or no detectors", () => {
    expect(findMatches("", ["email", "card"])).toEqual([]);
    expect(findMatches("alice@example.com", [])).toEqual([]);
  });

  it("stays linear on long adversarial input", () => {
    const long = "a".repeat(200_000) + " " + "1 ".repeat(100_000) + "x@".repeat(50_000);
    const t0 = performance.now();
    findMatches(long, ["email", "card", "ssn", "phone", "iban", "aws_key", "jwt", "secret"]);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
