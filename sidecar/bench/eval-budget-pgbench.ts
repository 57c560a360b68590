// What the evaluation budget (policy.eval_timeout_ms, on by default) costs a pgbench transaction through regate.
//
//   npx tsx sidecar/bench/eval-budget-pgbench.ts
//
// Subject: regate with the default budget (evaluation on the worker thread, policy/budgeted.ts).
// Baseline: the same regate with policy.eval_timeout_ms 0 (evaluation on the main thread), same run.
// Both with the example policy, and both with the example policy minus its `cache` directive ("no reuse":
// every statement evaluated, both entrypoints: what the budget costs where the policy allows no reuse).
// One throwaway PostgreSQL, `pgbench -i -s 10`; then `pgbench -n -S`, 8 clients, in each query mode, the
// targets in turn (the order rotated every round) so that load from other processes falls on all alike.
// Figures per mode: regate's CPU per transaction (from /proc; the figure that least depends on what else runs
// on a shared machine), median over rounds, and how many decisions per transaction were evaluated rather than
// reused (the example policy's `cache` directive lets identical statements reuse a decision; reuses are logged
// with `reused_from`, read from each regate's decision log). The added CPU per evaluated decision is the
// difference in CPU per transaction over the evaluated decisions per transaction.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../src/paths.js";
import type { TestPostgres } from "../test/support/postgres.js";
import { pgbench, pgbenchDatabase, type Endpoint, type QueryMode } from "./support/pgbench.js";
import { cpuWindow } from "./support/proc.js";
import { run, tempDir } from "./support/children.js";
import { BENCH_AGENT, startRegateProcess, type RegateProcess } from "./support/regate.js";
import { fmt, QUICK, seconds, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { median, ratio } from "./support/stats.js";

const MODES: QueryMode[] = ["simple", "extended", "prepared"];
const SCALE = QUICK ? 2 : 10;
const CLIENTS = 8;
const THREADS = 2;
const ROUNDS = QUICK ? 1 : 5;
const RUN_S = seconds(4, 2);

const TARGETS = ["on", "off", "on, no reuse", "off, no reuse"] as const;
type Target = (typeof TARGETS)[number];
/** Each subject and the baseline it is compared with. */
const PAIRS = [
  ["on", "off"],
  ["on, no reuse", "off, no reuse"],
] as const;

/** The example policy (rego/, as make bundle builds it) without its cache directive: no decision is reused. */
async function noReuseBundle(): Promise<string> {
  const dir = tempDir("regate-bench-no-reuse-");
  cpSync(join(packageRoot, "rego"), join(dir, "rego"), { recursive: true });
  const file = join(dir, "rego", "regate", "decision.rego");
  const text = readFileSync(file, "utf8");
  if (!text.includes('\nreuse := {"cache"')) throw new Error("rego/regate/decision.rego: no reuse rule to take out");
  writeFileSync(file, text.replace('\nreuse := {"cache"', '\nreuse := {}\n\nreuse_unused := {"cache"'));
  const out = join(dir, "no-reuse.tar.gz");
  const caps = join(packageRoot, "testdata", "opa", "wasm-capabilities.json");
  await run(join(packageRoot, ".bin", "opa"), ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", caps, "--ignore", "*_test.rego", "-r", "bench-no-reuse", "-o", out, join(dir, "rego")], { timeoutMs: 120_000 });
  return out;
}

interface Round {
  tps: number;
  cpu_us_per_tx: number;
  evaluated_per_tx: number;
  reused_per_tx: number;
  machine_busy_pct: number | undefined;
}

/** Decision-log lines written since `from`: evaluated ones and reused ones. */
function decisions(r: RegateProcess, from: number): { evaluated: number; reused: number } {
  const text = readFileSync(`${r.dir}/regate.log`).subarray(from).toString("utf8");
  let evaluated = 0;
  let reused = 0;
  for (const line of text.split("\n")) {
    if (!line.includes('"msg":"Decision Log"')) continue;
    if (line.includes('"reused_from"')) reused++;
    else evaluated++;
  }
  return { evaluated, reused };
}

await runScenario({
  name: "eval-budget-pgbench",
  description: `pgbench -S, ${CLIENTS} clients, ${ROUNDS} x ${RUN_S} s per mode: regate with the evaluation budget (default) vs without (eval_timeout_ms 0)`,
  async run(log) {
    let db: TestPostgres | undefined;
    const regates: RegateProcess[] = [];
    try {
      db = await pgbenchDatabase(SCALE, log);
      const noReuse = await noReuseBundle();
      const targets: Record<Target, RegateProcess> = {
        on: await startRegateProcess({ name: "budget-on", pg: db, decisionLog: true }),
        off: await startRegateProcess({ name: "budget-off", pg: db, decisionLog: true, evalTimeoutMs: 0 }),
        "on, no reuse": await startRegateProcess({ name: "budget-on-no-reuse", pg: db, decisionLog: true, bundle: noReuse }),
        "off, no reuse": await startRegateProcess({ name: "budget-off-no-reuse", pg: db, decisionLog: true, bundle: noReuse, evalTimeoutMs: 0 }),
      };
      regates.push(...Object.values(targets));
      const endpoint = (t: Target): Endpoint => ({ label: `regate budget ${t}`, port: targets[t].ports.postgres!, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db!.database });
      const rounds: Record<QueryMode, Record<Target, Round[]>> = {} as never;
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of MODES) {
          const r = (rounds[mode] ??= { on: [], off: [], "on, no reuse": [], "off, no reuse": [] });
          for (let k = 0; k < TARGETS.length; k++) {
            const t = TARGETS[(round + k) % TARGETS.length]!;
            const proc = targets[t];
            const bytes = proc.logBytes();
            const stop = cpuWindow({ proxy: proc.child.pid });
            const res = await pgbench(endpoint(t), { mode, clients: CLIENTS, threads: THREADS, seconds: RUN_S });
            const w = stop();
            const d = decisions(proc, bytes);
            r[t].push({
              tps: res.tps,
              cpu_us_per_tx: ((w.ms["proxy"] ?? Number.NaN) * 1000) / res.transactions,
              evaluated_per_tx: d.evaluated / res.transactions,
              reused_per_tx: d.reused / res.transactions,
              machine_busy_pct: w.machine_busy_pct,
            });
          }
          log(`round ${round + 1}/${ROUNDS} ${mode.padEnd(8)} CPU/tx: ${TARGETS.map((t) => `budget ${t} ${fmt(r[t].at(-1)!.cpu_us_per_tx)} us (${fmt(r[t].at(-1)!.tps)} tps)`).join(", ")}`);
        }
      }
      const round1 = (n: number, d = 10) => Math.round(n * d) / d;
      const results = Object.fromEntries(
        MODES.map((mode) => {
          const m = (t: Target, f: (r: Round) => number) => median(rounds[mode][t].map(f));
          const figures = (t: Target) => ({
            tps: Math.round(m(t, (r) => r.tps)),
            cpu_us_per_tx: round1(m(t, (r) => r.cpu_us_per_tx)),
            evaluated_per_tx: round1(m(t, (r) => r.evaluated_per_tx), 1000),
            reused_per_tx: round1(m(t, (r) => r.reused_per_tx), 1000),
          });
          const pairs = PAIRS.map(([subject, baseline]) => {
            const on = figures(subject);
            const off = figures(baseline);
            const added = on.cpu_us_per_tx - off.cpu_us_per_tx;
            return {
              subject,
              baseline,
              budget_on: on,
              budget_off: off,
              added_cpu_us_per_tx: round1(added),
              added_cpu_us_per_evaluated_decision: on.evaluated_per_tx > 0.05 ? round1(added / on.evaluated_per_tx) : null,
            };
          });
          const busy = TARGETS.flatMap((t) => rounds[mode][t].map((r) => r.machine_busy_pct ?? Number.NaN));
          return [mode, { pairs, machine_busy_pct: round1(median(busy)), rounds: rounds[mode] }];
        }),
      );
      const summary: SummaryRow[] = MODES.flatMap((mode) =>
        results[mode]!.pairs.flatMap((p) => [
          {
            metric: `pgbench ${mode} CPU per tx, budget ${p.subject}`,
            value: p.budget_on.cpu_us_per_tx,
            unit: "us",
            baseline: { label: `budget ${p.baseline}`, value: p.budget_off.cpu_us_per_tx },
            note: `+${p.added_cpu_us_per_tx} us/tx; ${p.budget_on.evaluated_per_tx} evaluated decisions/tx${p.added_cpu_us_per_evaluated_decision !== null ? `, +${p.added_cpu_us_per_evaluated_decision} us each` : ""}`,
          },
          { metric: `pgbench ${mode} tps, budget ${p.subject}`, value: p.budget_on.tps, unit: "tps", baseline: { label: `budget ${p.baseline}`, value: p.budget_off.tps }, ratio: ratio(p.budget_on.tps, p.budget_off.tps) },
        ]),
      );
      return { results: { scale: SCALE, clients: CLIENTS, threads: THREADS, rounds: ROUNDS, run_s: RUN_S, modes: results }, summary };
    } finally {
      for (const r of regates) await r.stop().catch(() => undefined);
      await db?.stop().catch(() => undefined);
    }
  },
});
