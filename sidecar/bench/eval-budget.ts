// What policy.eval_timeout_ms costs: the same evaluations on the main thread (direct) and through the
// evaluation worker (budgeted), in process, with the real bundle.
//
//   npx tsx sidecar/bench/eval-budget.ts
//
// Subject: ActivePolicy.evaluate through the worker (shared memory + Atomics.wait, policy/budgeted.ts), and
// DecisionPipeline.decide on top of it: two evaluations (regate/decision, then system/log/mask over the
// decision-log event) in one hand-over to the worker; "two hand-overs" is the same worker asked once per
// evaluation, as before the worker assembled the mask's event itself.
// Baseline: the same calls with eval_timeout_ms 0 (opa-wasm on the main thread), from the same run.
// Variants compared in the same run: how long each side polls before it sleeps (eval-protocol.ts, Spin).
// Rounds rotate the variants so that load from other processes falls on all alike; each figure is
// the median over rounds of the mean time per call. CPU per call counts both threads (process.cpuUsage).
// Back-to-back calls keep both threads hot; "after 0.2 ms idle" lets them sleep between decisions, as on a
// lightly loaded server, where each call also pays for waking the worker's CPU.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DecisionPipeline, type PolicyInput } from "../src/decision/index.js";
import { packageRoot } from "../src/paths.js";
import { activate, readBundle, type ActivePolicy } from "../src/policy/index.js";
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

/** The ways of evaluating compared; "direct" is the baseline (policy.eval_timeout_ms 0). */
const VARIANTS = {
  direct: "main thread (eval_timeout_ms 0)",
  worker: "worker, as shipped (1 hand-over per decision, both sides sleep at once)",
  "two hand-overs": "the same worker asked once per evaluation (as before)",
  "main polls": "worker; the main thread polls 0.1 ms for the answer before it sleeps",
  "both poll": "worker; the main thread polls 0.1 ms, the worker 0.05 ms for the next request",
} as const;
type Variant = keyof typeof VARIANTS;

await runScenario({
  name: "eval-budget",
  description: `policy evaluation on the main thread vs on the budgeted worker (policy.eval_timeout_ms), input ${CASE}`,
  async run(log) {
    const input = goldenInput(CASE);
    const bundle = readBundle(readFileSync(BUNDLE));
    const direct = await activate(bundle);
    const worker = await activate(bundle, { evalTimeoutMs: 1000 });
    // The worker without its one-pass method: the pipeline then asks it once per evaluation.
    const twoPass: ActivePolicy = { revision: worker.revision, entrypoints: worker.entrypoints, evaluate: (e, i) => worker.evaluate(e, i) };
    const policies: Record<Variant, ActivePolicy> = {
      direct,
      worker,
      "two hand-overs": twoPass,
      "main polls": await activate(bundle, { evalTimeoutMs: 1000, evalSpin: { main: 0.1, worker: 0 } }),
      "both poll": await activate(bundle, { evalTimeoutMs: 1000, evalSpin: { main: 0.1, worker: 0.05 } }),
    };
    const variants = Object.keys(VARIANTS) as Variant[];
    const decisionInput = bytes(input);
    const pipelines = Object.fromEntries(
      variants.map((v) => [v, new DecisionPipeline({ policy: () => policies[v], entrypoint: "regate/decision", dryRun: false, sinks: [] })]),
    ) as Record<Variant, DecisionPipeline>;
    for (const v of variants) {
      const d = pipelines[v].decide(input);
      if (d.outcome !== "allow" || d.mask.length !== 4) throw new Error(`${v}: unexpected decision ${JSON.stringify(d)}`);
    }
    const tasks = {
      "evaluate regate/decision": (v: Variant) => () => policies[v].evaluate("regate/decision", decisionInput),
      "pipeline decide (decision + log mask)": (v: Variant) => () => pipelines[v].decide(input),
      "pipeline decide after 0.2 ms idle": (v: Variant) => () => pipelines[v].decide(input),
    };
    type Figures = { wall_us: number; cpu_us: number };
    const results: Record<string, Record<Variant, Figures & { added_us: number; added_cpu_us: number }>> = {};
    for (const [name, task] of Object.entries(tasks)) {
      const gapped = name.includes("idle");
      for (const v of variants) measure(task(v), ROUND_S / 2);
      const rounds = Object.fromEntries(variants.map((v) => [v, [] as Figures[]])) as Record<Variant, Figures[]>;
      for (let r = 0; r < ROUNDS; r++) {
        // Rotated each round, so load from other processes falls on every variant alike.
        for (let k = 0; k < variants.length; k++) {
          const v = variants[(r + k) % variants.length]!;
          rounds[v].push((gapped ? measureGapped : measure)(task(v), ROUND_S));
        }
      }
      const med = (v: Variant): Figures => ({
        wall_us: Math.round(median(rounds[v].map((m) => m.wall_us)) * 10) / 10,
        cpu_us: Math.round(median(rounds[v].map((m) => m.cpu_us)) * 10) / 10,
      });
      const base = med("direct");
      results[name] = Object.fromEntries(
        variants.map((v) => {
          const f = med(v);
          return [v, { ...f, added_us: Math.round((f.wall_us - base.wall_us) * 10) / 10, added_cpu_us: Math.round((f.cpu_us - base.cpu_us) * 10) / 10 }];
        }),
      ) as Record<Variant, Figures & { added_us: number; added_cpu_us: number }>;
      for (const v of variants) {
        const f = results[name]![v];
        log(`${name}, ${v}: ${fmt(f.wall_us)} us (CPU ${fmt(f.cpu_us)})${v === "direct" ? "" : `: +${fmt(f.added_us)} us, CPU +${fmt(f.added_cpu_us)} us`}`);
      }
    }
    for (const p of Object.values(policies)) p.close?.();
    const summary: SummaryRow[] = Object.entries(results).flatMap(([name, r]) =>
      variants
        .filter((v) => v !== "direct")
        .map((v) => ({
          metric: `${name}, ${v}`,
          value: r[v].wall_us,
          unit: "us",
          baseline: { label: "main thread", value: r.direct.wall_us },
          ratio: ratio(r[v].wall_us, r.direct.wall_us),
          note: `+${r[v].added_us} us, CPU +${r[v].added_cpu_us} us`,
        })),
    );
    return { results: { case: CASE, rounds: ROUNDS, round_s: ROUND_S, revision: direct.revision, variants: VARIANTS, results }, summary };
  },
});
