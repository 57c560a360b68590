// `make fuzz`: a long run. FUZZ_CASES (default 1,000,000), FUZZ_SECONDS (default 3600), FUZZ_SEED
// (default 1), FUZZ_TARGETS (comma-separated names). New findings are written to testdata/fuzz/.
import { runFuzz, saveFinding } from "./engine.js";
import { loadTargets } from "./targets.js";

const env = process.env;
const all = await loadTargets();
const only = env["FUZZ_TARGETS"]?.split(",").map((s) => s.trim());
const targets = only ? all.filter((t) => only.includes(t.name)) : all;
const seed = Number(env["FUZZ_SEED"] ?? 1);
const stats = await runFuzz({
  seed,
  targets,
  maxCases: Number(env["FUZZ_CASES"] ?? 1_000_000),
  budgetMs: Number(env["FUZZ_SECONDS"] ?? 3600) * 1000,
  onProgress: (s) => console.log(`  ${s.cases} cases, ${Math.round(s.cases / (s.elapsedMs / 1000))} cases/s, ${s.findings.length} findings, heap ${s.maxHeapMb.toFixed(0)} MB`),
});
const secs = stats.elapsedMs / 1000;
console.log(`fuzz seed ${seed}: ${stats.cases} cases in ${secs.toFixed(1)} s (${Math.round(stats.cases / secs)} cases/s), slowest case ${stats.slowestMs.toFixed(0)} ms, max heap ${stats.maxHeapMb.toFixed(0)} MB`);
for (const [t, n] of Object.entries(stats.perTarget)) console.log(`  ${t}: ${n}`);
console.log(`findings: ${stats.findings.length}`);
for (const f of stats.findings) console.log(`  ${f.target} ${f.kind}: ${f.error} -> testdata/fuzz/${saveFinding(f)}`);
process.exitCode = stats.findings.length > 0 ? 1 : 0;
