// What policy.eval_timeout_ms costs: the same evaluations on the main thread (direct) and through the
// evaluation worker (budgeted), in process, with the real bundle.
//
//   npx tsx sidecar/bench/eval-budget.ts
//
// Subject: ActivePolicy.evaluate through the worker (shared memory + Atomics.wait, policy/budgeted.ts), and
// DecisionPipeline.decide (two evaluations: regate/decision and system/log/mask) on top of it.
// Baseline: the same calls with eval_timeout_ms 0 (opa-wasm on the main thread), from the same run.
// Rounds alternate direct and worker so that load from other processes falls on both alike; each figure is
// the median over rounds of the mean time per call. CPU per call counts both threads (process.cpuUsage).
// Back-to-back calls keep both threads hot; "after 0.2 ms idle" lets them sleep between decisions, as on a
// lightly loaded server, where each call also pays for waking the worker's CPU.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DecisionPipeline, type PolicyInput } from "../src/decision/index.js";
import { packageRoot } from "../src/paths.js";
import { PolicyStore, type ActivePolicy } from "../src/policy/index.js";
import { BUNDLE } from "./support/regate.js";
import { fmt, QUICK, seconds, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { median, ratio } from "./support/stats.js";

const CASE = "pg-read-customers-masked";
const ROUNDS = QUICK ? 2 : 8;
const ROUND_S = seconds(1, 0.2);

function goldenInput(name: string): PolicyInput {
  const cases = (JSON.parse(readFileSync(join(packageRoot, "testdata", "golden", "opa", "cases.json"), "utf8")) as { golden_cases: { name: string; input: PolicyInput }[] }).golden_cases;
  const found = cases.find((c) => c.name === name);
  if (!found) throw new Error(`golden case ${name} not found`);
  return found.input;
}

/** Mean wall and CPU microseconds per call over `s` seconds. */
function measure(fn: () => void, s: number): { wall_us: number; cpu_us: number; calls: number } {
  const end = performance.now() + s * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) fn();
    n += 64;
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wall_us: (wall * 1000) / n, cpu_us: (cpu.user + cpu.system) / n, calls: n };
}

const idle = new Int32Array(new SharedArrayBuffer(4));

/** As measure(), but the thread sleeps 0.2 ms before each call (a lightly loaded server: both threads go
 * idle between decisions, so every call pays for waking the worker); only the calls are timed. */
function measureGapped(fn: () => void, s: number): { wall_us: number; cpu_us: number; calls: number } {
  const end = performance.now() + s * 1000;
  let busy = 0;
  let n = 0;
  let cpu = 0;
  while (performance.now() < end) {
    Atomics.wait(idle, 0, 0, 0.2);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    busy += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu += c.user + c.system;
    n++;
  }
  return { wall_us: (busy * 1000) / n, cpu_us: cpu / n, calls: n };
}

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).buffer as ArrayBuffer;

await runScenario({
  name: "eval-budget",
  description: `policy evaluation on the main thread vs on the budgeted worker (policy.eval_timeout_ms), input ${CASE}`,
  async run(log) {
    const input = goldenInput(CASE);
    const direct = new PolicyStore(BUNDLE);
    const budgeted = new PolicyStore(BUNDLE, { evalTimeoutMs: 1000 });
    const policies: Record<"direct" | "worker", ActivePolicy> = { direct: await direct.load(), worker: await budgeted.load() };
    const decisionInput = bytes(input);
    const result = policies.direct.evaluate("regate/decision", decisionInput);
    const maskInput = bytes({ input, decision_id: "00000000-0000-4000-8000-000000000000", result });
    const pipelines = {
      direct: new DecisionPipeline({ policy: () => direct.active, entrypoint: "regate/decision", dryRun: false, sinks: [] }),
      worker: new DecisionPipeline({ policy: () => budgeted.active, entrypoint: "regate/decision", dryRun: false, sinks: [] }),
    };
    for (const side of ["direct", "worker"] as const) {
      const d = pipelines[side].decide(input);
      if (d.outcome !== "allow" || d.mask.length !== 4) throw new Error(`${side}: unexpected decision ${JSON.stringify(d)}`);
    }
    const tasks = {
      "evaluate regate/decision": (side: "direct" | "worker") => () => policies[side].evaluate("regate/decision", decisionInput),
      "evaluate system/log/mask": (side: "direct" | "worker") => () => policies[side].evaluate("system/log/mask", maskInput),
      "pipeline decide (2 evaluations)": (side: "direct" | "worker") => () => pipelines[side].decide(input),
      "pipeline decide after 0.2 ms idle": (side: "direct" | "worker") => () => pipelines[side].decide(input),
    };
    const results: Record<string, { direct: { wall_us: number; cpu_us: number }; worker: { wall_us: number; cpu_us: number }; added_us: number; added_cpu_us: number }> = {};
    for (const [name, task] of Object.entries(tasks)) {
      measure(task("direct"), ROUND_S / 2);
      measure(task("worker"), ROUND_S / 2);
      const rounds = { direct: [] as { wall_us: number; cpu_us: number }[], worker: [] as { wall_us: number; cpu_us: number }[] };
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? (["direct", "worker"] as const) : (["worker", "direct"] as const);
        for (const side of order) rounds[side].push((name.includes("idle") ? measureGapped : measure)(task(side), ROUND_S));
      }
      const med = (side: "direct" | "worker") => ({
        wall_us: Math.round(median(rounds[side].map((m) => m.wall_us)) * 10) / 10,
        cpu_us: Math.round(median(rounds[side].map((m) => m.cpu_us)) * 10) / 10,
      });
      const d = med("direct");
      const w = med("worker");
      results[name] = { direct: d, worker: w, added_us: Math.round((w.wall_us - d.wall_us) * 10) / 10, added_cpu_us: Math.round((w.cpu_us - d.cpu_us) * 10) / 10 };
      log(`${name}: direct ${fmt(d.wall_us)} us (CPU ${fmt(d.cpu_us)}), worker ${fmt(w.wall_us)} us (CPU ${fmt(w.cpu_us)}): +${fmt(w.wall_us - d.wall_us)} us per call`);
    }
    direct.close();
    budgeted.close();
    const summary: SummaryRow[] = Object.entries(results).flatMap(([name, r]) => [
      { metric: `${name}, worker`, value: r.worker.wall_us, unit: "us", baseline: { label: "main thread", value: r.direct.wall_us }, ratio: ratio(r.worker.wall_us, r.direct.wall_us) },
      { metric: `${name}, added by the worker`, value: r.added_us, unit: "us", note: `CPU +${r.added_cpu_us} us` },
    ]);
    return { results: { case: CASE, rounds: ROUNDS, round_s: ROUND_S, revision: policies.direct.revision, results }, summary };
  },
});
