// The short fuzz run of `make test` (a fixed seed and case count, capped in time) and the replay of every
// saved finding. `make fuzz` runs the same engine long (sidecar/test/fuzz/run.ts).
import { beforeAll, describe, expect, it } from "vitest";
import { checkOne, runFuzz, savedFindings } from "./engine.js";
import { loadTargets, type Target } from "./targets.js";

let targets: Target[];
beforeAll(async () => {
  targets = await loadTargets();
});

describe("fuzz regression cases (testdata/fuzz)", () => {
  const saved = savedFindings();
  it("has cases to replay", () => {
    expect(saved.length).toBeGreaterThan(0);
  });
  it.each(saved.map((s) => [s.file, s] as const))("%s no longer fails", async (_file, s) => {
    const target = targets.find((t) => t.name === s.target);
    expect(target, `target ${s.target}`).toBeDefined();
    expect(await checkOne(target!, Buffer.from(s.input_hex, "hex"))).toBeUndefined();
  });
});

// Short on purpose: these 50,000 cases of seed 1 are the ones `make fuzz` starts with (seed 1 and 1,000,000
// cases by default), and the long search belongs there.
describe("short fuzz run", () => {
  it("finds no crash, split disagreement or slow case in 50,000 mutated inputs (seed 1)", { timeout: 90_000 }, async () => {
    const stats = await runFuzz({ seed: 1, targets, maxCases: 50_000, budgetMs: 20_000 });
    const secs = stats.elapsedMs / 1000;
    console.log(
      `fuzz: ${stats.cases} cases in ${secs.toFixed(1)} s (${Math.round(stats.cases / secs)}/s), slowest ${stats.slowestMs.toFixed(0)} ms, ` +
        `max heap ${stats.maxHeapMb.toFixed(0)} MB; ${Object.entries(stats.perTarget).map(([t, n]) => `${t} ${n}`).join(", ")}`,
    );
    expect(stats.findings).toEqual([]);
    // A loaded machine may hit the time cap first; fewer than this would mean the run did not really run.
    expect(stats.cases).toBeGreaterThan(5_000);
    expect(stats.maxHeapMb).toBeLessThan(512);
  });
});
