// Load: 500 concurrent agent sessions (a few busy, most idle) and 200 concurrent HTTP clients through one
// regate, against the same database and upstream directly; slow clients on both sides.
//
//   npx tsx sidecar/bench/load.ts          LOAD_SESSIONS (500), LOAD_BUSY (50), LOAD_SECONDS (20), LOAD_HTTP (200), LOAD_SETTLE (30)
//
// Postgres: regate's RSS, read after it was left idle LOAD_SETTLE s, with no session and with LOAD_SESSIONS idle
// ones after one statement each (memory per session); then the mixed load (busy sessions back to back, the
// others one statement every ~2 s) while one more session starts a 5,000,000-row result and never reads it;
// every statement's latency is kept per session: p99 per session (median and worst over the busy sessions, and
// over the idle ones) says whether service is fair. The same against PostgreSQL directly, for errors and
// latency. HTTP: autocannon with LOAD_HTTP connections through
// regate and directly; then 200 slowloris connections (headers a byte a second) while 20 normal clients run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../src/paths.js";
import { startPostgres, type TestPostgres } from "../test/support/postgres.js";
import { startChild, waitFor, type Child } from "./support/children.js";
import { autocannon, slowloris } from "./support/load-http.js";
import { closeSessions, mixedLoad, openSessions, round, slowReader, type Target } from "./support/load-pg.js";
import { BENCH_AGENT, startRegateProcess, type RegateProcess } from "./support/regate.js";
import { QUICK, seconds, type SummaryRow } from "./support/report.js";
import { runScenario } from "./support/scenario.js";
import { ratio } from "./support/stats.js";

const SESSIONS = Number(process.env["LOAD_SESSIONS"] ?? (QUICK ? 100 : 500));
const BUSY = Number(process.env["LOAD_BUSY"] ?? Math.max(1, Math.round(SESSIONS / 10)));
const MIX_S = Number(process.env["LOAD_SECONDS"] ?? seconds(20, 5));
const HTTP_CLIENTS = Number(process.env["LOAD_HTTP"] ?? (QUICK ? 50 : 200));
const HTTP_S = seconds(10, 3);
const SLOWLORIS = QUICK ? 50 : 200;
/** How long to watch the slowloris sockets for the server closing them (Node's headersTimeout is 60 s). */
const SLOWLORIS_WATCH_S = Number(process.env["LOAD_SLOWLORIS_WATCH"] ?? (QUICK ? 5 : 75));
/** How long regate is left idle before its RSS is read (settledRss). */
const SETTLE_S = Number(process.env["LOAD_SETTLE"] ?? (QUICK ? 5 : 30));
/** Issue 15's target for RSS with 500 idle sessions. */
const RSS_GOAL_MB = 150;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
}

/**
 * `pid`'s RSS once it has been left alone for `seconds`: V8 gives back the heap a burst of work grew only
 * after some idle time (its memory reducer; 10-20 s in practice), so the RSS right after the burst is not what
 * an idle process holds. Returns both.
 */
async function settledRss(pid: number, seconds: number): Promise<{ after_3s: number; settled: number }> {
  await sleep(3000);
  const after_3s = rssMb(pid);
  await sleep(Math.max(0, seconds - 3) * 1000);
  return { after_3s, settled: rssMb(pid) };
}

/** Samples `pid`'s RSS every 250 ms while `work` runs; returns its result and the highest RSS seen. */
async function watchRss<T>(pid: number, work: Promise<T>): Promise<{ result: T; max_rss_mb: number }> {
  let max = rssMb(pid);
  const timer = setInterval(() => (max = Math.max(max, rssMb(pid))), 250);
  try {
    return { result: await work, max_rss_mb: max };
  } finally {
    clearInterval(timer);
  }
}

