// Masking cost on a large result: a 1,000,000-row SELECT through regate, masked vs unmasked, and direct.
//
//   npx tsx sidecar/bench/masking.ts
//
// public.customers gets 1,000,000 generated rows (server-side generate_series) beside the 2,000 demo rows.
// The example policy masks customers.email (partial), phone and ssn (redact), card_number (partial). Queries:
//   masked    SELECT email, phone, ssn FROM customers            3 masked text columns
//   unmasked  SELECT id, full_name, created_at FROM customers    nothing masked, about the same bytes per row
// Each runs through psql (-At, output to /dev/null: the simple-query DataRow path a human or a script uses)
// against regate (its own process, decision logs on) and direct, 3 times each, interleaved; the median wall
// time counts. Rows/s = rows / wall time.
// Goal (issue 5): masked through regate >= 0.7x unmasked through regate.
//
// With --profile (or BENCH_PROFILE=1), the masked query runs once more against a regate started with --cpu-prof.
import { startPostgres, type TestPostgres } from "../test/support/postgres.js";
import { join } from "node:path";
import { run } from "./support/children.js";
import { formatProfile, type ProfileSummary } from "./support/cpuprofile.js";
import { profileOf, startRegateProcess, type RegateProcess } from "./support/regate.js";
import { BENCH_DIR, fmt, PROFILE, QUICK, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { cpuWindow } from "./support/proc.js";
import { median, ratio } from "./support/stats.js";

const ROWS = QUICK ? 200_000 : 1_000_000;
const REPEAT = QUICK ? 1 : 3;
const GOAL = 0.7;
const PSQL = process.env["PSQL"] ?? "/usr/bin/psql";
const QUERIES = {
  masked: "SELECT email, phone, ssn FROM customers",
  unmasked: "SELECT id, full_name, created_at FROM customers",
} as const;

const FILL = `
INSERT INTO public.customers (id, full_name, email, phone, ssn, card_number, created_at)
SELECT 100000 + g,
       'Bench Person ' || g,
       'bench.person' || g || '@example.com',
       '+1-555-' || lpad((g % 1000)::text, 3, '0') || '-' || lpad((g % 10000)::text, 4, '0'),
       lpad((g % 900 + 100)::text, 3, '0') || '-' || lpad((g % 100)::text, 2, '0') || '-' || lpad((g % 10000)::text, 4, '0'),
       '4' || lpad(g::text, 15, '0'),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '17 seconds'
FROM generate_series(1, $1::int) AS g`;

interface Timing {
  runs_ms: number[];
  median_ms: number;
  rows_per_s: number;
  /** CPU regate used for the query (median), and per row. */
  regate_cpu_ms?: number;
  regate_cpu_ns_per_row?: number;
  machine_busy_pct: number[];
}

await runScenario({
  name: "masking",
  description: `${fmt(ROWS)}-row SELECT through psql: 3 masked columns vs 3 unmasked, through regate and direct`,
  async run(log) {
    let db: TestPostgres | undefined;
    let regate: RegateProcess | undefined;
    let profiled: RegateProcess | undefined;
    try {
      db = await startPostgres({ settings: { shared_buffers: "256MB" } });
      const t0 = performance.now();
      await db.query(FILL, [ROWS]);
      await db.query("VACUUM ANALYZE public.customers");
      const [stats] = await db.query(`SELECT count(*)::int AS rows,
          avg(octet_length(email) + octet_length(phone) + octet_length(ssn))::float AS masked_bytes,
          avg(octet_length(id::text) + octet_length(full_name) + octet_length(created_at::text))::float AS unmasked_bytes
        FROM public.customers`);
      const rows = Number(stats.rows);
      log(`${fmt(rows)} rows in customers (filled in ${fmt(performance.now() - t0)} ms); text bytes per row: masked columns ${fmt(stats.masked_bytes)}, unmasked columns ${fmt(stats.unmasked_bytes)}`);

      regate = await startRegateProcess({ name: "masking", pg: db, decisionLog: true });
      const targets = {
        direct: { url: db.url(db.users.scram.user) },
        regate: { url: regate.url() },
      };
      const psql = (url: string, sql: string, discard: boolean) => run(PSQL, ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], { discardStdout: discard, timeoutMs: 600_000 });

      // The policy applies: the same row comes back masked through regate and in clear direct.
      const probe = "SELECT email, phone, ssn FROM customers WHERE id = 100001";
      const clear = (await psql(targets.direct.url, probe, false)).stdout.trim();
      const masked = (await psql(targets.regate.url, probe, false)).stdout.trim();
      if (masked === clear || masked.includes("bench.person1@")) throw new Error(`regate did not mask: ${masked}`);
      log(`probe row direct: ${clear}; through regate: ${masked}`);

      const runs: Record<string, number[]> = {};
      const cpu: Record<string, number[]> = {};
      const busy: Record<string, number[]> = {};
      for (let i = 0; i < REPEAT; i++) {
        for (const [target, { url }] of Object.entries(targets)) {
          for (const [kind, sql] of Object.entries(QUERIES)) {
            const key = `${target} ${kind}`;
            const stop = cpuWindow({ regate: target === "regate" ? regate.child.pid : undefined });
            const r = await psql(url, sql, true);
            const w = stop();
            (runs[key] ??= []).push(Math.round(r.ms));
            if (w.ms["regate"] !== undefined) (cpu[key] ??= []).push(w.ms["regate"]);
            if (w.machine_busy_pct !== undefined) (busy[key] ??= []).push(w.machine_busy_pct);
          }
        }
      }
      const timings: Record<string, Timing> = {};
      for (const [key, ms] of Object.entries(runs)) {
        const m = median(ms);
        const cpuMs = cpu[key] ? median(cpu[key]) : undefined;
        timings[key] = {
          runs_ms: ms,
          median_ms: m,
          rows_per_s: Math.round(rows / (m / 1000)),
          ...(cpuMs !== undefined ? { regate_cpu_ms: cpuMs, regate_cpu_ns_per_row: Math.round((cpuMs * 1e6) / rows) } : {}),
          machine_busy_pct: busy[key] ?? [],
        };
        const cpuNote = cpuMs !== undefined ? `; regate CPU ${fmt(cpuMs)} ms = ${fmt(timings[key].regate_cpu_ns_per_row)} ns/row` : "";
        log(`${key.padEnd(16)} ${fmt(timings[key].rows_per_s)} rows/s (median of ${ms.join(", ")} ms${cpuNote}; machine busy ${busy[key]?.join("/")}%)`);
      }
      let profile: ProfileSummary | undefined;
      if (PROFILE) {
        profiled = await startRegateProcess({ name: "masking-profile", pg: db, decisionLog: true, cpuProfDir: join(BENCH_DIR, "profiles") });
        const r = await psql(profiled.url(), QUERIES.masked, true);
        log(`masked with --cpu-prof (not a figure): ${fmt(r.ms)} ms`);
        profile = await profileOf(profiled);
        log(formatProfile(profile));
      }
      const t = (k: string) => timings[k]!.rows_per_s;
      const summary: SummaryRow[] = [
        { metric: "masking: masked rows/s vs unmasked", value: t("regate masked"), unit: "rows/s", baseline: { label: "regate unmasked", value: t("regate unmasked") }, ratio: ratio(t("regate masked"), t("regate unmasked")), goal: GOAL },
        {
          metric: "masking: regate CPU per row, masked",
          value: timings["regate masked"]!.regate_cpu_ns_per_row ?? Number.NaN,
          unit: "ns",
          baseline: { label: "unmasked", value: timings["regate unmasked"]!.regate_cpu_ns_per_row ?? Number.NaN },
        },
        { metric: "masking: unmasked rows/s vs direct", value: t("regate unmasked"), unit: "rows/s", baseline: { label: "direct unmasked", value: t("direct unmasked") }, ratio: ratio(t("regate unmasked"), t("direct unmasked")) },
        { metric: "masking: masked rows/s vs direct", value: t("regate masked"), unit: "rows/s", baseline: { label: "direct (in clear)", value: t("direct masked") }, ratio: ratio(t("regate masked"), t("direct masked")) },
      ];
      return { results: { rows, repeat: REPEAT, queries: QUERIES, bytes_per_row: { masked: stats.masked_bytes, unmasked: stats.unmasked_bytes }, timings, profile }, summary };
    } finally {
      await regate?.stop().catch(() => undefined);
      await profiled?.stop().catch(() => undefined);
      await db?.stop().catch(() => undefined);
    }
  },
});
