// pgbench and pgbouncer, driven from the benchmarks.
import { chmodSync, chownSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort, startPostgres, type TestPostgres } from "../../test/support/postgres.js";
import { GiveUp, run, startChild, tempDir, waitFor, type Child } from "./children.js";
import { fmt } from "./report.js";
import { distribution, type Distribution } from "./stats.js";

export const PGBENCH = process.env["PGBENCH"] ?? "/usr/bin/pgbench";
export const PGBOUNCER = process.env["PGBOUNCER"] ?? "/usr/sbin/pgbouncer";

export type QueryMode = "simple" | "extended" | "prepared";

export interface Endpoint {
  label: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  failed: number;
  latency_avg_ms: number;
  /** Per-transaction latency from pgbench's --log, when it was asked for. */
  latency_us?: Distribution;
}

export interface PgbenchRun {
  mode: QueryMode;
  clients: number;
  threads: number;
  seconds: number;
  /** Write pgbench's per-transaction log here and summarise it. */
  logDir?: string;
  /** A built-in script other than select-only (`tpcb-like`: five statements between BEGIN and END). */
  builtin?: "tpcb-like";
}

function number(text: string, re: RegExp, what: string): number {
  const m = re.exec(text);
  if (!m) throw new Error(`pgbench output has no ${what}:\n${text}`);
  return Number(m[1]);
}

/** pgbench -S (select only; or r.builtin), no vacuum (-n: the policy denies it through regate, so nobody vacuums). */
export async function pgbench(ep: Endpoint, r: PgbenchRun): Promise<PgbenchResult> {
  const args = ["-n", ...(r.builtin ? ["-b", r.builtin] : ["-S"]), "-M", r.mode, "-c", String(r.clients), "-j", String(r.threads), "-T", String(r.seconds), "-h", "127.0.0.1", "-p", String(ep.port), "-U", ep.user];
  const prefix = r.logDir ? join(r.logDir, `tx-${ep.label.replace(/\W+/g, "_")}-${r.mode}-${r.clients}`) : undefined;
  if (prefix) args.push("-l", `--log-prefix=${prefix}`);
  args.push(ep.database);
  const res = await run(PGBENCH, args, {
    env: { ...process.env, PGPASSWORD: ep.password, PGSSLMODE: "disable", PGAPPNAME: "pgbench" },
    timeoutMs: (r.seconds + 60) * 1000,
    allowFailure: true,
  });
  const out = `${res.stdout}\n${res.stderr}`;
  if (res.code !== 0) throw new Error(`pgbench against ${ep.label} (${r.mode}) failed with exit code ${res.code}:\n${out.slice(-3000)}`);
  const result: PgbenchResult = {
    tps: Math.round(number(out, /tps = ([\d.]+) \(without initial connection time\)/, "tps")),
    transactions: number(out, /number of transactions actually processed: (\d+)/, "transaction count"),
    failed: /number of failed transactions: (\d+)/.test(out) ? number(out, /number of failed transactions: (\d+)/, "failures") : 0,
    latency_avg_ms: number(out, /latency average = ([\d.]+) ms/, "average latency"),
  };
  if (result.failed > 0) throw new Error(`pgbench against ${ep.label} (${r.mode}): ${result.failed} failed transactions:\n${out.slice(-3000)}`);
  if (prefix && r.logDir) {
    const base = prefix.slice(r.logDir.length + 1);
    const samples: number[] = [];
    for (const f of readdirSync(r.logDir).filter((f) => f.startsWith(`${base}.`))) {
      // client_id transaction_no time(us) script_no time_epoch time_us ...
      for (const line of readFileSync(join(r.logDir, f), "utf8").split("\n")) {
        const us = Number(line.split(" ")[2]);
        if (line && Number.isFinite(us)) samples.push(us);
      }
      rmSync(join(r.logDir, f));
    }
    result.latency_us = distribution(samples);
  }
  return result;
}

/** pgbench -i as the admin, straight to the database; server-side data generation (G) is the fast one. */
export async function pgbenchInit(db: TestPostgres, scale: number): Promise<number> {
  const t0 = performance.now();
  await run(PGBENCH, ["-i", "-q", "-s", String(scale), "--init-steps=dtGvp", "-h", db.host, "-p", String(db.port), "-U", db.adminUser, db.database], {
    env: { ...process.env, PGPASSWORD: db.adminPassword, PGSSLMODE: "disable" },
    timeoutMs: 300_000,
  });
  return Math.round(performance.now() - t0);
}

/** A throwaway PostgreSQL sized for pgbench through proxies (8 clients plus their connections), initialised at `scale`. */
export async function pgbenchDatabase(scale: number, log: (line: string) => void): Promise<TestPostgres> {
  const db = await startPostgres({ settings: { shared_buffers: "256MB", max_connections: "100" } });
  try {
    log(`pgbench -i -s ${scale} took ${fmt(await pgbenchInit(db, scale))} ms`);
  } catch (err) {
    await db.stop();
    throw err;
  }
  return db;
}

export interface Pgbouncer {
  port: number;
  child: Child;
  stop(): Promise<void>;
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * pgbouncer in front of `db` as `user`, session pooling (protocol-level prepared statements need session
 * pooling in pgbouncer 1.18), SCRAM towards the client and the server. It refuses to run as root: as root it
 * runs as the OS user `postgres`.
 */
export async function startPgbouncer(db: TestPostgres, user: { user: string; password: string }, poolSize: number): Promise<Pgbouncer> {
  const dir = tempDir("regate-bench-pgbouncer-");
  const port = await freePort();
  const ini = join(dir, "pgbouncer.ini");
  const userlist = join(dir, "userlist.txt");
  writeFileSync(
    ini,
    [
      "[databases]",
      `${db.database} = host=${db.host} port=${db.port} dbname=${db.database}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = scram-sha-256",
      `auth_file = ${userlist}`,
      "pool_mode = session",
      `default_pool_size = ${poolSize}`,
      "max_client_conn = 200",
      "log_connections = 0",
      "log_disconnections = 0",
      "ignore_startup_parameters = extra_float_digits",
      "",
    ].join("\n"),
  );
  writeFileSync(userlist, `"${user.user}" "${user.password}"\n`);
  chmodSync(userlist, 0o600);
  let owner: { uid: number; gid: number } | undefined;
  if (userInfo().uid === 0) {
    owner = await osUser("postgres");
    for (const f of [dir, ini, userlist]) chownSync(f, owner.uid, owner.gid);
  }
  const child = startChild("pgbouncer", PGBOUNCER, [ini], { cwd: dir, ...(owner ?? {}) });
  const stop = async () => {
    await child.stop("SIGINT", 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let dead = false;
    void child.exited.then(() => (dead = true));
    await waitFor("pgbouncer to accept connections", async () => {
      if (dead) throw new GiveUp(`pgbouncer exited:\n${child.output()}`);
      const c = new pg.Client({ host: "127.0.0.1", port, database: db.database, user: user.user, password: user.password });
      c.on("error", () => undefined);
      try {
        await c.connect();
        await c.query("SELECT 1");
        return true;
      } finally {
        await c.end().catch(() => undefined);
      }
    });
  } catch (error) {
    await stop();
    throw new Error(`pgbouncer did not start: ${String(error)}\n${child.output()}`, { cause: error });
  }
  return { port, child, stop };
}
