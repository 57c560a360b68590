// The frame of one scenario file: run it, print its results, write build/bench/<name>.json, exit non-zero on failure.
//
//   await runScenario({ name: "facts", description: "...", run: async (log) => ({ results, summary }) });
//
// Scenarios are started one per process (run-all.ts spawns them), so nothing of one run — JIT state, heap,
// children — leaks into the next.
import { loadavg } from "node:os";
import { cpuWindow } from "./proc.js";
import { environment, QUICK, summaryTable, writeReport, type SummaryRow } from "./report.js";

export interface ScenarioOutcome {
  results: unknown;
  summary: SummaryRow[];
}

export interface ScenarioSpec {
  name: string;
  description: string;
  run(log: (line: string) => void): Promise<ScenarioOutcome>;
}

export async function runScenario(spec: ScenarioSpec): Promise<void> {
  const started = new Date();
  const t0 = performance.now();
  const log = (line: string) => process.stdout.write(`[${spec.name}] ${line}\n`);
  const env = environment();
  log(`${spec.description}${QUICK ? " (BENCH_QUICK=1: short runs, figures not for publishing)" : ""}; regate: ${String(env["regate"])}`);
  // Other work on the machine skews every figure (ratios less so): say how busy it was before we started.
  const idle = cpuWindow({});
  await new Promise((r) => setTimeout(r, 1000));
  const background = idle().machine_busy_pct;
  env["background_busy_pct"] = background;
  log(`machine busy before start: ${background ?? "?"}% of all cores, load average ${env["loadavg_at_start"]}`);
  try {
    const outcome = await spec.run(log);
    const file = writeReport({
      scenario: spec.name,
      description: spec.description,
      started_at: started.toISOString(),
      duration_s: Math.round((performance.now() - t0) / 100) / 10,
      quick: QUICK,
      environment: { ...env, loadavg_at_end: loadavg().map((l) => Math.round(l * 100) / 100) },
      results: outcome.results,
      summary: outcome.summary,
    });
    process.stdout.write(`\n${summaryTable(outcome.summary)}\n\n`);
    log(`wrote ${file} (${Math.round((performance.now() - t0) / 1000)} s)`);
    process.exit(0);
  } catch (error) {
    process.stderr.write(`[${spec.name}] FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
}
