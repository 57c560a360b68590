// regate as its own process for the reliability tests, as it is deployed: `node main.js run --config <yaml>`
// (support/compiled-regate.ts). Its own process because these tests measure its RSS, block its stdout, restart what
// is behind it, and must not share an event loop with the load they generate.
//
// Everything it writes is kept under build/test-output/reliability/<name>-<stamp>/ (stdout.log, stderr.log,
// recordings, ...) with a secrets.json that lists the secrets it was given (support/test-output.ts): the
// secrets sweep (secrets-sweep.ts, run after the suite) greps every output for every secret listed.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, createReadStream, existsSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { stringify } from "yaml";
import { packageRoot } from "../../../src/paths.js";
import type { TestPostgres } from "../../support/postgres.js";
import { inlineSecrets, outputDir, writeSecrets } from "../../support/test-output.js";
import { regateArgv } from "../../support/compiled-regate.js";

export const BUNDLE = join(packageRoot, "build", "bundle.tar.gz");
export const RELIABILITY_AGENT = { user: "reliability-agent", token: "rel-agent-token-3b81e6f0" };

export interface RegateChildOptions {
  name: string;
  pg: TestPostgres;
  bundle?: string;
  /** Merged over the base config (objects merge, everything else replaces). */
  overrides?: Record<string, unknown>;
  /** "file" (default): stdout to stdout.log. "unread": a pipe nobody reads (the blocked-stdout fault). */
  stdout?: "file" | "unread";
  /** Extra secrets the config holds, for the sweep. */
  secrets?: string[];
}

export interface RegateChild {
  readonly dir: string;
  readonly pid: number;
  readonly ports: { postgres: number; admin: number; http?: number };
  readonly process: ChildProcess;
  url(user?: string, token?: string): string;
  /** stdout.log so far ("" when stdout is an unread pipe). */
  stdout(): string;
  /** Lines of stdout.log matching `re` (at most `max`), read as a stream: a soak's log can pass 1 GB. */
  grepStdout(re: RegExp, max?: number): Promise<string[]>;
  /** Bytes in stdout.log. */
  stdoutBytes(): number;
  stderr(): string;
  /** Resident set size from /proc, KiB; undefined once the process is gone. */
  rssKb(): number | undefined;
  /** GET on the admin listener, parsed JSON; with a responder's or reviewer's token when given. */
  admin(path: string, token?: string): Promise<{ status: number; body: any }>;
  exited(): boolean;
  /** SIGTERM, SIGKILL after `timeoutMs`. Outputs stay for the sweep. */
  stop(timeoutMs?: number): Promise<void>;
}

export function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    const both = v && prev && typeof v === "object" && typeof prev === "object" && !Array.isArray(v) && !Array.isArray(prev);
    // Secret references ({env}, {value}, {file}) replace each other whole.
    const secret = ["password", "token", "secret", "url"].includes(k);
    out[k] = both && !secret ? merge(prev as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

function readyPorts(text: string): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /"port":(\d+).*"msg":"(postgres|http|admin) listener ready"/.exec(line);
    if (m) ports[m[2]!] = Number(m[1]);
  }
  return ports;
}

