// regate as its own process, as it is deployed: `node --import tsx sidecar/src/main.ts run --config <yaml>`.
// It must not share an event loop with the load generator or the harness.
//
// Decision logs stay on (every real deployment writes them): stdout goes to a file in a temp dir, removed by
// stop(). The admin listener gives the decision count (regate_decisions_total) so a scenario can report
// decisions per statement or request.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { packageRoot } from "../../src/paths.js";
import type { TestPostgres } from "../../test/support/postgres.js";
import { GiveUp, run, startChild, tempDir, waitFor, type Child } from "./children.js";
import { summarizeProfile, type ProfileSummary } from "./cpuprofile.js";

export const BUNDLE = join(packageRoot, "build", "bundle.tar.gz");
/** BENCH_COMPILED=1: run the compiled build (`make build`, dist/), as the image does, instead of the sources under tsx. */
const COMPILED = process.env["BENCH_COMPILED"] === "1";
export const BENCH_AGENT = { user: "bench-agent", token: "bench-agent-token-5c1e" };

/** An HTTP route; with `credential`, regate injects it upstream and guards every response against echoing it. */
export interface BenchRoute {
  name: string;
  prefix: string;
  upstream: string;
  credential?: { type: "bearer" | "basic" | "header"; header?: string; secret: { value: string } };
}

export interface RegateProcessOptions {
  name: string;
  /** The upstream database; without it the Postgres listener is off. */
  pg?: TestPostgres;
  /** HTTP routes; without them the HTTP listener is off. */
  routes?: BenchRoute[];
  decisionLog: boolean;
  /** Another policy bundle than build/bundle.tar.gz. */
  bundle?: string;
  /** policy.eval_timeout_ms, when not the default (0: evaluate on the main thread, unbudgeted). */
  evalTimeoutMs?: number;
  /** Write a V8 CPU profile (node --cpu-prof) into this directory when the process exits. */
  cpuProfDir?: string;
  /** Record sessions into this directory (docs/recording.md). */
  recordingDir?: string;
  /** recording.postgres (the fleet store), with recordingDir. */
  recordingStore?: Record<string, unknown>;
  /** `workers` (docs/workers.md); absent: the default, one process. */
  workers?: number;
  /** postgres.budgets (docs/postgres.md); absent: none. */
  budgets?: Record<string, number>;
}

export interface RegateProcess {
  readonly name: string;
  readonly child: Child;
  readonly cpuProfDir: string | undefined;
  readonly ports: { postgres?: number; http?: number; admin: number };
  readonly dir: string;
  /** The agent's libpq URL for `pg.database` (the SCRAM password is the agent token). */
  url(): string;
  /** regate_decisions_total summed over outcomes and kinds. */
  decisions(): Promise<number>;
  /** Bytes of log (decision logs and request logs) written so far. */
  logBytes(): number;
  /** SIGTERM (regate drains and exits; a CPU profile is written then), SIGKILL after 20 s. Removes the temp dir. */
  stop(): Promise<void>;
}

export function buildRegateConfig(opts: RegateProcessOptions): Record<string, unknown> {
  const pg = opts.pg;
  return {
    policy: { bundle: opts.bundle ?? BUNDLE, watch_interval_ms: 0, ...(opts.evalTimeoutMs !== undefined ? { eval_timeout_ms: opts.evalTimeoutMs } : {}) },
    decision_log: { enabled: opts.decisionLog, labels: { environment: "bench" } },
    log: { level: "info" },
    agents: { tokens: [{ subject: BENCH_AGENT.user, groups: ["agents"], token: { value: BENCH_AGENT.token } }] },
    postgres: pg
      ? {
          enabled: true,
          listen: { host: "127.0.0.1", port: 0 },
          target: "bench-db",
          upstream: { host: pg.host, port: pg.port, database: pg.database, user: pg.users.scram.user, password: { env: "BENCH_UPSTREAM_PASSWORD" } },
          ...(opts.budgets ? { budgets: opts.budgets } : {}),
        }
      : { enabled: false },
    http: opts.routes ? { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: opts.routes } : { enabled: false },
    admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, drain_timeout_ms: 2000 },
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    ...(opts.recordingDir ? { recording: { enabled: true, dir: opts.recordingDir, ...(opts.recordingStore ? { postgres: opts.recordingStore } : {}) } } : {}),
  };
}

/** The "listener ready" lines regate logs at startup, read from the head of its log file. */
function readyPorts(logFile: string): Record<string, number> {
  const fd = openSync(logFile, "r");
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const ports: Record<string, number> = {};
    for (const line of buf.subarray(0, n).toString("utf8").split("\n")) {
      const m = /"port":(\d+).*"msg":"(postgres|http|admin) listener ready"/.exec(line);
      if (m) ports[m[2]!] = Number(m[1]);
    }
    return ports;
  } finally {
    closeSync(fd);
  }
}

