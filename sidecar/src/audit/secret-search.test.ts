import { describe, expect, it } from "vitest";
import { SecretSearch } from "./secret-search.js";

/** A small deterministic generator: the property test is the same on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

const forms = ["bench-agent-token-5c1e", "YmVuY2gtYWdlbnQtdG9rZW4tNWMxZQ", "pa55w0rd", "cGE1NXcwcmQ"];

describe("SecretSearch", () => {
  it.each([
    ["", false],
    ["pa55w0r", false],
    ["pa55w0rd", true],
    ['{"sql":"SELECT \'pa55w0rd\'"}', true],
    ["xxbench-agent-token-5c1", false],
    ["bench-agent-token-5c1e", true],
    ["…cGE1NXcwcmQ", true],
    ["PA55W0RD", false],
  ])("%j: %s", (text, found) => {
    expect(new SecretSearch(forms).test(text)).toBe(found);
  });

  it("finds nothing without forms", () => {
    expect(new SecretSearch([]).test("anything")).toBe(false);
  });

  it("agrees with includes on random texts, with forms planted at every kind of place", () => {
    const next = rng(42);
    // An alphabet close to the forms' own, so near misses are frequent; two-byte characters included.
    const alphabet = 'abcdenpstw05-"{}:,YmVuQ\u00e9\u2028\u0161\u0100';
    for (let round = 0; round < 3000; round++) {
      const chosen = forms.filter(() => next() < 0.5);
      const set = chosen.length > 0 ? chosen : [forms[round % forms.length]!];
      const search = new SecretSearch(set);
      let text = "";
      const length = Math.floor(next() * 120);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
      const plant = next();
      if (plant < 0.4) {
        const form = set[Math.floor(next() * set.length)]!;
        const at = Math.floor(next() * (text.length + 1));
        // Sometimes a form cut short by one character, at the very end.
        text = plant < 0.1 ? text + form.slice(0, -1) : text.slice(0, at) + form + text.slice(at);
      }
      expect(search.test(text), JSON.stringify({ set, text })).toBe(set.some((f) => text.includes(f)));
    }
  });

  it("refuses a form shorter than its blocks", () => {
    expect(() => new SecretSearch(["x"])).toThrow();
  });
});