export async function startRegateChild(opts: RegateChildOptions): Promise<RegateChild> {
  if (!existsSync(opts.bundle ?? BUNDLE)) throw new Error(`${opts.bundle ?? BUNDLE} is missing: run make bundle first`);
  const dir = outputDir("reliability", opts.name);
  const base = {
    policy: { bundle: opts.bundle ?? BUNDLE, watch_interval_ms: 0 },
    log: { level: "info" },
    agents: { tokens: [{ subject: RELIABILITY_AGENT.user, groups: ["agents"], token: { env: "REL_AGENT_TOKEN" } }] },
    postgres: {
      listen: { host: "127.0.0.1", port: 0 },
      target: "reliability-db",
      upstream: { host: opts.pg.host, port: opts.pg.port, database: opts.pg.database, user: opts.pg.users.scram.user, password: { env: "REL_UPSTREAM_PASSWORD" } },
    },
    admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, drain_timeout_ms: 2000 },
  };
  // Written by the test, not by regate: the sweep skips *.input.* files.
  const configFile = join(dir, "regate.input.yaml");
  writeFileSync(configFile, stringify(merge(base, opts.overrides ?? {})));
  writeSecrets(dir, [RELIABILITY_AGENT.token, opts.pg.users.scram.password, opts.pg.users.md5.password, opts.pg.adminPassword, ...inlineSecrets(opts.overrides), ...(opts.secrets ?? [])]);
  const stdoutFile = join(dir, "stdout.log");
  const stderrFile = join(dir, "stderr.log");
  const errFd = openSync(stderrFile, "w");
  const outFd = opts.stdout === "unread" ? undefined : openSync(stdoutFile, "w");
  const child = spawn(process.execPath, regateArgv("run", "--config", configFile), {
    cwd: packageRoot,
    env: { ...process.env, REL_AGENT_TOKEN: RELIABILITY_AGENT.token, REL_UPSTREAM_PASSWORD: opts.pg.users.scram.password },
    stdio: ["ignore", outFd ?? "pipe", errFd],
  });
  if (outFd !== undefined) closeSync(outFd);
  closeSync(errFd);
  let head = ""; // with an unread pipe, only the startup lines are read (then the pipe is paused for good)
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once("exit", (code) => ((exitCode = code), resolve())));
  const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "");
  const stdout = () => (outFd === undefined ? head : read(stdoutFile));

  let ports: Record<string, number> = {};
  const want = ["admin", "postgres", ...(opts.overrides?.["http"] ? ["http"] : [])];
  if (opts.stdout === "unread") {
    await new Promise<void>((resolve, reject) => {
      const onData = (c: Buffer) => {
        head += c.toString("utf8");
        ports = readyPorts(head);
        if (want.every((w) => ports[w] !== undefined)) {
          child.stdout!.off("data", onData);
          child.stdout!.pause(); // from here on nobody reads: the pipe fills
          resolve();
        }
      };
      child.stdout!.on("data", onData);
      void exited.then(() => reject(new Error(`regate exited during startup:\n${read(stderrFile)}${head}`)));
    });
  } else {
    const deadline = Date.now() + 60_000;
    for (;;) {
      ports = readyPorts(read(stdoutFile));
      if (want.every((w) => ports[w] !== undefined)) break;
      if (exitCode !== undefined || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`regate ${opts.name} did not start (exit ${String(exitCode)}):\n${read(stderrFile)}${read(stdoutFile).slice(0, 4000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const pid = child.pid!;
  return {
    dir,
    pid,
    process: child,
    ports: { postgres: ports["postgres"]!, admin: ports["admin"]!, ...(ports["http"] ? { http: ports["http"] } : {}) },
    url: (user = RELIABILITY_AGENT.user, token = RELIABILITY_AGENT.token) =>
      `postgres://${encodeURIComponent(user)}:${encodeURIComponent(token)}@127.0.0.1:${ports["postgres"]}/${opts.pg.database}?sslmode=disable`,
    stdout,
    async grepStdout(re: RegExp, max = 20) {
      const found: string[] = [];
      if (!existsSync(stdoutFile)) return found;
      const lines = createInterface({ input: createReadStream(stdoutFile), crlfDelay: Infinity });
      for await (const line of lines) {
        if (re.test(line)) found.push(line);
        if (found.length >= max) break;
      }
      lines.close();
      return found;
    },
    stdoutBytes: () => (existsSync(stdoutFile) ? statSync(stdoutFile).size : 0),
    stderr: () => read(stderrFile),
    rssKb() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? Number(m[1]) : undefined;
      } catch {
        return undefined;
      }
    },
    async admin(path: string, token?: string) {
      const res = await fetch(`http://127.0.0.1:${ports["admin"]}${path}`, { signal: AbortSignal.timeout(10_000), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON (metrics)
      }
      return { status: res.status, body };
    },
    exited: () => exitCode !== undefined,
    async stop(timeoutMs = 15_000) {
      if (exitCode !== undefined) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

