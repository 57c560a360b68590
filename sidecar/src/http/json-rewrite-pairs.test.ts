// Name/value pairs and entries nested in each other's values (json-rewrite-pairs.ts): each value is walked once,
// so the work grows with the document, not with 2^depth (a 560-byte body of 22 nested pairs took 20 s before).

import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { ResponseMasker } from "./masker.js";

const RULES: MaskRule[] = [
  { field: "notes", detector: "email", strategy: "redact" },
  { field: "ssn", strategy: "redact" },
];
const masker = ResponseMasker.from(RULES, Buffer.from("k"))!;

function nested(depth: number, wrap: (inner: string) => string): string {
  let doc = '"a@b.co"';
  for (let i = 0; i < depth; i++) doc = wrap(doc);
  return doc;
}

function timed(doc: string): { out: string; ms: number } {
  const t0 = performance.now();
  const out = masker.maskJsonText(doc);
  return { out, ms: performance.now() - t0 };
}

describe("nested pairs are walked once", () => {
  it.each([
    ["value before name", (v: string) => `{"value":${v},"name":"notes"}`],
    ["name before value", (v: string) => `{"name":"notes","value":${v}}`],
    ["entries", (v: string) => `[["notes",${v}]]`],
  ])("%s, 22 deep: masked, in linear time", (_label, wrap) => {
    const { out, ms } = timed(nested(22, wrap));
    expect(out).not.toContain("a@b.co");
    expect(ms).toBeLessThan(1000);
  });

  it("an embedded document of nested pairs (an agent can store one in any string field)", () => {
    const doc = JSON.stringify({ content: [{ type: "text", text: nested(22, (v) => `{"value":${v},"name":"notes"}`) }] });
    const { out, ms } = timed(doc);
    expect(out).not.toContain("a@b.co");
    expect(ms).toBeLessThan(1000);
  });

  it("keeps what pairs mean: a value is its named field's, whatever the member order; a 3-element array is no entry", () => {
    // The outputs of the walk before this change, which re-walked each pair's value.
    const same: [string, string][] = [
      ['{"value":"x a@b.co","name":"notes","k":"a@b.co"}', '{"value":"x ****","name":"notes","k":"a@b.co"}'],
      ['{"v":{"deep":"607-59-5353"},"Key":"ssn"}', '{"v":{"deep":"****"},"Key":"ssn"}'],
      ['[["ssn","607-59-5353"],["ssn","607-59-5353","x"],["other","a@b.co"]]', '[["ssn","****"],["ssn","607-59-5353","x"],["other","a@b.co"]]'],
      ['{"value":{"ssn":"607-59-5353"},"name":"other"}', '{"value":{"ssn":"****"},"name":"other"}'],
      ['{"name":"notes","value":["a@b.co",{"x":"c@d.io"}],"values":"e@f.io"}', '{"name":"notes","value":["****",{"x":"****"}],"values":"****"}'],
      ['[["notes",{"value":"a@b.co","name":"ssn"}]]', '[["notes",{"value":"****","name":"ssn"}]]'],
    ];
    for (const [doc, masked] of same) expect(masker.maskJsonText(doc)).toBe(masked);
  });
});
