import { describe, expect, it } from "vitest";
import type { AnalysisResult } from "../sql/types.js";
import { DecisionReuse } from "./reuse.js";

const analysis = (): AnalysisResult => ({ statements: [] }) as unknown as AnalysisResult;

describe("DecisionReuse.key", () => {
  it("is the same key for the same parts, and a new one when any part changes", () => {
    const r = new DecisionReuse();
    const a = analysis();
    const path = ["$user", "public"];
    const k = r.key(a, "bind", 0x49, path, { parameters: [1] })!;
    expect(r.key(a, "bind", 0x49, path, { parameters: [2] })).toBe(k);
    const variants = [
      r.key(analysis(), "bind", 0x49, path, {}),
      r.key(a, "query", 0x49, path, {}),
      r.key(a, "bind", 0x54, path, {}),
      r.key(a, "bind", 0x49, ["public"], {}),
      r.key(a, "bind", 0x49, null, {}),
      r.key(a, "bind", 0x49, path, { empty_query: true }),
    ];
    const exact = new Set([k.exact, ...variants.map((v) => v!.exact)]);
    expect(exact.size).toBe(variants.length + 1);
    // Back to the first parts: the same string as before.
    expect(r.key(a, "bind", 0x49, path, {})!.exact).toBe(k.exact);
  });

  it("spells a search_path by its content, whatever array holds it", () => {
    const r = new DecisionReuse();
    const a = analysis();
    const k1 = r.key(a, "bind", 0x49, ["$user", "public"], {})!;
    r.key(a, "bind", 0x49, null, {});
    expect(r.key(a, "bind", 0x49, ["$user", "public"], {})!.exact).toBe(k1.exact);
  });

  it("has no key without an analysis", () => {
    expect(new DecisionReuse().key(undefined, "bind", 0x49, null, {})).toBeUndefined();
  });
});
