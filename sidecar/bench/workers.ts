// Every core (docs/workers.md): pgbench -S through regate with workers: 1 and workers: 2, in the same run.
//
//   npx tsx sidecar/bench/workers.ts
//
// One throwaway PostgreSQL (pgbenchDatabase: `pgbench -i -s 10`). Then `pgbench -n -S`, 8 clients, 2 threads, in
// prepared and simple mode, against PostgreSQL direct, regate with one process and regate with two workers
// (decision log on, example policy), and the same two with policy.eval_timeout_ms 0, interleaved, ROUNDS times 6 s each. Per run: tps, and CPU per
// transaction of all of regate's processes (with workers: the primary and every worker, read from /proc).
//
// Read the figures with the machine in mind: on the 2-core build machine pgbench, PostgreSQL and regate share
// the two cores, so a second worker can only take CPU the others were using; the scaling shown here is a
// floor for a machine where regate has cores of its own.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestPostgres } from "../test/support/postgres.js";
import { waitFor } from "./support/children.js";
import { pgbench, pgbenchDatabase, type Endpoint, type PgbenchResult, type QueryMode } from "./support/pgbench.js";
import { cpuWindow } from "./support/proc.js";
import { BENCH_AGENT, startRegateProcess, type RegateProcess } from "./support/regate.js";
import { fmt, QUICK, seconds, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { ratio } from "./support/stats.js";

const MODES: QueryMode[] = ["prepared", "simple"];
const SCALE = QUICK ? 2 : 10;
const CLIENTS = 8;
const THREADS = 2;
const ROUNDS = QUICK ? 1 : 2;
const RUN_S = seconds(6, 3);

interface Run extends PgbenchResult {
  regate_cpu_ms?: number;
  regate_cpu_us_per_tx?: number;
  /** With workers: what the primary (accepting, routing, forwarding log lines) spent of it. */
  primary_cpu_ms?: number;
  primary_cpu_us_per_tx?: number;
  machine_busy_pct?: number;
}

/** regate's processes: the primary and, with workers, its children. */
function processesOf(r: RegateProcess): number[] {
  const pid = r.child.pid!;
  try {
    return [pid, ...execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number)];
  } catch {
    return [pid];
  }
}

async function measured(ep: Endpoint, pids: number[], mode: QueryMode, primary?: number): Promise<Run> {
  const stop = cpuWindow(Object.fromEntries(pids.map((p) => [String(p), p])));
  const res = await pgbench(ep, { mode, clients: CLIENTS, threads: THREADS, seconds: RUN_S });
  const w = stop();
  const cpu = pids.length ? Object.values(w.ms).reduce((a, b) => a + b, 0) : undefined;
  return {
    ...res,
    ...(cpu !== undefined ? { regate_cpu_ms: cpu, regate_cpu_us_per_tx: Math.round((cpu * 1000) / Math.max(1, res.transactions)) } : {}),
    ...(primary !== undefined && w.ms[String(primary)] !== undefined ? { primary_cpu_ms: w.ms[String(primary)], primary_cpu_us_per_tx: Math.round((w.ms[String(primary)]! * 1000) / Math.max(1, res.transactions)) } : {}),
    ...(w.machine_busy_pct !== undefined ? { machine_busy_pct: w.machine_busy_pct } : {}),
  };
}

function combine(runs: Run[]): Run & { rounds_tps: number[] } {
  const sum = (f: (r: Run) => number | undefined) => runs.reduce((a, r) => a + (f(r) ?? 0), 0);
  const tx = sum((r) => r.transactions);
  const cpu = sum((r) => r.regate_cpu_ms);
  const primary = sum((r) => r.primary_cpu_ms);
  return {
    ...runs[runs.length - 1]!,
    rounds_tps: runs.map((r) => r.tps),
    tps: Math.round(sum((r) => r.tps) / runs.length),
    transactions: tx,
    ...(runs.every((r) => r.regate_cpu_ms !== undefined) ? { regate_cpu_ms: cpu, regate_cpu_us_per_tx: Math.round((cpu * 1000) / Math.max(1, tx)) } : {}),
    ...(runs.every((r) => r.primary_cpu_ms !== undefined) ? { primary_cpu_ms: primary, primary_cpu_us_per_tx: Math.round((primary * 1000) / Math.max(1, tx)) } : {}),
    machine_busy_pct: Math.round((sum((r) => r.machine_busy_pct) / runs.length) * 10) / 10,
  };
}

