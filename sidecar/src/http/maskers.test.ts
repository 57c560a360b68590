import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { ResponseMasker } from "./masker.js";
import { Maskers } from "./maskers.js";

const rules = (): MaskRule[] => [
  { field: "email", strategy: "partial" },
  { detector: "ssn", strategy: "redact" },
];

describe("Maskers", () => {
  it("one masker for the same rules array, and for equal rules in another array", () => {
    const maskers = new Maskers(undefined, false);
    const a = rules();
    const m = maskers.for(a);
    expect(m).toBeDefined();
    expect(maskers.for(a)).toBe(m);
    expect(maskers.for(rules())).toBe(m);
  });

  it("other rules get another masker, and rules that mask nothing none", () => {
    const maskers = new Maskers(undefined, false);
    const m = maskers.for(rules());
    expect(maskers.for([{ field: "ssn", strategy: "redact" }])).not.toBe(m);
    expect(maskers.for([])).toBeUndefined();
    expect(maskers.for([{ column: "ssn", strategy: "redact" } as MaskRule])).toBeUndefined();
  });

  it("masks as a masker built for the rules does", () => {
    const text = '{"email":"alice@example.com","note":"123-45-6789"}';
    const out = new Maskers(undefined, false).for(rules())!.maskJsonText(text);
    expect(out).toBe(ResponseMasker.from(rules())!.maskJsonText(text));
    expect(out).not.toContain("alice");
    expect(out).not.toContain("6789");
  });
});
