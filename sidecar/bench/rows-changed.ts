// What the rows_changed_per_transaction budget costs (docs/postgres.md, "Rows changed per transaction").
//
//   npx tsx sidecar/bench/rows-changed.ts
//
// Two regates in front of one PostgreSQL (pgbench -i -s 2), both with the allow-all policy (the example policy
// refuses pgbench's writes) and the decision log off, one with rows_changed_per_transaction: 1000 and one
// without, measured in the same run, rounds interleaved. pgbench -M prepared, 4 clients:
//   select-only  one SELECT per transaction, in autocommit: with the budget each runs in regate's own
//                transaction (BEGIN and the counters' read with it, the count with the COMMIT)
//   tpcb-like    BEGIN; three UPDATEs, a SELECT and an INSERT; END: with the budget a count after each
//                statement of the block and one before its END
// The ratio is with / without (throughput; regate's CPU per transaction is in the results).
import type { TestPostgres } from "../test/support/postgres.js";
import { pgbench, pgbenchDatabase, type Endpoint, type PgbenchResult } from "./support/pgbench.js";
import { cpuWindow } from "./support/proc.js";
import { BENCH_AGENT, buildAllowAllBundle, startRegateProcess, type RegateProcess } from "./support/regate.js";
import { fmt, QUICK, seconds, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";

const CLIENTS = 4;
const ROUNDS = QUICK ? 1 : 3;
const RUN_S = seconds(6, 2);
const SCRIPTS = ["select-only", "tpcb-like"] as const;

interface Run extends PgbenchResult {
  proxy_cpu_us_per_tx: number;
}

await runScenario({
  name: "rows-changed",
  description: "rows_changed_per_transaction on vs off, pgbench prepared, 4 clients, allow-all policy",
  async run(log) {
    let db: TestPostgres | undefined;
    const regates: RegateProcess[] = [];
    try {
      db = await pgbenchDatabase(2, log);
      const bundle = await buildAllowAllBundle();
      const off = await startRegateProcess({ name: "rows-changed-off", pg: db, decisionLog: false, bundle });
      regates.push(off);
      const on = await startRegateProcess({ name: "rows-changed-on", pg: db, decisionLog: false, bundle, budgets: { rows_changed_per_transaction: 1000 } });
      regates.push(on);
      const endpoint = (r: RegateProcess, label: string): Endpoint => ({ label, port: r.ports.postgres!, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db!.database });
      const measure = async (r: RegateProcess, label: string, script: (typeof SCRIPTS)[number]): Promise<Run> => {
        const stop = cpuWindow({ proxy: r.child.pid });
        const res = await pgbench(endpoint(r, label), { mode: "prepared", clients: CLIENTS, threads: 2, seconds: RUN_S, ...(script === "tpcb-like" ? { builtin: script } : {}) });
        const ms = stop().ms["proxy"] ?? 0;
        return { ...res, proxy_cpu_us_per_tx: Math.round((ms * 1000) / res.transactions) };
      };
      const runs: Record<string, { off: Run[]; on: Run[] }> = {};
      for (let round = 1; round <= ROUNDS; round++) {
        for (const script of SCRIPTS) {
          const r = (runs[script] ??= { off: [], on: [] });
          r.off.push(await measure(off, "budget off", script));
          r.on.push(await measure(on, "budget on", script));
          log(`round ${round}/${ROUNDS} ${script}: off ${fmt(r.off.at(-1)!.tps)} tps, on ${fmt(r.on.at(-1)!.tps)} tps`);
        }
      }
      const mean = (xs: Run[], k: "tps" | "proxy_cpu_us_per_tx") => Math.round(xs.reduce((a, x) => a + x[k], 0) / xs.length);
      const summary: SummaryRow[] = [];
      const results: Record<string, unknown> = {};
      for (const script of SCRIPTS) {
        const r = runs[script]!;
        const [offTps, onTps] = [mean(r.off, "tps"), mean(r.on, "tps")];
        results[script] = { off: { tps: offTps, cpu_us_per_tx: mean(r.off, "proxy_cpu_us_per_tx"), runs: r.off }, on: { tps: onTps, cpu_us_per_tx: mean(r.on, "proxy_cpu_us_per_tx"), runs: r.on } };
        log(`${script}: off ${fmt(offTps)} tps (${fmt(mean(r.off, "proxy_cpu_us_per_tx"))} us CPU/tx), on ${fmt(onTps)} tps (${fmt(mean(r.on, "proxy_cpu_us_per_tx"))} us CPU/tx)`);
        summary.push({ metric: `rows_changed budget on, pgbench ${script} (tps)`, value: onTps, unit: "tps", baseline: { label: "budget off", value: offTps }, ratio: Math.round((onTps / offTps) * 1000) / 1000 });
      }
      return { results, summary };
    } finally {
      for (const r of regates) await r.stop();
      await db?.stop();
    }
  },
});
