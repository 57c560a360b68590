// SQL facts extraction per statement over a real-world corpus.
//
//   npx tsx sidecar/bench/facts.ts [corpus.jsonl]
//
// The corpus: one {"source", "sql"} per line (PostgreSQL's regression suite and other sources, ~41k
// statements). Default path: ../shared/research/sql-corpus.jsonl beside the repository (BENCH_SQL_CORPUS or
// the first argument override it). Without a corpus the scenario reports itself skipped.
//
// One warm-up pass, then a timed pass of analyze(sql, ctx) per statement (no catalog: the unqualified-name
// candidates are what regate computes before its catalog lookup). Baseline: libpg-query's parseSync alone on
// the same statements — the share of the cost that is PostgreSQL's parser (WASM) plus its JSON tree, against
// regate's own walk of that tree.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseSync } from "libpg-query";
import { packageRoot } from "../src/paths.js";
import { analyze, initSqlParser } from "../src/postgres/sql/index.js";
import type { AnalysisContext } from "../src/postgres/sql/index.js";
import { fmt, QUICK, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { distribution, ratio, type Distribution } from "./support/stats.js";

const corpusArg = process.argv.slice(2).find((a) => !a.startsWith("--"));
const corpusPath = resolve(corpusArg ?? process.env["BENCH_SQL_CORPUS"] ?? join(packageRoot, "..", "shared", "research", "sql-corpus.jsonl"));

interface PassResult {
  /** CPU time / wall time of the pass: below 1 when other processes took the core. */
  cpu_share: number;
  statements: number;
  total_ms: number;
  per_s: number;
  latency_us: Distribution;
}

function timed(sqls: string[], fn: (sql: string) => void): PassResult {
  const samples = new Float64Array(sqls.length);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < sqls.length; i++) {
    const t = performance.now();
    fn(sqls[i]!);
    samples[i] = (performance.now() - t) * 1000;
  }
  const totalMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  return { cpu_share: Math.round(((cpu.user + cpu.system) / 1000 / totalMs) * 100) / 100, statements: sqls.length, total_ms: Math.round(totalMs), per_s: Math.round(sqls.length / (totalMs / 1000)), latency_us: distribution(samples) };
}

await runScenario({
  name: "facts",
  description: `SQL facts extraction (analyze) per statement over ${corpusPath}`,
  async run(log) {
    if (!existsSync(corpusPath)) {
      log(`corpus not found at ${corpusPath}: skipped (set BENCH_SQL_CORPUS)`);
      return { results: { skipped: true, corpus: corpusPath }, summary: [] };
    }
    let sqls = readFileSync(corpusPath, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => (JSON.parse(l) as { sql: string }).sql);
    if (QUICK) sqls = sqls.slice(0, 5000);
    await initSqlParser();
    const ctx: AnalysisContext = { searchPath: ["$user", "public"], user: "bench", prepared: new Map() };

    let parseErrors = 0;
    let statementsOut = 0;
    let bytes = 0;
    for (const sql of sqls) {
      bytes += Buffer.byteLength(sql);
      const a = analyze(sql, ctx); // warm-up pass; also counts
      if (a.parse_error !== undefined) parseErrors++;
      statementsOut += a.statements.length;
    }
    log(`${fmt(sqls.length)} SQL texts (${fmt(bytes / sqls.length)} bytes on average), ${fmt(statementsOut)} statements, ${fmt(parseErrors)} parse errors`);

    const facts = timed(sqls, (sql) => analyze(sql, ctx));
    log(`analyze: ${fmt(facts.per_s)} texts/s; mean ${fmt(facts.latency_us.mean)} us, p50 ${fmt(facts.latency_us.p50)} us, p99 ${fmt(facts.latency_us.p99)} us, max ${fmt(facts.latency_us.max)} us (got ${facts.cpu_share} of a core)`);
    const parse = timed(sqls, (sql) => {
      try {
        parseSync(sql);
      } catch {
        // Parse errors are part of the corpus.
      }
    });
    log(`parseSync alone: ${fmt(parse.per_s)} texts/s; mean ${fmt(parse.latency_us.mean)} us, p50 ${fmt(parse.latency_us.p50)} us, p99 ${fmt(parse.latency_us.p99)} us`);
    const parseShare = Math.round((parse.total_ms / facts.total_ms) * 1000) / 10;
    log(`the parser is ${parseShare}% of analyze's time`);

    const summary: SummaryRow[] = [
      { metric: "facts: statements/s", value: facts.per_s, unit: "/s", baseline: { label: "parseSync alone", value: parse.per_s }, ratio: ratio(facts.per_s, parse.per_s) },
      { metric: "facts: mean per statement", value: facts.latency_us.mean, unit: "us" },
      { metric: "facts: p50 per statement", value: facts.latency_us.p50, unit: "us" },
      { metric: "facts: p99 per statement", value: facts.latency_us.p99, unit: "us" },
      { metric: "facts: parse errors", value: parseErrors, unit: `of ${sqls.length}` },
    ];
    return {
      results: { corpus: corpusPath, texts: sqls.length, statements: statementsOut, mean_bytes: Math.round(bytes / sqls.length), parse_errors: parseErrors, analyze: facts, parse_only: parse, parser_share_pct: parseShare },
      summary,
    };
  },
});
