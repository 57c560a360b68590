// pgbench select-only through regate, against the same database direct and through pgbouncer.
//
//   npx tsx sidecar/bench/pgbench.ts [--profile]
//
// One throwaway PostgreSQL 18 (pgbenchDatabase: `pgbench -i -s 10` as the admin). Then `pgbench -n -S` (one
// `SELECT abalance FROM pgbench_accounts WHERE aid = ?` per transaction) in each query mode — simple (Query),
// extended (unnamed Parse/Bind/Execute every time), prepared (Parse once, then Bind/Execute) — 8 clients,
// 2 threads, twice per mode and target (interleaved, 6 s each), against:
//   direct     PostgreSQL itself
//   pgbouncer  session pooling, SCRAM both ways (the usual "something in the path" baseline)
//   bare pipe  a Node TCP proxy that only pipes bytes (support/pg-bare-proxy.ts): the floor for any proxy on
//              this runtime; regate's distance from it is the cost of its own work
//   regate     its own process, decision logs on (to a file), every statement decided by the example policy
//   regate, decision log off   the same with decision_log.enabled: false (secondary line)
//   regate, allow-all policy   decision log off and a policy that allows everything: what regate costs without
//              the example policy's work (protocol, SQL analysis, WASM call, pipeline) — where the time goes
//   regate, recording on   the first with every session recorded (recording.enabled; docs/recording.md)
//   regate, budget off     the first with policy.eval_timeout_ms 0: evaluation on the main thread, unbudgeted
//              (what the evaluation worker, on by default, costs per transaction; docs/reliability.md)
// Then 1 client per mode (pgbench --log) for p50/p99 latency per transaction.
//
// Per run, from /proc: CPU the proxy (regate or pgbouncer) used per transaction — on a shared 2-core machine the
// figure that least depends on what else runs. regate's caches are not visible from outside; what is: decisions
// per transaction (regate_decisions_total around a run, over pgbench's transaction count) and decision-log
// bytes per decision.
// With --profile (or BENCH_PROFILE=1), one more 8-client run per mode in BENCH_PROFILE_MODES (default
// "prepared,simple") against a regate started with --cpu-prof; top self-time functions are printed.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../src/paths.js";
import type { TestPostgres } from "../test/support/postgres.js";
import { formatProfile, type ProfileSummary } from "./support/cpuprofile.js";
import { run, startChild, tempDir, waitFor, type Child } from "./support/children.js";
import { PGBENCH, PGBOUNCER, pgbench, pgbenchDatabase, startPgbouncer, type Endpoint, type PgbenchResult, type PgbenchRun, type Pgbouncer, type QueryMode } from "./support/pgbench.js";
import { cpuWindow } from "./support/proc.js";
import { BENCH_AGENT, buildAllowAllBundle, profileOf, startRegateProcess, type RegateProcess } from "./support/regate.js";
import { BENCH_DIR, fmt, PROFILE, QUICK, seconds, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { ratio } from "./support/stats.js";

const MODES: QueryMode[] = ["simple", "extended", "prepared"];
const SCALE = QUICK ? 2 : 10;
const CLIENTS = 8;
const THREADS = 2;
/** Each target runs ROUNDS times per mode, the targets interleaved, so drifting background load hits them alike. */
const ROUNDS = QUICK ? 1 : 2;
const RUN_S = seconds(6, 3);
const LATENCY_S = seconds(5, 2);
const PROFILE_MODES = (process.env["BENCH_PROFILE_MODES"] ?? "prepared,simple").split(",").filter((m): m is QueryMode => (MODES as string[]).includes(m));

interface Measured extends PgbenchResult {
  /** CPU the proxy process (regate or pgbouncer) used, per transaction, and how busy the whole machine was. */
  proxy_cpu_ms?: number;
  proxy_cpu_us_per_tx?: number;
  machine_busy_pct?: number;
}

interface RegateRun extends Measured {
  decisions: number;
  decisions_per_tx: number;
  log_bytes?: number;
  log_bytes_per_decision?: number;
}

/** Several rounds of one target as one figure: mean tps, summed counts, per-transaction costs over the sum. */
function combine<T extends Measured>(runs: T[]): T & { rounds_tps: number[] } {
  const sum = (f: (r: T) => number | undefined) => runs.reduce((a, r) => a + (f(r) ?? 0), 0);
  const mean = (f: (r: T) => number | undefined) => Math.round((sum(f) / runs.length) * 1000) / 1000;
  const out = { ...runs[runs.length - 1]!, rounds_tps: runs.map((r) => r.tps) } as T & { rounds_tps: number[] } & Partial<RegateRun>;
  out.tps = Math.round(mean((r) => r.tps));
  out.transactions = sum((r) => r.transactions);
  out.failed = sum((r) => r.failed);
  out.latency_avg_ms = mean((r) => r.latency_avg_ms);
  if (runs.every((r) => r.machine_busy_pct !== undefined)) out.machine_busy_pct = Math.round(mean((r) => r.machine_busy_pct) * 10) / 10;
  if (runs.every((r) => r.proxy_cpu_ms !== undefined)) {
    out.proxy_cpu_ms = sum((r) => r.proxy_cpu_ms);
    out.proxy_cpu_us_per_tx = Math.round((out.proxy_cpu_ms * 1000) / out.transactions);
  }
  const regateRuns = runs as unknown as RegateRun[];
  if (regateRuns.every((r) => r.decisions !== undefined)) {
    out.decisions = regateRuns.reduce((a, r) => a + r.decisions, 0);
    out.decisions_per_tx = Math.round((out.decisions / out.transactions) * 1000) / 1000;
    if (regateRuns.every((r) => r.log_bytes !== undefined)) {
      out.log_bytes = regateRuns.reduce((a, r) => a + r.log_bytes!, 0);
      out.log_bytes_per_decision = Math.round(out.log_bytes / Math.max(1, out.decisions));
    }
  }
  return out;
}

await runScenario({
  name: "pgbench",
  description: `pgbench -S (select only), scale ${SCALE}, ${CLIENTS} clients, ${ROUNDS} x ${RUN_S} s per mode and target: direct vs pgbouncer vs regate`,
  async run(log) {
    let db: TestPostgres | undefined;
    let bouncer: Pgbouncer | undefined;
    let bare: Child | undefined;
    const regates: RegateProcess[] = [];
    const logDir = tempDir("regate-bench-pgbench-");
    try {
      db = await pgbenchDatabase(SCALE, log);
      const versions = {
        postgres: String((await db.query("SHOW server_version"))[0]?.server_version ?? "unknown"),
        pgbench: (await run(PGBENCH, ["--version"])).stdout.trim(),
        pgbouncer: (await run(PGBOUNCER, ["--version"])).stdout.split("\n")[0]?.trim() ?? "unknown",
      };
      log(`PostgreSQL ${versions.postgres} on port ${db.port}; ${versions.pgbench}; ${versions.pgbouncer}`);
      bouncer = await startPgbouncer(db, db.users.scram, CLIENTS + 2);
      const bareChild = startChild("pg-bare-proxy", process.execPath, ["--import", "tsx", join(packageRoot, "sidecar", "bench", "support", "pg-bare-proxy.ts"), String(db.port)], { cwd: packageRoot });
      bare = bareChild;
      const barePort = await waitFor("the bare pipe proxy to listen", () => {
        const m = /\{"port":(\d+)\}/.exec(bareChild.output());
        return m ? Number(m[1]) : undefined;
      });
      const regate = await startRegateProcess({ name: "pgbench", pg: db, decisionLog: true });
      regates.push(regate);
      const regateNoLog = await startRegateProcess({ name: "pgbench-nolog", pg: db, decisionLog: false });
      regates.push(regateNoLog);
      const regateAllowAll = await startRegateProcess({ name: "pgbench-allow-all", pg: db, decisionLog: false, bundle: await buildAllowAllBundle() });
      regates.push(regateAllowAll);
      // The cost of recording every session (issue 12): the same as `regate`, with recordings on.
      const recordingDir = tempDir("regate-bench-recordings-");
      const regateRecording = await startRegateProcess({ name: "pgbench-recording", pg: db, decisionLog: true, recordingDir });
      regates.push(regateRecording);
      const regateBudgetOff = await startRegateProcess({ name: "pgbench-budget-off", pg: db, decisionLog: true, evalTimeoutMs: 0 });
      regates.push(regateBudgetOff);

      const upstreamUser = db.users.scram;
      const endpoints = {
        direct: { label: "direct", port: db.port, user: upstreamUser.user, password: upstreamUser.password, database: db.database },
        pgbouncer: { label: "pgbouncer", port: bouncer.port, user: upstreamUser.user, password: upstreamUser.password, database: db.database },
        bare: { label: "bare pipe proxy", port: barePort, user: upstreamUser.user, password: upstreamUser.password, database: db.database },
        regate: { label: "regate", port: regate.ports.postgres!, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db.database },
        regateNoLog: { label: "regate, decision log off", port: regateNoLog.ports.postgres!, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db.database },
        regateAllowAll: { label: "regate, allow-all policy", port: regateAllowAll.ports.postgres!, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db.database },
        regateRecording: { label: "regate, recording on", port: regateRecording.ports.postgres!, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db.database },
        regateBudgetOff: { label: "regate, budget off", port: regateBudgetOff.ports.postgres!, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db.database },
      } satisfies Record<string, Endpoint>;

      const measured = async (ep: Endpoint, proxyPid: number | undefined, r: PgbenchRun): Promise<Measured> => {
        const stop = cpuWindow({ proxy: proxyPid });
        const res = await pgbench(ep, r);
        const w = stop();
        const proxyMs = w.ms["proxy"];
        return {
          ...res,
          ...(proxyMs !== undefined ? { proxy_cpu_ms: proxyMs, proxy_cpu_us_per_tx: Math.round((proxyMs * 1000) / res.transactions) } : {}),
          ...(w.machine_busy_pct !== undefined ? { machine_busy_pct: w.machine_busy_pct } : {}),
        };
      };
      const throughRegate = async (r: RegateProcess, ep: Endpoint, mode: QueryMode, clients: number, s: number, withLog = false): Promise<RegateRun> => {
        const d0 = await r.decisions();
        const b0 = r.logBytes();
        const res = await measured(ep, r.child.pid, { mode, clients, threads: Math.min(clients, THREADS), seconds: s, ...(withLog ? { logDir } : {}) });
        const decisions = (await r.decisions()) - d0;
        const bytes = r.logBytes() - b0;
        return {
          ...res,
          decisions,
          decisions_per_tx: Math.round((decisions / res.transactions) * 1000) / 1000,
          ...(r === regate || r === regateBudgetOff ? { log_bytes: bytes, log_bytes_per_decision: Math.round(bytes / Math.max(1, decisions)) } : {}),
        };
      };

      // Throughput, 8 clients: the four targets back to back per mode, ROUNDS times over.
      const rounds: Record<QueryMode, { direct: Measured[]; pgbouncer: Measured[]; bare: Measured[]; regate: RegateRun[]; regate_no_decision_log: RegateRun[]; regate_allow_all: RegateRun[]; regate_recording: RegateRun[]; regate_budget_off: RegateRun[] }> = {} as never;
      for (let round = 1; round <= ROUNDS; round++) {
        for (const mode of MODES) {
          const spec = { mode, clients: CLIENTS, threads: THREADS, seconds: RUN_S };
          const r = (rounds[mode] ??= { direct: [], pgbouncer: [], bare: [], regate: [], regate_no_decision_log: [], regate_allow_all: [], regate_recording: [], regate_budget_off: [] });
          r.direct.push(await measured(endpoints.direct, undefined, spec));
          r.pgbouncer.push(await measured(endpoints.pgbouncer, bouncer.child.pid, spec));
          r.bare.push(await measured(endpoints.bare, bareChild.pid, spec));
          r.regate.push(await throughRegate(regate, endpoints.regate, mode, CLIENTS, RUN_S));
          r.regate_no_decision_log.push(await throughRegate(regateNoLog, endpoints.regateNoLog, mode, CLIENTS, RUN_S));
          r.regate_allow_all.push(await throughRegate(regateAllowAll, endpoints.regateAllowAll, mode, CLIENTS, RUN_S));
          r.regate_recording.push(await throughRegate(regateRecording, endpoints.regateRecording, mode, CLIENTS, RUN_S));
          r.regate_budget_off.push(await throughRegate(regateBudgetOff, endpoints.regateBudgetOff, mode, CLIENTS, RUN_S));
          log(
            `round ${round}/${ROUNDS} ${mode.padEnd(8)} tps: direct ${fmt(r.direct.at(-1)!.tps)}, pgbouncer ${fmt(r.pgbouncer.at(-1)!.tps)}, regate ${fmt(r.regate.at(-1)!.tps)}, ` +
              `without decision log ${fmt(r.regate_no_decision_log.at(-1)!.tps)}, allow-all policy ${fmt(r.regate_allow_all.at(-1)!.tps)}`,
          );
        }
      }
      const throughput: Record<QueryMode, { direct: Measured; pgbouncer: Measured; bare: Measured; regate: RegateRun; regate_no_decision_log: RegateRun; regate_allow_all: RegateRun; regate_recording: RegateRun; regate_budget_off: RegateRun }> = {} as never;
      for (const mode of MODES) {
        const r = rounds[mode];
        const direct = combine(r.direct);
        const pgb = combine(r.pgbouncer);
        const bareRun = combine(r.bare);
        const viaRegate = combine(r.regate);
        const viaNoLog = combine(r.regate_no_decision_log);
        const allowAll = combine(r.regate_allow_all);
        const recording = combine(r.regate_recording);
        const budgetOff = combine(r.regate_budget_off);
        throughput[mode] = { direct, pgbouncer: pgb, bare: bareRun, regate: viaRegate, regate_no_decision_log: viaNoLog, regate_allow_all: allowAll, regate_recording: recording, regate_budget_off: budgetOff };
        log(
          `${mode.padEnd(8)} tps: direct ${fmt(direct.tps)}, pgbouncer ${fmt(pgb.tps)} (${fmt(pgb.proxy_cpu_us_per_tx)} us CPU/tx), bare pipe ${fmt(bareRun.tps)} (${fmt(bareRun.proxy_cpu_us_per_tx)} us CPU/tx), ` +
            `regate ${fmt(viaRegate.tps)} (${fmt(viaRegate.proxy_cpu_us_per_tx)} us CPU/tx, ${viaRegate.decisions_per_tx} decisions/tx, ${fmt(viaRegate.log_bytes_per_decision)} log bytes/decision), ` +
            `without decision log ${fmt(viaNoLog.tps)} (${fmt(viaNoLog.proxy_cpu_us_per_tx)} us CPU/tx), allow-all policy ${fmt(allowAll.tps)} (${fmt(allowAll.proxy_cpu_us_per_tx)} us CPU/tx), recording on ${fmt(recording.tps)} (${fmt(recording.proxy_cpu_us_per_tx)} us CPU/tx), ` +
            `budget off ${fmt(budgetOff.tps)} (${fmt(budgetOff.proxy_cpu_us_per_tx)} us CPU/tx, ${budgetOff.decisions_per_tx} decisions/tx); ` +
            `machine busy ${direct.machine_busy_pct}/${pgb.machine_busy_pct}/${viaRegate.machine_busy_pct}/${viaNoLog.machine_busy_pct}/${allowAll.machine_busy_pct}%`,
        );
      }

      // Latency, 1 client.
      const latency: Record<QueryMode, { direct: PgbenchResult; pgbouncer: PgbenchResult; bare: PgbenchResult; regate: RegateRun }> = {} as never;
      for (const mode of MODES) {
        const one = (ep: Endpoint) => pgbench(ep, { mode, clients: 1, threads: 1, seconds: LATENCY_S, logDir });
        const direct = await one(endpoints.direct);
        const pgb = await one(endpoints.pgbouncer);
        const bareOne = await one(endpoints.bare);
        const viaRegate = await throughRegate(regate, endpoints.regate, mode, 1, LATENCY_S, true);
        latency[mode] = { direct, pgbouncer: pgb, bare: bareOne, regate: viaRegate };
        const l = (r: PgbenchResult) => `p50 ${fmt(r.latency_us?.p50)} us / p99 ${fmt(r.latency_us?.p99)} us`;
        log(`${mode.padEnd(8)} 1 client: direct ${l(direct)}, pgbouncer ${l(pgb)}, bare pipe ${l(bareOne)}, regate ${l(viaRegate)}`);
      }

      const profiles: Partial<Record<QueryMode, ProfileSummary>> = {};
      if (PROFILE) {
        for (const mode of PROFILE_MODES) {
          const profiled = await startRegateProcess({ name: `pgbench-${mode}-profile`, pg: db, decisionLog: true, cpuProfDir: join(BENCH_DIR, "profiles") });
          regates.push(profiled);
          const ep = { ...endpoints.regate, label: "regate --cpu-prof", port: profiled.ports.postgres! };
          const r = await pgbench(ep, { mode, clients: CLIENTS, threads: THREADS, seconds: RUN_S * 2 });
          log(`${mode} with --cpu-prof (not a figure): ${fmt(r.tps)} tps`);
          profiles[mode] = await profileOf(profiled);
          log(formatProfile(profiles[mode]!));
        }
      }

      const summary: SummaryRow[] = [];
      for (const mode of MODES) {
        const t = throughput[mode];
        summary.push(
          { metric: `pgbench ${mode} tps vs pgbouncer`, value: t.regate.tps, unit: "tps", baseline: { label: "pgbouncer", value: t.pgbouncer.tps }, ratio: ratio(t.regate.tps, t.pgbouncer.tps) },
          { metric: `pgbench ${mode} tps vs direct`, value: t.regate.tps, unit: "tps", baseline: { label: "direct", value: t.direct.tps }, ratio: ratio(t.regate.tps, t.direct.tps) },
          { metric: `pgbench ${mode} tps vs bare pipe proxy`, value: t.regate.tps, unit: "tps", baseline: { label: "bare pipe (Node floor)", value: t.bare.tps }, ratio: ratio(t.regate.tps, t.bare.tps) },
          { metric: `pgbench ${mode} bare pipe proxy tps vs pgbouncer`, value: t.bare.tps, unit: "tps", baseline: { label: "pgbouncer", value: t.pgbouncer.tps }, ratio: ratio(t.bare.tps, t.pgbouncer.tps) },
          {
            metric: `pgbench ${mode} tps, decision log off`,
            value: t.regate_no_decision_log.tps,
            unit: "tps",
            baseline: { label: "pgbouncer", value: t.pgbouncer.tps },
            ratio: ratio(t.regate_no_decision_log.tps, t.pgbouncer.tps),
          },
        );
      }
      for (const mode of MODES) {
        const t = throughput[mode];
        summary.push(
          { metric: `pgbench ${mode} tps, allow-all policy`, value: t.regate_allow_all.tps, unit: "tps", baseline: { label: "pgbouncer", value: t.pgbouncer.tps }, ratio: ratio(t.regate_allow_all.tps, t.pgbouncer.tps) },
          {
            metric: `pgbench ${mode} proxy CPU per tx`,
            value: t.regate.proxy_cpu_us_per_tx ?? Number.NaN,
            unit: "us",
            baseline: { label: "pgbouncer", value: t.pgbouncer.proxy_cpu_us_per_tx ?? Number.NaN },
          },
          {
            metric: `pgbench ${mode} CPU per tx, allow-all, no log`,
            value: t.regate_allow_all.proxy_cpu_us_per_tx ?? Number.NaN,
            unit: "us",
            baseline: { label: "pgbouncer", value: t.pgbouncer.proxy_cpu_us_per_tx ?? Number.NaN },
          },
          {
            metric: `pgbench ${mode} CPU per tx, recording on`,
            value: t.regate_recording.proxy_cpu_us_per_tx ?? Number.NaN,
            unit: "us",
            baseline: { label: "recording off", value: t.regate.proxy_cpu_us_per_tx ?? Number.NaN },
          },
          {
            metric: `pgbench ${mode} CPU per tx, evaluation budget (default) vs off`,
            value: t.regate.proxy_cpu_us_per_tx ?? Number.NaN,
            unit: "us",
            baseline: { label: "budget off", value: t.regate_budget_off.proxy_cpu_us_per_tx ?? Number.NaN },
          },
          { metric: `pgbench ${mode} tps, evaluation budget (default) vs off`, value: t.regate.tps, unit: "tps", baseline: { label: "budget off", value: t.regate_budget_off.tps }, ratio: ratio(t.regate.tps, t.regate_budget_off.tps) },
        );
      }
      for (const mode of MODES) {
        const l = latency[mode];
        summary.push(
          { metric: `pgbench ${mode} 1-client p50`, value: l.regate.latency_us!.p50, unit: "us", baseline: { label: "pgbouncer", value: l.pgbouncer.latency_us!.p50 } },
          { metric: `pgbench ${mode} 1-client p99`, value: l.regate.latency_us!.p99, unit: "us", baseline: { label: "pgbouncer", value: l.pgbouncer.latency_us!.p99 } },
          {
            metric: `pgbench ${mode} 1-client added p50 over direct`,
            value: l.regate.latency_us!.p50 - l.direct.latency_us!.p50,
            unit: "us",
            baseline: { label: "bare pipe", value: l.bare.latency_us!.p50 - l.direct.latency_us!.p50 },
            note: "goal <= 50 us",
          },
          {
            metric: `pgbench ${mode} 1-client added p99 over direct`,
            value: l.regate.latency_us!.p99 - l.direct.latency_us!.p99,
            unit: "us",
            baseline: { label: "bare pipe", value: l.bare.latency_us!.p99 - l.direct.latency_us!.p99 },
            note: "goal <= 200 us",
          },
        );
      }
      summary.push({ metric: "pgbench decisions per transaction (prepared)", value: throughput.prepared.regate.decisions_per_tx, unit: "" });
      return {
        results: { scale: SCALE, clients: CLIENTS, threads: THREADS, rounds: ROUNDS, run_s: RUN_S, latency_s: LATENCY_S, versions, throughput, latency_1_client: latency, profiles },
        summary,
      };
    } finally {
      for (const r of regates) await r.stop().catch(() => undefined);
      await bouncer?.stop().catch(() => undefined);
      await bare?.stop().catch(() => undefined);
      await db?.stop().catch(() => undefined);
      rmSync(logDir, { recursive: true, force: true });
    }
  },
});
