import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/policy/index.js";

// The byte form OPA hashes; the signature tests check the same rules against digests made by the opa CLI.
describe("canonical JSON (OPA's signing form)", () => {
  it.each([
    { name: "whitespace dropped, keys sorted", text: ' { "b" : 1 ,\n "a" : [ 1 , 2 ] } ', want: '{"a":[1,2],"b":1}' },
    { name: "numbers kept as written", text: "[1.0, 1e2, -0, 1E+2, 12345678901234567890123]", want: "[1.0,1e2,-0,1E+2,12345678901234567890123]" },
    { name: "HTML characters not escaped", text: '"<a>&"', want: '"<a>&"' },
    { name: "\\u escapes of plain characters decoded", text: '"\\u0041\\/"', want: '"A/"' },
    { name: "control characters as Go writes them", text: '"\\b\\f\\n\\r\\t\\u0001\\u001f"', want: '"\\b\\f\\n\\r\\t\\u0001\\u001f"' },
    { name: "U+2028 and U+2029 escaped", text: '"\u2028\\u2029"', want: '"\\u2028\\u2029"' },
    { name: "DEL and non-ASCII kept", text: '"\u007f é 😀"', want: '"\u007f é 😀"' },
    { name: "a lone surrogate becomes U+FFFD", text: '"\\ud800"', want: '"\ufffd"' },
    { name: "a repeated key: the last wins", text: '{"a":1,"a":2}', want: '{"a":2}' },
    { name: "keys ordered by UTF-8 bytes, not UTF-16 units", text: '{"ｚ":1,"😀":2,"é":3}', want: '{"é":3,"ｚ":1,"😀":2}' },
    { name: "a byte-order mark ignored", text: '\ufeff{"a":true}', want: '{"a":true}' },
    { name: "empty containers and literals", text: '{"o":{},"l":[],"n":null,"f":false}', want: '{"f":false,"l":[],"n":null,"o":{}}' },
  ])("$name", ({ text, want }) => {
    expect(canonicalJson(text)).toBe(want);
  });

  it.each(["{", '{"a":1,}', "[1 2]", "01", '"tab\there"', "NaN", '{"a":1} x', "1."])("refuses %j", (text) => {
    expect(() => canonicalJson(text)).toThrow(/structured bundle file is not valid JSON/);
  });
});