await runScenario({
  name: "workers",
  description: `pgbench -S, scale ${SCALE}, ${CLIENTS} clients, ${ROUNDS} x ${RUN_S} s per mode: regate workers 1 vs 2 (decision log on), direct for reference`,
  async run(log) {
    let db: TestPostgres | undefined;
    const regates: RegateProcess[] = [];
    try {
      db = await pgbenchDatabase(SCALE, log);
      const one = await startRegateProcess({ name: "workers-1", pg: db, decisionLog: true });
      regates.push(one);
      const two = await startRegateProcess({ name: "workers-2", pg: db, decisionLog: true, workers: 2 });
      regates.push(two);
      await waitFor("both workers to listen", () => readFileSync(join(two.dir, "regate.log"), "utf8").includes('"msg":"cluster ready"') || undefined);
      // The same pair with policy.eval_timeout_ms 0 (evaluation on each process's main thread): how much of
      // the difference is the evaluation threads' hand-offs on a machine with no core to spare.
      const oneOff = await startRegateProcess({ name: "workers-1-budget-off", pg: db, decisionLog: true, evalTimeoutMs: 0 });
      regates.push(oneOff);
      const twoOff = await startRegateProcess({ name: "workers-2-budget-off", pg: db, decisionLog: true, workers: 2, evalTimeoutMs: 0 });
      regates.push(twoOff);
      await waitFor("both workers to listen", () => readFileSync(join(twoOff.dir, "regate.log"), "utf8").includes('"msg":"cluster ready"') || undefined);
      const twoPids = processesOf(two);
      const twoOffPids = processesOf(twoOff);
      log(`workers: 2 runs as pids ${twoPids.join(", ")} (primary first)`);
      const up = db.users.scram;
      const direct: Endpoint = { label: "direct", port: db.port, user: up.user, password: up.password, database: db.database };
      const via = (r: RegateProcess, label: string): Endpoint => ({ label, port: r.ports.postgres!, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db!.database });

      const rounds: Record<string, { direct: Run[]; one: Run[]; two: Run[]; oneOff: Run[]; twoOff: Run[] }> = {};
      for (let round = 1; round <= ROUNDS; round++) {
        for (const mode of MODES) {
          const r = (rounds[mode] ??= { direct: [], one: [], two: [], oneOff: [], twoOff: [] });
          r.direct.push(await measured(direct, [], mode));
          r.one.push(await measured(via(one, "regate, workers 1"), processesOf(one), mode));
          r.two.push(await measured(via(two, "regate, workers 2"), twoPids, mode, twoPids[0]));
          r.oneOff.push(await measured(via(oneOff, "regate, workers 1, budget off"), processesOf(oneOff), mode));
          r.twoOff.push(await measured(via(twoOff, "regate, workers 2, budget off"), twoOffPids, mode, twoOffPids[0]));
          log(`round ${round}/${ROUNDS} ${mode.padEnd(8)} tps: direct ${fmt(r.direct.at(-1)!.tps)}, workers 1 ${fmt(r.one.at(-1)!.tps)}, workers 2 ${fmt(r.two.at(-1)!.tps)}`);
        }
      }
      const throughput: Record<string, { direct: Run; workers_1: Run; workers_2: Run; workers_1_budget_off: Run; workers_2_budget_off: Run }> = {};
      const summary: SummaryRow[] = [];
      for (const mode of MODES) {
        const r = rounds[mode]!;
        const t = { direct: combine(r.direct), workers_1: combine(r.one), workers_2: combine(r.two), workers_1_budget_off: combine(r.oneOff), workers_2_budget_off: combine(r.twoOff) };
        throughput[mode] = t;
        log(
          `${mode.padEnd(8)} tps: direct ${fmt(t.direct.tps)}, workers 1 ${fmt(t.workers_1.tps)} (${fmt(t.workers_1.regate_cpu_us_per_tx)} us CPU/tx), ` +
            `workers 2 ${fmt(t.workers_2.tps)} (${fmt(t.workers_2.regate_cpu_us_per_tx)} us CPU/tx, of which the primary ${fmt(t.workers_2.primary_cpu_us_per_tx)}); machine busy ${t.direct.machine_busy_pct}/${t.workers_1.machine_busy_pct}/${t.workers_2.machine_busy_pct}%`,
        );
        log(
          `${mode.padEnd(8)} budget off: workers 1 ${fmt(t.workers_1_budget_off.tps)} (${fmt(t.workers_1_budget_off.regate_cpu_us_per_tx)} us CPU/tx), ` +
            `workers 2 ${fmt(t.workers_2_budget_off.tps)} (${fmt(t.workers_2_budget_off.regate_cpu_us_per_tx)} us CPU/tx, of which the primary ${fmt(t.workers_2_budget_off.primary_cpu_us_per_tx)})`,
        );
        summary.push(
          {
            metric: `pgbench ${mode} tps, workers 2 vs 1, budget off`,
            value: t.workers_2_budget_off.tps,
            unit: "tps",
            baseline: { label: "workers 1", value: t.workers_1_budget_off.tps },
            ratio: ratio(t.workers_2_budget_off.tps, t.workers_1_budget_off.tps),
          },
          { metric: `pgbench ${mode} tps, workers 2 vs 1`, value: t.workers_2.tps, unit: "tps", baseline: { label: "workers 1", value: t.workers_1.tps }, ratio: ratio(t.workers_2.tps, t.workers_1.tps) },
          { metric: `pgbench ${mode} tps, workers 2 vs direct`, value: t.workers_2.tps, unit: "tps", baseline: { label: "direct", value: t.direct.tps }, ratio: ratio(t.workers_2.tps, t.direct.tps) },
          {
            metric: `pgbench ${mode} regate CPU per tx, workers 2 vs 1`,
            value: t.workers_2.regate_cpu_us_per_tx ?? Number.NaN,
            unit: "us",
            baseline: { label: "workers 1", value: t.workers_1.regate_cpu_us_per_tx ?? Number.NaN },
          },
        );
      }
      return { results: { scale: SCALE, clients: CLIENTS, threads: THREADS, rounds: ROUNDS, run_s: RUN_S, throughput }, summary };
    } finally {
      for (const r of regates) await r.stop().catch(() => undefined);
      await db?.stop().catch(() => undefined);
    }
  },
});
