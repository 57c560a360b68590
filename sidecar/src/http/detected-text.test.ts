import { describe, expect, it } from "vitest";
import { REDACTED } from "../mask/index.js";
import { escapeView, maskDetected } from "./detected-text.js";
import { addDetector } from "./mask-actions.js";

const DETECT = addDetector(addDetector(undefined, "email", "redact"), "ssn", "redact");

describe("escapeView", () => {
  it.each([
    ["a\\u0040b", "a@b"],
    ["\\u{31}\\x32\\/", "12/"],
    ["\\ud83d\\ude00", "\u{1f600}"],
    ['\\"q\\"\\n', '"q"\n'],
    ["\\u12", "u12"],
  ])("%s reads as %s", (s, text) => {
    expect(escapeView(s)?.text).toBe(text);
  });

  it("maps each character to the escape that spells it", () => {
    const v = escapeView("x\\u0040y")!;
    expect([v.from, v.to]).toEqual([
      [0, 1, 7],
      [1, 7, 8],
    ]);
  });

  it("is undefined without a backslash", () => {
    expect(escapeView("plain")).toBeUndefined();
  });
});

describe("maskDetected with backslash escapes", () => {
  it.each([
    ["alice\\u0040example.com", REDACTED],
    ["ssn \\u0031\\u0032\\u0033-45-6789!", `ssn ${REDACTED}!`],
    ["mail alice\\x40example.com and C:\\temp", `mail ${REDACTED} and C:\\temp`],
  ])("%s", (s, expected) => {
    expect(maskDetected(s, DETECT, undefined)).toBe(expected);
  });
});
