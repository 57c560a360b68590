// The write soak: pgbench runs a TPC-B-like script through regate (its own process), then the database is
// reconciled with what pgbench saw committed. Shared by the short test (soak.test.ts, part of make test) and
// the long run (sidecar/bench/soak.ts, make soak).
//
// Own tables (public.soak_*), written by a policy that is the example policy plus one `writable` body for
// them (support/bundles.ts): every statement is decided as usual, WHERE rules included. Each transaction adds
// one random delta to an account, a teller and a branch and inserts one history row carrying pgbench's
// client_id. Afterwards, exactly:
//   sum(abalance) = sum(tbalance) = sum(bbalance) = sum(delta)      no half-applied transaction
//   count(history) = transactions pgbench counted as done          no lost, no duplicated write
//   per client: history rows = lines in pgbench's per-transaction log
// RSS of the regate process is sampled from /proc every second.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestPostgres } from "../support/postgres.js";
import { buildBundle, SOAK_WRITABLE } from "./support/bundles.js";
import { RELIABILITY_AGENT, startRegateChild, type RegateChild } from "./support/regate-child.js";

const execFileAsync = promisify(execFile);
export const PGBENCH = process.env["PGBENCH"] ?? "pgbench";

export interface SoakOptions {
  seconds: number;
  clients: number;
  threads?: number;
  mode?: "simple" | "extended" | "prepared";
  branches?: number;
  /** Keep regate's stdout for the secrets sweep (default true; the long run drops it after scanning). */
  keepLog?: boolean;
  /** Progress lines (RSS every minute). */
  log?: (line: string) => void;
}

export interface SoakResult {
  seconds: number;
  clients: number;
  mode: string;
  tps: number;
  transactions: number;
  failed: number;
  history_rows: number;
  sums: { accounts: number; tellers: number; branches: number; history: number };
  /** Clients whose history rows differ from their lines in pgbench's log. */
  client_mismatches: { client: number; logged: number; in_db: number }[];
  rss_mb: { start: number; after_warmup: number; end: number; max: number; samples: number[] };
  decisions_logged: number;
  /** Bytes regate wrote to stdout (decision logs, mostly). */
  decision_log_bytes: number;
  regate_errors: string[];
}

const SCRIPT = `\\set aid random(1, :naccounts)
\\set tid random(1, :ntellers)
\\set bid random(1, :nbranches)
\\set delta random(-5000, 5000)
BEGIN;
UPDATE public.soak_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM public.soak_accounts WHERE aid = :aid;
UPDATE public.soak_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE public.soak_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO public.soak_history (client_id, tid, bid, aid, delta, mtime) VALUES (:client_id, :tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
`;

export async function createSoakTables(db: TestPostgres, branches: number): Promise<{ accounts: number; tellers: number; branches: number }> {
  const tellers = branches * 10;
  const accounts = branches * 10_000;
  await db.query(`
    DROP TABLE IF EXISTS public.soak_history, public.soak_accounts, public.soak_tellers, public.soak_branches;
    CREATE TABLE public.soak_branches (bid int PRIMARY KEY, bbalance bigint NOT NULL);
    CREATE TABLE public.soak_tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance bigint NOT NULL);
    CREATE TABLE public.soak_accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance bigint NOT NULL, filler char(84));
    CREATE TABLE public.soak_history (client_id int NOT NULL, tid int, bid int, aid int, delta bigint NOT NULL, mtime timestamptz);
    INSERT INTO public.soak_branches SELECT b, 0 FROM generate_series(1, ${branches}) b;
    INSERT INTO public.soak_tellers SELECT t, (t - 1) / 10 + 1, 0 FROM generate_series(1, ${tellers}) t;
    INSERT INTO public.soak_accounts SELECT a, (a - 1) / 10000 + 1, 0, '' FROM generate_series(1, ${accounts}) a;
    ANALYZE public.soak_branches, public.soak_tellers, public.soak_accounts, public.soak_history;
  `);
  return { accounts, tellers, branches };
}

