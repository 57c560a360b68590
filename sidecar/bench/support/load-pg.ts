// Many Postgres agent sessions at once, for the load scenario (load.ts): open N, run a mixed workload (a few
// busy, most idle), record every statement's latency per session.
import type { Socket } from "node:net";
import pg from "pg";
import { distribution, median, percentile, type Distribution } from "./stats.js";

export interface Target {
  label: string;
  connectionString: string;
}

/** Opens `n` sessions, `parallel` logins at a time (a burst of 500 SCRAM logins is a test of its own). */
export async function openSessions(t: Target, n: number, parallel = 25): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const c = new pg.Client({ connectionString: t.connectionString, application_name: "load" });
      c.on("error", () => undefined);
      await c.connect();
      clients.push(c);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return clients;
}

export async function closeSessions(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
}

export interface MixedResult {
  statements: number;
  errors: number;
  error_samples: string[];
  /** Every statement of every session. */
  overall_ms: Distribution;
  /** p99 of each busy session, summarised over the busy sessions (fair service: max close to median). */
  busy_session_p99_ms: { median: number; max: number; min: number };
  /** The same for the mostly idle sessions, their first statement left out (it is dearer: see first_statement_ms). */
  idle_session_p99_ms: { median: number; max: number; min: number };
  /** Each session's first statement (a new session's first statement costs more through regate). */
  first_statement_ms: Distribution;
}

const QUERIES = [
  "SELECT id, status, amount FROM public.orders WHERE id = $1",
  "SELECT id, email, phone FROM public.customers WHERE id = $1", // masked through regate
  "SELECT count(*) FROM public.payments WHERE order_id = $1",
];

/**
 * `busy` sessions run statements back to back; the rest run one about every `idleEveryMs`. Runs `seconds`.
 * Returns latencies per session and every error (a direct connection gives none for these statements).
 */
export async function mixedLoad(clients: pg.Client[], busy: number, seconds: number, idleEveryMs = 2000): Promise<MixedResult> {
  const deadline = Date.now() + seconds * 1000;
  const perSession: number[][] = clients.map(() => []);
  let errors = 0;
  const samples: string[] = [];
  const one = async (c: pg.Client, i: number, n: number) => {
    const t0 = performance.now();
    try {
      await c.query(QUERIES[n % QUERIES.length]!, [1 + ((i * 7919 + n * 104729) % 2000)]);
      perSession[i]!.push(performance.now() - t0);
    } catch (err) {
      errors++;
      if (samples.length < 10) samples.push(String((err as Error).message));
    }
  };
  await Promise.all(
    clients.map(async (c, i) => {
      let n = 0;
      if (i >= busy) await new Promise((r) => setTimeout(r, Math.random() * idleEveryMs));
      while (Date.now() < deadline) {
        await one(c, i, n++);
        if (i >= busy) await new Promise((r) => setTimeout(r, idleEveryMs * (0.5 + Math.random())));
      }
    }),
  );
  const p99s = (from: number, to: number, skipFirst = false) => {
    const v = perSession
      .slice(from, to)
      .map((s) => (skipFirst ? s.slice(1) : s))
      .filter((s) => s.length > 0)
      .map((s) => percentile([...s].sort((a, b) => a - b), 99));
    return { median: round(median(v)), max: round(Math.max(...v)), min: round(Math.min(...v)) };
  };
  const all = perSession.flat();
  return {
    statements: all.length + errors,
    errors,
    error_samples: samples,
    overall_ms: rounded(distribution(all)),
    busy_session_p99_ms: p99s(0, busy),
    idle_session_p99_ms: p99s(busy, clients.length, true),
    first_statement_ms: rounded(distribution(perSession.filter((s) => s.length > 0).map((s) => s[0]!))),
  };
}

/** A session that starts a large result and never reads it (its socket paused). Returns a stop function. */
export async function slowReader(t: Target): Promise<() => Promise<void>> {
  const c = new pg.Client({ connectionString: t.connectionString });
  c.on("error", () => undefined);
  await c.connect();
  const sock = (c as unknown as { connection: { stream: Socket } }).connection.stream;
  const q = c.query(new pg.Query("SELECT g, repeat('x', 200) FROM generate_series(1, 5000000) g"));
  q.on("error", () => undefined);
  q.once("row", () => sock.pause());
  return async () => {
    sock.destroy();
  };
}

function rounded(d: Distribution): Distribution {
  return { ...d, mean: round(d.mean), p50: round(d.p50), p90: round(d.p90), p99: round(d.p99), max: round(d.max) };
}

export function round(x: number): number {
  return Math.round(x * 100) / 100;
}
