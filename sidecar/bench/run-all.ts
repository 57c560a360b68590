// Runs the benchmark scenarios one after another, each in its own process, and prints one summary table.
//
//   npx tsx sidecar/bench/run-all.ts                 every scenario (make bench)
//   npx tsx sidecar/bench/run-all.ts pgbench http    a subset, in the order given
//   BENCH_QUICK=1 npx tsx sidecar/bench/run-all.ts   short runs (smoke test; figures not for publishing)
//   npx tsx sidecar/bench/run-all.ts --profile pgbench   also profile regate (node --cpu-prof) where the scenario can
//
// Each scenario writes build/bench/<name>.json; this script writes build/bench/summary.json from them.
// Exit code 1 if any scenario failed (the others still run).
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../src/paths.js";
import { BENCH_DIR, environment, QUICK, readReport, summaryTable, type SummaryRow } from "./support/report.js";

/** Fast ones first; pgbench and load are the long ones. */
const SCENARIOS = ["decisions", "eval-budget", "eval-budget-pgbench", "whatif", "export", "facts", "http", "masking", "rows-changed", "pgbench", "workers", "recording-store", "load"] as const;

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith("--"));
const names = args.filter((a) => !a.startsWith("--"));
const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
if (unknown.length) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(", ")}; known: ${SCENARIOS.join(", ")}\n`);
  process.exit(2);
}
const selected = names.length ? names : [...SCENARIOS];

function runScenarioProcess(name: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(packageRoot, "sidecar", "bench", `${name}.ts`), ...flags], { cwd: packageRoot, stdio: "inherit" });
    // Ctrl-C reaches the child by itself (same process group); SIGTERM is passed on. Either way the child
    // stops its own servers and exits, and no further scenario starts.
    const onTerm = () => {
      interrupted = true;
      child.kill("SIGTERM");
    };
    process.on("SIGTERM", onTerm);
    child.once("exit", (code, signal) => {
      process.off("SIGTERM", onTerm);
      resolve(signal ? 128 : code);
    });
    child.once("error", () => resolve(-1));
  });
}

let interrupted = false;
process.on("SIGINT", () => (interrupted = true));
const started = performance.now();
const outcomes: { scenario: string; code: number | null; seconds: number }[] = [];
for (const name of selected) {
  if (interrupted) break;
  const t0 = performance.now();
  process.stdout.write(`\n=== ${name} ===\n`);
  const code = await runScenarioProcess(name);
  outcomes.push({ scenario: name, code, seconds: Math.round((performance.now() - t0) / 1000) });
}

const rows: SummaryRow[] = [];
const failed: string[] = [];
const background: string[] = [];
for (const o of outcomes) {
  if (o.code !== 0) {
    failed.push(`${o.scenario} (exit ${o.code})`);
    continue;
  }
  const report = readReport(o.scenario);
  for (const row of report?.summary ?? []) rows.push(row);
  background.push(`${o.scenario} ${String(report?.environment["background_busy_pct"] ?? "?")}%`);
}
mkdirSync(BENCH_DIR, { recursive: true });
const totalS = Math.round((performance.now() - started) / 1000);
writeFileSync(join(BENCH_DIR, "summary.json"), `${JSON.stringify({ finished_at: new Date().toISOString(), quick: QUICK, total_s: totalS, environment: environment(), scenarios: outcomes, summary: rows }, null, 2)}\n`);
process.stdout.write(`\n=== summary (${totalS} s${QUICK ? ", BENCH_QUICK=1" : ""}; ratio = regate / baseline, same run) ===\n\n${summaryTable(rows)}\n\n`);
process.stdout.write(`scenario times: ${outcomes.map((o) => `${o.scenario} ${o.seconds} s`).join(", ")}\n`);
process.stdout.write(`machine busy before each scenario (other work; figures are only comparable when low): ${background.join(", ")}\n`);
process.stdout.write(`reports: ${BENCH_DIR}/<scenario>.json, ${BENCH_DIR}/summary.json\n`);
if (failed.length) {
  process.stderr.write(`FAILED: ${failed.join(", ")}\n`);
  process.exitCode = 1;
}