function num(text: string, re: RegExp): number | undefined {
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Runs the soak against `db` through a regate child it starts and stops. */
export async function runSoak(db: TestPostgres, opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? (() => undefined);
  const mode = opts.mode ?? "prepared";
  const sizes = await createSoakTables(db, opts.branches ?? 4);
  const bundle = buildBundle("soak", { "soak.rego": SOAK_WRITABLE });
  const work = mkdtempSync(join(tmpdir(), "regate-soak-"));
  let regate: RegateChild | undefined;
  const samples: number[] = [];
  try {
    regate = await startRegateChild({ name: "soak", pg: db, bundle });
    const r = regate;
    const script = join(work, "tpcb.sql");
    writeFileSync(script, SCRIPT);
    const rss = () => Math.round(((r.rssKb() ?? 0) / 1024) * 10) / 10;
    samples.push(rss());
    const sampler = setInterval(() => {
      samples.push(rss());
      if (samples.length % 60 === 0) log(`${samples.length} s: regate RSS ${samples.at(-1)} MB`);
    }, 1000);
    let out: string;
    try {
      const args = ["-n", "-f", script, "-M", mode, "-c", String(opts.clients), "-j", String(opts.threads ?? 2), "-T", String(opts.seconds)];
      args.push("-D", `naccounts=${sizes.accounts}`, "-D", `ntellers=${sizes.tellers}`, "-D", `nbranches=${sizes.branches}`);
      args.push("-l", `--log-prefix=${join(work, "tx")}`, "-h", "127.0.0.1", "-p", String(r.ports.postgres), "-U", RELIABILITY_AGENT.user, db.database);
      const res = await execFileAsync(PGBENCH, args, {
        env: { ...process.env, PGPASSWORD: RELIABILITY_AGENT.token, PGSSLMODE: "disable", PGAPPNAME: "soak" },
        timeout: (opts.seconds + 120) * 1000,
        maxBuffer: 64 * 1024 * 1024,
      }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`pgbench failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`.slice(0, 6000));
      });
      out = `${res.stdout}\n${res.stderr}`;
    } finally {
      clearInterval(sampler);
    }
    samples.push(rss());
    const transactions = num(out, /number of transactions actually processed: (\d+)/);
    if (transactions === undefined) throw new Error(`pgbench printed no transaction count:\n${out.slice(-4000)}`);
    const failed = num(out, /number of failed transactions: (\d+)/) ?? 0;
    const tps = Math.round(num(out, /tps = ([\d.]+)/) ?? 0);

    // pgbench's per-transaction log: "client_id transaction_no time script_no ..." one line per transaction
    // done; a failed one has "failed" (or "serialization"/"deadlock") in the time column.
    const logged = new Map<number, number>();
    for (const f of readdirSync(work).filter((f) => f.startsWith("tx."))) {
      for (const line of readFileSync(join(work, f), "utf8").split("\n")) {
        const [client, , time] = line.split(" ");
        if (!line || !/^\d+$/.test(time ?? "")) continue;
        logged.set(Number(client), (logged.get(Number(client)) ?? 0) + 1);
      }
    }
    const sums = (
      await db.query(`SELECT (SELECT coalesce(sum(abalance), 0) FROM public.soak_accounts)::bigint AS accounts,
        (SELECT coalesce(sum(tbalance), 0) FROM public.soak_tellers)::bigint AS tellers,
        (SELECT coalesce(sum(bbalance), 0) FROM public.soak_branches)::bigint AS branches,
        (SELECT coalesce(sum(delta), 0) FROM public.soak_history)::bigint AS history,
        (SELECT count(*) FROM public.soak_history)::bigint AS history_rows`)
    )[0] as Record<string, string>;
    const perClient = await db.query("SELECT client_id, count(*)::int AS n FROM public.soak_history GROUP BY client_id");
    const inDb = new Map<number, number>(perClient.map((row: { client_id: number; n: number }) => [row.client_id, row.n]));
    const clientMismatches: SoakResult["client_mismatches"] = [];
    for (const client of new Set([...logged.keys(), ...inDb.keys()])) {
      const a = logged.get(client) ?? 0;
      const b = inDb.get(client) ?? 0;
      if (a !== b) clientMismatches.push({ client, logged: a, in_db: b });
    }
    const metrics = await r.admin("/metrics");
    let decisions = 0;
    for (const line of String(metrics.body).split("\n")) if (line.startsWith("regate_decisions_total{")) decisions += Number(line.slice(line.lastIndexOf(" ") + 1));
    await r.stop();
    const regateErrors = await r.grepStdout(/"level":"(error|fatal)"/);
    const logBytes = r.stdoutBytes();
    // Ten minutes of decision logs are gigabytes: the long run scans them and lets them go.
    if (opts.keepLog === false) rmSync(join(r.dir, "stdout.log"), { force: true });
    const warm = samples[Math.min(samples.length - 1, Math.floor(samples.length / 3))]!;
    return {
      seconds: opts.seconds,
      clients: opts.clients,
      mode,
      tps,
      transactions,
      failed,
      history_rows: Number(sums["history_rows"]),
      sums: { accounts: Number(sums["accounts"]), tellers: Number(sums["tellers"]), branches: Number(sums["branches"]), history: Number(sums["history"]) },
      client_mismatches: clientMismatches,
      rss_mb: { start: samples[0]!, after_warmup: warm, end: samples.at(-1)!, max: Math.max(...samples), samples },
      decisions_logged: decisions,
      decision_log_bytes: logBytes,
      regate_errors: regateErrors,
    };
  } finally {
    await regate?.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}
