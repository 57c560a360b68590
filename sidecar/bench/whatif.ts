// regate whatif: decisions replayed per second over a decision log, the figure a CI job over a day of logs needs.
//
//   npx tsx sidecar/bench/whatif.ts
//
// The log: every golden input (testdata/golden/opa/cases.json) decided by the real pipeline with the real bundle
// (build/bundle.tar.gz), written by the real DecisionLog sink through pino to a file, repeated to LINES decision
// lines with one other log line after every tenth, once plain and once gzipped. whatIf() then reads and replays
// it: candidate and baseline are the same bundle, so every decision is compared and none changes.
//
// Baseline: the bare DecisionPipeline deciding the same inputs in a loop (no reading, no parsing, no report),
// twice per input as whatif with --baseline does. The ratio is the share of the replay's time that is the two
// evaluations; the rest is reading, JSON.parse of the line and the comparison.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { DecisionLog } from "../src/audit/index.js";
import { DecisionPipeline, type PolicyInput } from "../src/decision/index.js";
import { createLogger } from "../src/log.js";
import { packageRoot } from "../src/paths.js";
import { PolicyStore } from "../src/policy/index.js";
import { whatIf } from "../src/whatif/index.js";
import { BUNDLE } from "./support/regate.js";
import { fmt, QUICK, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { ratio } from "./support/stats.js";

const LINES = QUICK ? 5_000 : 50_000;

function goldenInputs(): PolicyInput[] {
  const file = join(packageRoot, "testdata", "golden", "opa", "cases.json");
  return (JSON.parse(readFileSync(file, "utf8")) as { golden_cases: { input: PolicyInput }[] }).golden_cases.map((c) => c.input);
}

/** A decision log as `regate run` writes it: pino, OPA's event shape, other log lines in between. */
async function writeLog(path: string, inputs: PolicyInput[], store: PolicyStore): Promise<void> {
  const dest = pino.destination({ dest: path, sync: true });
  const logger = createLogger({ destination: dest });
  const sink = new DecisionLog(logger.child({}, { redact: { paths: [] } }), { bundleName: "regate", labels: { app: "regate" } });
  const pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [sink] });
  for (let i = 0; i < LINES; i++) {
    pipeline.decide(inputs[i % inputs.length]!);
    if (i % 10 === 9) logger.info({ session: "s" }, "session closed");
  }
  dest.flushSync();
}

await runScenario({
  name: "whatif",
  description: `regate whatif: decisions replayed per second (${fmt(LINES)} logged golden inputs, candidate and baseline bundle)`,
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), "regate-bench-whatif-"));
    try {
      const store = new PolicyStore(BUNDLE);
      await store.load();
      const inputs = goldenInputs();
      const plain = join(dir, "decisions.log");
      await writeLog(plain, inputs, store);
      const gz = join(dir, "decisions.log.gz");
      writeFileSync(gz, gzipSync(readFileSync(plain)));
      log(`log: ${fmt(LINES)} decisions from ${inputs.length} golden inputs, ${fmt(readFileSync(plain).length / 2 ** 20)} MiB plain, ${fmt(readFileSync(gz).length / 2 ** 20)} MiB gzip`);

      const replay = async (label: string, sources: string[], baseline: boolean) => {
        await whatIf({ candidate: BUNDLE, ...(baseline ? { baseline: BUNDLE } : {}), sources: [plain] }); // warm-up
        const t0 = performance.now();
        const report = await whatIf({ candidate: BUNDLE, ...(baseline ? { baseline: BUNDLE } : {}), sources });
        const s = (performance.now() - t0) / 1000;
        if (report.decisions !== LINES || report.unchanged + report.partial_input.count !== LINES) {
          throw new Error(`${label}: ${report.decisions} decisions, ${report.unchanged} unchanged, ${report.partial_input.count} partial`);
        }
        const perS = LINES / s;
        log(`${label}: ${fmt(perS)} decisions/s (${fmt(s)} s)`);
        return perS;
      };
      const results = {
        plain_with_baseline: await replay("plain log, --baseline", [plain], true),
        gzip_with_baseline: await replay("gzip log, --baseline", [gz], true),
        plain_without_baseline: await replay("plain log, no --baseline", [plain], false),
        bare_pipeline_two_decisions: 0,
      };

      const pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [], logMask: false });
      for (let i = 0; i < 1000; i++) pipeline.decide(inputs[i % inputs.length]!);
      const t0 = performance.now();
      for (let i = 0; i < LINES; i++) {
        pipeline.decide(inputs[i % inputs.length]!);
        pipeline.decide(inputs[i % inputs.length]!);
      }
      results.bare_pipeline_two_decisions = LINES / ((performance.now() - t0) / 1000);
      log(`baseline, bare pipeline, two decisions per input: ${fmt(results.bare_pipeline_two_decisions)} inputs/s`);
      store.close();

      const summary: SummaryRow[] = [
        {
          metric: "whatif --baseline, decisions/s (plain log)",
          value: Math.round(results.plain_with_baseline),
          unit: "decisions/s",
          baseline: { label: "bare pipeline, 2 decisions per input", value: Math.round(results.bare_pipeline_two_decisions) },
          ratio: ratio(results.plain_with_baseline, results.bare_pipeline_two_decisions),
        },
        { metric: "whatif --baseline, decisions/s (gzip log)", value: Math.round(results.gzip_with_baseline), unit: "decisions/s" },
        { metric: "whatif without --baseline, decisions/s", value: Math.round(results.plain_without_baseline), unit: "decisions/s" },
      ];
      return { results: { lines: LINES, inputs: inputs.length, ...results }, summary };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
});
