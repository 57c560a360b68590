import { describe, expect, it } from "vitest";
import type { AnalysisResult, StatementFacts } from "../sql/types.js";
import { AnalysisCache } from "./analyse.js";

const facts = (over: Partial<StatementFacts> = {}): StatementFacts => ({ kind: "select", settings: [], ddl: null, ...over }) as unknown as StatementFacts;
const analysis = (over: Partial<StatementFacts> = {}): AnalysisResult => ({ statements: [facts(over)], fingerprint: "f" });

describe("AnalysisCache's last entry (repeated)", () => {
  const path = ["$user", "public"];

  it("serves the same text under the same path array, generation and overlay", () => {
    const c = new AnalysisCache();
    const a = analysis();
    c.served("SELECT 1", path, 3, a);
    expect(c.repeated("SELECT 1", path, 3)).toBe(a);
    // A string equal in content is the same text.
    expect(c.repeated(["SELECT", "1"].join(" "), path, 3)).toBe(a);
  });

  it.each([
    ["another text", (c: AnalysisCache) => c.repeated("SELECT 2", path, 3)],
    ["another generation", (c: AnalysisCache) => c.repeated("SELECT 1", path, 4)],
    ["another path array, even an equal one", (c: AnalysisCache) => c.repeated("SELECT 1", [...path], 3)],
    ["no known path", (c: AnalysisCache) => c.repeated("SELECT 1", null, 3)],
    ["names changed since (overlay)", (c: AnalysisCache) => (c.overlayChanged(), c.repeated("SELECT 1", path, 3))],
    ["a cleared cache", (c: AnalysisCache) => (c.clear(), c.repeated("SELECT 1", path, 3))],
  ])("misses for %s", (_what, ask) => {
    const c = new AnalysisCache();
    c.served("SELECT 1", path, 3, analysis());
    expect(ask(c)).toBeUndefined();
  });

  it("never holds what the cache would not keep (statements that change the session)", () => {
    const c = new AnalysisCache();
    c.served("SET search_path = x", path, 3, analysis({ settings: [{ name: "search_path" }] as unknown as StatementFacts["settings"] }));
    expect(c.repeated("SET search_path = x", path, 3)).toBeUndefined();
    c.served("PREPARE p AS SELECT 1", path, 3, analysis({ kind: "prepare" as StatementFacts["kind"] }));
    expect(c.repeated("PREPARE p AS SELECT 1", path, 3)).toBeUndefined();
  });
});

describe("AnalysisCache.stamp (factsStamp)", () => {
  it("is the generation and the path, made again when either changes", () => {
    const c = new AnalysisCache();
    const path = ["$user", "public"];
    expect(c.stamp(1, path)).toBe("1\u0000$user\u0000public");
    expect(c.stamp(1, path)).toBe("1\u0000$user\u0000public");
    expect(c.stamp(2, path)).toBe("2\u0000$user\u0000public");
    expect(c.stamp(2, ["x"])).toBe("2\u0000x");
    expect(c.stamp(2, null)).toBe("2\u0000\u0001");
  });
});
