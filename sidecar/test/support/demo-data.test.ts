import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEMO_COUNTS, generateSeedSql, luhnCheckDigit, luhnValid } from "../../../testdata/demo/generate.js";
import { DEMO_DIR } from "./postgres.js";

const seed = readFileSync(join(DEMO_DIR, "seed.sql"), "utf8");

describe("testdata/demo", () => {
  it("seed.sql is what generate.ts writes (regenerate: npx tsx testdata/demo/generate.ts > testdata/demo/seed.sql)", () => {
    expect(generateSeedSql() === seed).toBe(true);
  });

  it("stays under 2 MB", () => {
    expect(Buffer.byteLength(seed)).toBeLessThan(2 * 1024 * 1024);
  });

  it.each([
    ["79927398713", true],
    ["79927398710", false],
    ["4111111111111111", true],
    ["4111111111111112", false],
  ])("luhnValid(%s) is %s", (number, valid) => {
    expect(luhnValid(number)).toBe(valid);
  });

  it("makes valid check digits", () => {
    expect(luhnCheckDigit("7992739871")).toBe(3);
  });

  it("has only 16-digit Luhn-valid card numbers", () => {
    const cards = [...seed.matchAll(/'(\d{13,19})'/g)].map((m) => m[1] ?? "");
    // One per customer, one per payment.
    expect(cards.length).toBe(DEMO_COUNTS.customers + DEMO_COUNTS.payments);
    for (const card of cards) {
      expect(card).toMatch(/^\d{16}$/);
      expect(luhnValid(card), card).toBe(true);
    }
  });

  it("has SSNs shaped like 123-45-6789 with no never-issued area", () => {
    const ssns = [...seed.matchAll(/'(\d{3})-(\d{2})-(\d{4})'/g)];
    expect(ssns.length).toBeGreaterThan(DEMO_COUNTS.customers * 0.9);
    for (const [ssn, area, group, serial] of ssns) {
      expect(area === "000" || area === "666" || (area ?? "9").startsWith("9"), ssn).toBe(false);
      expect(group, ssn).not.toBe("00");
      expect(serial, ssn).not.toBe("0000");
    }
  });

  it("has unique e-mails in reserved domains and fictional phones", () => {
    const emails = [...seed.matchAll(/'([^']+@[^']+)'/g)].map((m) => m[1]);
    expect(emails.length).toBe(DEMO_COUNTS.customers);
    expect(new Set(emails).size).toBe(emails.length);
    for (const email of emails) expect(email).toMatch(/^[a-z]+\.[a-z]+\d+@example\.(com|net|org)$/);
    for (const [phone] of seed.matchAll(/'\+1-[^']*'/g)) expect(phone).toMatch(/^'\+1-555-\d{3}-\d{4}'$/);
  });

  it("uses fixed timestamps only", () => {
    expect(seed).not.toMatch(/now\(\)|current_timestamp/i);
  });
});