await runScenario({
  name: "load",
  description: `${SESSIONS} agent sessions (${BUSY} busy) for ${MIX_S} s, ${HTTP_CLIENTS} HTTP clients, slow readers and slowloris: regate vs direct`,
  async run(log) {
    let db: TestPostgres | undefined;
    let upstream: Child | undefined;
    let regate: RegateProcess | undefined;
    try {
      db = await startPostgres({ settings: { max_connections: String(SESSIONS + 100) } });
      const up = (upstream = startChild("http-upstream", process.execPath, ["--import", "tsx", join(packageRoot, "sidecar", "bench", "support", "http-upstream.ts")], { cwd: packageRoot }));
      const upPort = await waitFor("the upstream to listen", () => {
        const m = /\{"port":(\d+)\}/.exec(up.output());
        return m ? Number(m[1]) : undefined;
      });
      const r = (regate = await startRegateProcess({ name: "load", pg: db, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${upPort}` }], decisionLog: true }));
      const pid = r.child.pid;
      const viaRegate: Target = { label: "regate", connectionString: r.url() };
      const direct: Target = { label: "direct", connectionString: db.url(db.users.scram.user) };

      // Postgres through regate.
      const none = await settledRss(pid, SETTLE_S);
      const rss0 = none.settled;
      let t0 = performance.now();
      const sessions = await openSessions(viaRegate, SESSIONS);
      const loginMs = Math.round(performance.now() - t0);
      // Idle after one statement each, as an agent's session is between its statements.
      await Promise.all(sessions.map((c) => c.query("SELECT 1")));
      const idle = await settledRss(pid, SETTLE_S);
      const rssIdle = idle.settled;
      const perSessionKb = Math.round(((rssIdle - rss0) * 1024) / SESSIONS);
      log(
        `regate: ${SESSIONS} sessions opened in ${loginMs} ms; RSS after ${SETTLE_S} s idle ${rss0} MB with none, ${rssIdle} MB with ${SESSIONS} idle sessions ` +
          `(${perSessionKb} KiB per session; 3 s after opening them ${idle.after_3s} MB; goal ${RSS_GOAL_MB} MB with 500)`,
      );
      const stopSlow = await slowReader(viaRegate);
      const mixed = await watchRss(pid, mixedLoad(sessions, BUSY, MIX_S));
      await stopSlow();
      log(`regate mixed: ${JSON.stringify(mixed.result)}; max RSS ${mixed.max_rss_mb} MB (with one reader that never reads)`);
      await closeSessions(sessions);

      // The same directly.
      const dSessions = await openSessions(direct, SESSIONS);
      const dStopSlow = await slowReader(direct);
      const dMixed = await mixedLoad(dSessions, BUSY, MIX_S);
      await dStopSlow();
      await closeSessions(dSessions);
      log(`direct mixed: ${JSON.stringify(dMixed)}`);

      // HTTP: many clients, through regate and directly.
      const httpUrl = `http://127.0.0.1:${r.ports.http}/api/customers/42`;
      // Warm-up: the HTTP path's first seconds (JIT) run at a fraction of its speed.
      await autocannon(httpUrl, 20, seconds(5, 2), BENCH_AGENT.token);
      const http = await watchRss(pid, autocannon(httpUrl, HTTP_CLIENTS, HTTP_S, BENCH_AGENT.token));
      const httpDirect = await autocannon(`http://127.0.0.1:${upPort}/api/customers/42`, HTTP_CLIENTS, HTTP_S);
      log(`HTTP ${HTTP_CLIENTS} clients: regate ${JSON.stringify(http.result)} max RSS ${http.max_rss_mb} MB; direct ${JSON.stringify(httpDirect)}`);

      // Slowloris beside 20 normal clients.
      const calm = await autocannon(httpUrl, 20, 5, BENCH_AGENT.token);
      const rssBeforeSlow = rssMb(pid);
      const sl = slowloris(r.ports.http!, SLOWLORIS);
      await sleep(2000);
      const underSlow = await watchRss(pid, autocannon(httpUrl, 20, 5, BENCH_AGENT.token));
      const openAfter = sl.open();
      t0 = performance.now();
      while (sl.open() > 0 && performance.now() - t0 < SLOWLORIS_WATCH_S * 1000) await sleep(500);
      const closed = sl.closedAfterMs().sort((a, b) => a - b);
      const slow = {
        connections: SLOWLORIS,
        open_after_7s: openAfter,
        still_open_after_watch: sl.open(),
        watched_s: SLOWLORIS_WATCH_S,
        closed_after_ms: closed.length ? { first: closed[0], last: closed[closed.length - 1] } : undefined,
        rss_mb: { before: rssBeforeSlow, max_during: underSlow.max_rss_mb },
        normal_clients: { calm: calm, beside_slowloris: underSlow.result },
      };
      sl.stop();
      log(`slowloris: ${JSON.stringify(slow)}`);

      const summary: SummaryRow[] = [
        { metric: `RSS with ${SESSIONS} idle sessions, after ${SETTLE_S} s idle`, value: rssIdle, unit: "MB", note: `${perSessionKb} KiB per session; goal ${RSS_GOAL_MB} MB with 500` },
        { metric: `RSS 3 s after opening ${SESSIONS} sessions`, value: idle.after_3s, unit: "MB" },
        { metric: "RSS max, mixed load + slow reader", value: mixed.max_rss_mb, unit: "MB" },
        { metric: "errors, mixed load (direct gives)", value: mixed.result.errors, unit: "", baseline: { label: "direct", value: dMixed.errors } },
        { metric: "p99 all statements", value: mixed.result.overall_ms.p99, unit: "ms", baseline: { label: "direct", value: dMixed.overall_ms.p99 } },
        { metric: "worst busy-session p99", value: mixed.result.busy_session_p99_ms.max, unit: "ms", baseline: { label: "direct", value: dMixed.busy_session_p99_ms.max } },
        { metric: "median busy-session p99", value: mixed.result.busy_session_p99_ms.median, unit: "ms", baseline: { label: "direct", value: dMixed.busy_session_p99_ms.median } },
        { metric: "worst idle-session p99 (after 1st)", value: mixed.result.idle_session_p99_ms.max, unit: "ms", baseline: { label: "direct", value: dMixed.idle_session_p99_ms.max } },
        { metric: "first statement of a session p99", value: mixed.result.first_statement_ms.p99, unit: "ms", baseline: { label: "direct", value: dMixed.first_statement_ms.p99 } },
        { metric: `HTTP ${HTTP_CLIENTS} clients req/s`, value: http.result.per_s, unit: "req/s", baseline: { label: "direct", value: httpDirect.per_s }, ratio: ratio(http.result.per_s, httpDirect.per_s) },
        { metric: `HTTP ${HTTP_CLIENTS} clients errors+non2xx`, value: http.result.errors + http.result.non2xx + http.result.timeouts, unit: "", baseline: { label: "direct", value: httpDirect.errors + httpDirect.non2xx + httpDirect.timeouts } },
        { metric: `HTTP ${HTTP_CLIENTS} clients p99`, value: http.result.latency_ms.p99, unit: "ms", baseline: { label: "direct", value: httpDirect.latency_ms.p99 } },
        { metric: "HTTP RSS max", value: http.max_rss_mb, unit: "MB" },
        { metric: "20 clients p99 beside slowloris", value: underSlow.result.latency_ms.p99, unit: "ms", baseline: { label: "without", value: calm.latency_ms.p99 } },
      ];
      return {
        results: {
          sessions: SESSIONS,
          busy: BUSY,
          mix_s: MIX_S,
          postgres: { login_ms: loginMs, rss_mb: { none: rss0, none_after_3s: none.after_3s, idle: rssIdle, idle_after_3s: idle.after_3s, settle_s: SETTLE_S, mixed_max: mixed.max_rss_mb }, per_session_kib: perSessionKb, regate: mixed.result, direct: dMixed },
          http: { clients: HTTP_CLIENTS, regate: http.result, regate_max_rss_mb: http.max_rss_mb, direct: httpDirect },
          slowloris: slow,
        },
        summary: summary.map((s) => ({ ...s, value: round(s.value) })),
      };
    } finally {
      await regate?.stop().catch(() => undefined);
      await upstream?.stop().catch(() => undefined);
      await db?.stop().catch(() => undefined);
    }
  },
});
