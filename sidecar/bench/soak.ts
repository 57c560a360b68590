// The write soak, long version (make soak): pgbench TPC-B-like writes through regate for SOAK_SECONDS
// (default 600), then the database is reconciled exactly with what pgbench saw committed, and regate's RSS
// over the run is reported. The short version runs in make test (sidecar/test/reliability/soak.test.ts).
//
//   npx tsx sidecar/bench/soak.ts        SOAK_SECONDS, SOAK_CLIENTS (default 16), SOAK_MODE (default prepared)
//
// Exit 1 when the reconciliation fails or RSS grew more than SOAK_RSS_GROWTH_MB (default 64) after warm-up.
import { startPostgres, type TestPostgres } from "../test/support/postgres.js";
import { reconcile, rssGrowth } from "../test/reliability/soak-check.js";
import { runSoak } from "../test/reliability/soak-run.js";
import { runScenario } from "./support/scenario.js";

const SECONDS = Number(process.env["SOAK_SECONDS"] ?? 600);
const CLIENTS = Number(process.env["SOAK_CLIENTS"] ?? 16);
const MODE = (process.env["SOAK_MODE"] ?? "prepared") as "simple" | "extended" | "prepared";
const MAX_GROWTH_MB = Number(process.env["SOAK_RSS_GROWTH_MB"] ?? 64);

await runScenario({
  name: "soak",
  description: `write soak: pgbench TPC-B-like script through regate, ${CLIENTS} clients, ${MODE}, ${SECONDS} s, then exact reconciliation`,
  async run(log) {
    let db: TestPostgres | undefined;
    try {
      db = await startPostgres({ loadDemo: false, settings: { shared_buffers: "128MB" } });
      const r = await runSoak(db, { seconds: SECONDS, clients: CLIENTS, mode: MODE, branches: 8, keepLog: false, log });
      const problems = [...reconcile(r)];
      const growth = rssGrowth(r);
      log(`${r.transactions} transactions (${r.tps} tps), ${r.failed} failed, history rows ${r.history_rows}, sums ${JSON.stringify(r.sums)}`);
      log(`regate RSS MB: start ${r.rss_mb.start}, after warm-up ${r.rss_mb.after_warmup}, end ${r.rss_mb.end}, max ${r.rss_mb.max}; growth after warm-up ${growth} MB`);
      if (growth > MAX_GROWTH_MB) problems.push(`RSS grew ${growth} MB after warm-up (limit ${MAX_GROWTH_MB})`);
      if (problems.length) throw new Error(`soak failed:\n- ${problems.join("\n- ")}`);
      return {
        results: { ...r, rss_mb: { ...r.rss_mb, samples: r.rss_mb.samples } },
        summary: [
          { metric: "soak transactions reconciled", value: r.transactions, unit: "tx" },
          { metric: "soak tps through regate", value: r.tps, unit: "tps" },
          { metric: "soak regate RSS max", value: r.rss_mb.max, unit: "MB" },
          { metric: "soak decision log", value: Math.round(r.decision_log_bytes / 1048576), unit: "MB" },
          { metric: "soak RSS growth after warm-up", value: growth, unit: "MB" },
        ],
      };
    } finally {
      await db?.stop().catch(() => undefined);
    }
  },
});
