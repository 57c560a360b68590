import { describe, expect, it } from "vitest";
import { parseJsonOrPython } from "./python-json.js";

describe("parseJsonOrPython", () => {
  it.each([
    ['{"a": NaN, "b": [Infinity, -Infinity]}', { a: 0, b: [0, 0] }],
    ["NaN", 0],
    ['[ -Infinity ,NaN]', [0, 0]],
    ['{"s": "NaN, Infinity", "t": "\\"NaN"}', { s: "NaN, Infinity", t: '"NaN' }],
  ])("takes Python's constants where a value starts: %s", (text, value) => {
    expect(parseJsonOrPython(text)).toEqual(value);
  });

  it.each(["[1NaN]", "[NaNx]", '{"a": nan}', "[Infinity1]", "[- Infinity]", '{NaN: 1}', "[NaN NaN]", '"unterminated NaN'])("refuses what is JSON to neither: %s", (text) => {
    expect(() => parseJsonOrPython(text)).toThrow(SyntaxError);
  });
});
