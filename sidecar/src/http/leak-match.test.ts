import { describe, expect, it } from "vitest";
import { Automaton } from "./leak-match.js";

/** Every (end offset, length) at which the automaton reports a form, fed `text` byte by byte. */
function hits(forms: string[], text: string): [number, number][] {
  const a = new Automaton(forms.map((f) => Buffer.from(f)));
  const out: [number, number][] = [];
  let s = 0;
  for (let i = 0; i < text.length; i++) {
    s = a.step(s, text.charCodeAt(i));
    if (a.match[s]! > 0) out.push([i + 1, a.match[s]!]);
  }
  return out;
}

describe("Automaton", () => {
  it.each([
    ["one form", ["abcd"], "xxabcdxx", [[6, 4]]],
    ["a form after a false start that shares its prefix", ["abcd"], "ababcd", [[6, 4]]],
    ["a form inside a longer one's prefix (the failure link reports it)", ["xabcdy", "abcd"], "xabcdz", [[5, 4]]],
    ["the longest of two forms ending at one byte", ["bcd", "abcd"], "abcd", [[4, 4]]],
    ["overlapping occurrences", ["aaaa"], "aaaaaa", [[4, 4], [5, 4], [6, 4]]],
    ["nothing", ["abcd"], "abcabdabc", []],
  ] as const)("%s", (_name, forms, text, expected) => {
    expect(hits([...forms], text)).toEqual(expected);
  });

  it("its depth is the length of the longest tail that could still grow into a form", () => {
    const a = new Automaton([Buffer.from("tok+AbC")]);
    let s = 0;
    for (const c of "xxtok+A") s = a.step(s, c.charCodeAt(0));
    expect(a.depth[s]).toBe(5);
    s = a.step(s, "z".charCodeAt(0));
    expect(a.depth[s]).toBe(0);
  });
});
