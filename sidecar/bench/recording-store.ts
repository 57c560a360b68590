// What the fleet store (recording.postgres, docs/recording.md) costs on top of recording to local files.
//
//   npx tsx sidecar/bench/recording-store.ts
//
// One throwaway PostgreSQL, `pgbench -i -s 10`; the store is a second database on the same server (as
// regate_audit). Two regate processes with recording on, one of them also copying every record to the
// store. `pgbench -n -S -M prepared`, 8 clients, the two targets interleaved ROUNDS times, 6 s each.
// Per target: tps, regate's CPU per transaction (/proc), and for the store: records copied, the deepest
// queue seen (sampled every 100 ms from the metrics endpoint), drops (must be 0: on_backlog refuse).
// With --profile, the store's regate runs with --cpu-prof and its top functions are printed.
import type { TestPostgres } from "../test/support/postgres.js";
import { tempDir } from "./support/children.js";
import { pgbench, pgbenchDatabase, type Endpoint } from "./support/pgbench.js";
import { cpuWindow } from "./support/proc.js";
import { formatProfile } from "./support/cpuprofile.js";
import { BENCH_AGENT, profileOf, startRegateProcess, type RegateProcess } from "./support/regate.js";
import { fmt, PROFILE, QUICK, seconds } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { ratio } from "./support/stats.js";

const CLIENTS = 8;
const ROUNDS = QUICK ? 1 : 3;
const RUN_S = seconds(6, 3);

async function metric(r: RegateProcess, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${r.ports.admin}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

await runScenario({
  name: "recording-store",
  description: `pgbench -S prepared, ${CLIENTS} clients, ${ROUNDS} x ${RUN_S} s: recording to files vs files + the PostgreSQL fleet store`,
  async run(log) {
    let db: TestPostgres | undefined;
    const regates: RegateProcess[] = [];
    try {
      db = await pgbenchDatabase(QUICK ? 2 : 10, log);
      await db.query("CREATE DATABASE regate_audit");
      const files = await startRegateProcess({ name: "rec-files", pg: db, decisionLog: true, recordingDir: tempDir("regate-bench-rec-files-") });
      regates.push(files);
      const store = await startRegateProcess({
        name: "rec-store",
        pg: db,
        decisionLog: true,
        recordingDir: tempDir("regate-bench-rec-store-"),
        recordingStore: { enabled: true, replica: "bench", database: "regate_audit", user: db.adminUser, password: { value: db.adminPassword } },
        ...(PROFILE ? { cpuProfDir: tempDir("regate-bench-rec-store-prof-") } : {}),
      });
      regates.push(store);
      const ep = (r: RegateProcess): Endpoint => ({ label: r.name, port: r.ports.postgres!, user: BENCH_AGENT.user, password: BENCH_AGENT.token, database: db!.database });
      const runs: Record<string, { tps: number[]; cpu_us_per_tx: number[] }> = { files: { tps: [], cpu_us_per_tx: [] }, store: { tps: [], cpu_us_per_tx: [] } };
      let deepest = 0;
      for (let round = 1; round <= ROUNDS; round++) {
        for (const [label, r] of [["files", files], ["store", store]] as const) {
          let sampling = label === "store";
          const sampler = (async () => {
            while (sampling) {
              deepest = Math.max(deepest, (await metric(r, "regate_recording_store_queue_depth")) ?? 0);
              await new Promise((res) => setTimeout(res, 100));
            }
          })();
          const stop = cpuWindow({ regate: r.child.pid });
          const res = await pgbench(ep(r), { mode: "prepared", clients: CLIENTS, threads: 2, seconds: RUN_S });
          const w = stop();
          sampling = false;
          await sampler;
          runs[label]!.tps.push(res.tps);
          runs[label]!.cpu_us_per_tx.push(Math.round(((w.ms["regate"] ?? 0) * 1000) / res.transactions));
          log(`round ${round}/${ROUNDS} ${label.padEnd(5)} ${fmt(res.tps)} tps, ${fmt(runs[label]!.cpu_us_per_tx.at(-1))} us CPU/tx`);
        }
      }
      // Everything queued reaches the store once the load stops.
      const t0 = Date.now();
      while (((await metric(store, "regate_recording_store_queue_depth")) ?? 0) > 0 && Date.now() - t0 < 30_000) await new Promise((res) => setTimeout(res, 100));
      const copied = (await metric(store, "regate_recording_store_records_total")) ?? 0;
      const dropped = (await metric(store, "regate_recording_store_dropped_total")) ?? Number.NaN;
      if (PROFILE) {
        regates.splice(regates.indexOf(store), 1);
        log(formatProfile(await profileOf(store)));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const f = { tps: median(runs["files"]!.tps), cpu: median(runs["files"]!.cpu_us_per_tx) };
      const s = { tps: median(runs["store"]!.tps), cpu: median(runs["store"]!.cpu_us_per_tx) };
      log(`files only: ${fmt(f.tps)} tps, ${fmt(f.cpu)} us CPU/tx; with the store: ${fmt(s.tps)} tps, ${fmt(s.cpu)} us CPU/tx; ${fmt(copied)} records copied, deepest queue ${fmt(deepest)}, ${fmt(dropped)} dropped`);
      return {
        results: { runs, copied, deepest_queue: deepest, dropped },
        summary: [
          { metric: "pgbench prepared tps, recording + fleet store", value: s.tps, unit: "tps", baseline: { label: "recording to files only", value: f.tps }, ratio: ratio(s.tps, f.tps) },
          { metric: "pgbench prepared CPU per tx, recording + fleet store", value: s.cpu, unit: "us", baseline: { label: "recording to files only", value: f.cpu }, ratio: ratio(s.cpu, f.cpu) },
          { metric: "fleet store: records dropped (on_backlog refuse)", value: dropped, unit: "records", note: `deepest queue ${deepest} records; ${copied} copied` },
        ],
      };
    } finally {
      for (const r of regates) await r.stop();
      await db?.stop();
    }
  },
});
