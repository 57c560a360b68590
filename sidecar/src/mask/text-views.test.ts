import { describe, expect, it } from "vitest";
import { decodedViews, decodeLayer, foldName, type TextView } from "./text-views.js";

/** The text as sent that each view character came from, for readable assertions. */
const sources = (raw: string, v: TextView): string[] => [...v.text].map((_c, k) => raw.slice(v.from[k], v.to[k]));

describe("decodeLayer", () => {
  it.each([
    ["plain ASCII", "alice at example dot com"],
    ["a lone % and a URL query", "100% done ?a=1&b=2"],
    ["text already in NFKC", "café 日本語 ü"],
    ["an unknown named reference", "&copy; &bogus;"],
  ])("leaves %s as it is (undefined)", (_name, text) => {
    expect(decodeLayer(text)).toBeUndefined();
  });

  it.each([
    ["percent escapes", "u=alice%40example.com", "u=alice@example.com"],
    ["a multi-byte escape run", "%E2%82%AC5", "€5"],
    ["decimal and hex references", "alice&#64;example&#x2e;com", "alice@example.com"],
    ["a numeric reference without its ';'", "alice&#64example.com", "alice@example.com"],
    ["named references", "alice&commat;example&period;com &amp;", "alice@example.com &"],
    ["fullwidth characters (NFKC)", "１２３-４５-６７８９ ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "123-45-6789 alice@example.com"],
    ["invisible characters", "123-45-67\u200b89\u0000\u00ad\ufeff", "123-45-6789"],
    ["tabs and line ends kept", "a\tb\nc\r\u200b", "a\tb\nc\r"],
    ["one layer only", "%2540", "%40"],
  ])("decodes %s", (_name, raw, text) => {
    expect(decodeLayer(raw)?.text).toBe(text);
  });

  it("maps each character to the characters as sent that spell it", () => {
    const raw = "a%40b&#46;１\u200bc";
    const v = decodeLayer(raw)!;
    expect(v.text).toBe("a@b.1c");
    expect(sources(raw, v)).toEqual(["a", "%40", "b", "&#46;", "１", "c"]);
  });

  it("maps every character of an escape run to the whole run", () => {
    const raw = "%22123%22";
    const v = decodeLayer(raw)!;
    expect(v.text).toBe('"123"');
    expect(sources(raw, v)).toEqual(["%22", "1", "2", "3", "%22"]);
  });

  it("keeps astral characters whole", () => {
    const raw = "𝟏𝟐x";
    const v = decodeLayer(raw)!;
    expect(v.text).toBe("12x");
    expect(sources(raw, v)).toEqual(["𝟏", "𝟐", "x"]);
  });
});

describe("decodedViews", () => {
  it("has no views for text read as written", () => {
    expect(decodedViews("order 42, café")).toEqual({ views: [] });
  });

  it("maps each layer back to the text as sent", () => {
    const raw = "q=alice%2526%252364%253Bexample.com";
    const { views, deeper } = decodedViews(raw);
    expect(deeper).toBeUndefined();
    const last = views.at(-1)!;
    expect(last.text).toBe("q=alice@example.com");
    const at = last.text.indexOf("@");
    expect(raw.slice(last.from[at], last.to[at])).toBe("%2526%252364%253B");
  });

  it("reports text encoded deeper than it maps", () => {
    let raw = "alice@example.com";
    for (let i = 0; i < 6; i++) raw = encodeURIComponent(raw);
    const { views, deeper } = decodedViews(raw);
    expect(views).toHaveLength(4);
    expect(deeper).toBe("alice@example.com");
  });
});

describe("foldName", () => {
  it.each([
    ["ssn", "ssn"],
    ["Email", "Email"],
    ["ｓｓｎ", "ssn"],
    ["ＳＳＮ", "SSN"],
    ["s\u200bsn", "ssn"],
    ["ssn\u0000", "ssn"],
    ["\ufeffssn", "ssn"],
    ["s\u00adsn\u2060", "ssn"],
    [" ssn\u00a0", "ssn"],
    ["first name", "first name"],
    ["ſsn", "ssn"],
  ])("%j reads as %j", (name, folded) => {
    expect(foldName(name)).toBe(folded);
  });
});