export async function startRegateProcess(opts: RegateProcessOptions): Promise<RegateProcess> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run make bundle first`);
  const dir = tempDir(`regate-bench-${opts.name}-`);
  const configFile = join(dir, "regate.yaml");
  writeFileSync(configFile, stringify(buildRegateConfig(opts)));
  const logFile = join(dir, "regate.log");
  const logFd = openSync(logFile, "w");
  const nodeArgs = ["--import", "tsx"];
  if (opts.cpuProfDir) {
    mkdirSync(opts.cpuProfDir, { recursive: true });
    nodeArgs.push("--cpu-prof", "--cpu-prof-dir", opts.cpuProfDir);
  }
  const entry = COMPILED ? join(packageRoot, "dist", "sidecar", "src", "main.js") : join(packageRoot, "sidecar", "src", "main.ts");
  if (COMPILED) nodeArgs.splice(0, 2);
  const child = startChild(`regate-${opts.name}`, process.execPath, [...nodeArgs, entry, "run", "--config", configFile], {
    cwd: packageRoot,
    env: { ...process.env, BENCH_UPSTREAM_PASSWORD: opts.pg?.users.scram.password ?? "" },
    stdout: logFd,
  });
  closeSync(logFd);
  const cleanUp = async () => {
    await child.stop("SIGTERM", 20_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const want = ["admin", ...(opts.pg ? ["postgres"] : []), ...(opts.routes ? ["http"] : [])];
  let ports: Record<string, number>;
  try {
    let dead = false;
    void child.exited.then(() => (dead = true));
    ports = await waitFor(`regate ${opts.name} to listen`, () => {
      if (dead) throw new GiveUp(`regate exited during startup:\n${child.output()}`);
      const p = readyPorts(logFile);
      return want.every((w) => p[w] !== undefined) ? p : undefined;
    });
  } catch (error) {
    const head = existsSync(logFile) ? readHead(logFile) : "";
    await cleanUp();
    throw new Error(`regate ${opts.name} did not start: ${String(error)}\n${head}`, { cause: error });
  }
  const adminPort = ports["admin"]!;
  return {
    name: opts.name,
    child,
    cpuProfDir: opts.cpuProfDir,
    dir,
    ports: { admin: adminPort, ...(ports["postgres"] ? { postgres: ports["postgres"] } : {}), ...(ports["http"] ? { http: ports["http"] } : {}) },
    url: () => {
      if (!opts.pg || !ports["postgres"]) throw new Error("this regate has no Postgres listener");
      return `postgres://${BENCH_AGENT.user}:${BENCH_AGENT.token}@127.0.0.1:${ports["postgres"]}/${opts.pg.database}?sslmode=disable`;
    },
    async decisions() {
      const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
      const text = await res.text();
      let total = 0;
      for (const line of text.split("\n")) {
        if (line.startsWith("regate_decisions_total{")) total += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
      return total;
    },
    logBytes: () => statSync(logFile).size,
    stop: cleanUp,
  };
}

/**
 * A bundle whose policy allows everything and masks nothing (regate/decision only, no system/log/mask): regate
 * with it measures the proxy, the SQL analysis and the pipeline without the example policy's work.
 */
export async function buildAllowAllBundle(): Promise<string> {
  const dir = tempDir("regate-bench-allow-all-");
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "allow.rego"), 'package regate\n\ndecision := {"allow": true, "deny": [], "mask": []}\n');
  const out = join(dir, "allow-all.tar.gz");
  await run(join(packageRoot, ".bin", "opa"), ["build", "-t", "wasm", "-e", "regate/decision", "-r", "bench-allow-all", "-o", out, join(dir, "src")], { timeoutMs: 60_000 });
  return out;
}

/** Stops a regate started with cpuProfDir and summarises the profile it wrote on exit. */
export async function profileOf(r: RegateProcess, top = 25): Promise<ProfileSummary> {
  const dir = r.cpuProfDir;
  if (!dir) throw new Error("this regate was not started with cpuProfDir");
  const before = new Set(existsSync(dir) ? readdirSync(dir) : []);
  const pid = r.child.pid;
  await r.stop();
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread; tsx's loader-hooks thread
  // writes one too, which is of no interest here.
  const written = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile") && f.includes(`.${pid}.`) && !before.has(f));
  const file = written.find((f) => f.includes(`.${pid}.0.`));
  for (const other of written) if (other !== file) rmSync(join(dir, other), { force: true });
  if (!file) throw new Error(`no CPU profile of pid ${pid}'s main thread in ${dir}`);
  const renamed = join(dir, `${r.name}.cpuprofile`);
  renameSync(join(dir, file), renamed);
  return summarizeProfile(renamed, top);
}

function readHead(file: string): string {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(8192);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
