// Child processes of a benchmark: started here, tracked, and stopped even when the scenario fails.
//
//   const c = startChild("opa", ".bin/opa", ["run", "--server", ...]);
//   try { ... } finally { await c.stop(); }
//   const { stdout } = await run("pgbench", ["-S", ...], { env });
//
// Every child is killed (SIGKILL) when this process exits, and SIGINT/SIGTERM turn into an orderly exit so
// the exit hooks (ours, and startPostgres' which stops its server) run.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

process.on("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort at exit.
    }
  }
});

/** A fresh temp dir, removed when this process exits (or earlier by its owner: rmSync with force is fine). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    process.exit(130);
  });
}

const TAIL = 16 * 1024;

export interface ChildOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Where stdout goes: "pipe" keeps its tail in memory (output()), a number is a file descriptor. Default "pipe". */
  stdout?: "pipe" | "ignore" | number;
  /** Where stderr goes, as for stdout. Default "pipe". */
  stderr?: "pipe" | "ignore" | number;
  uid?: number;
  gid?: number;
}

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** The last 16 KiB of stdout (when piped) and stderr. */
  output(): string;
  /** SIGTERM (or `signal`), then SIGKILL after `timeoutMs`. Safe to call twice and after exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export function startChild(name: string, command: string, args: string[], opts: ChildOptions = {}): Child {
  const stdio: StdioOptions = ["ignore", opts.stdout ?? "pipe", opts.stderr ?? "pipe"];
  const proc = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio,
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  live.add(proc);
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-TAIL);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    proc.once("error", (err) => {
      keep(Buffer.from(`${name}: ${err.message}\n`));
      live.delete(proc);
      exitCode = -1;
      resolve(-1);
    });
    proc.once("exit", (code) => {
      live.delete(proc);
      exitCode = code;
      resolve(code);
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    name,
    process: proc,
    pid: proc.pid ?? -1,
    exited,
    output: () => tail,
    stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 15_000) {
      stopping ??= (async () => {
        if (exitCode !== undefined) return;
        proc.kill(signal);
        const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Discard stdout instead of collecting it (large outputs: psql streaming a million rows). */
  discardStdout?: boolean;
  timeoutMs?: number;
  /** Resolve even when the exit code is not 0. */
  allowFailure?: boolean;
}

/** Runs a command to completion; rejects with its output when it fails or times out. */
export function run(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const proc = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", opts.discardStdout ? "ignore" : "pipe", "pipe"] });
    live.add(proc);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout?.on("data", (c: Buffer) => out.push(c));
    proc.stderr?.on("data", (c: Buffer) => err.push(c));
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          proc.kill("SIGKILL");
        }, opts.timeoutMs)
      : undefined;
    proc.once("error", (e) => {
      clearTimeout(timer);
      live.delete(proc);
      reject(new Error(`${command}: ${e.message}`, { cause: e }));
    });
    proc.once("close", (code) => {
      clearTimeout(timer);
      live.delete(proc);
      const result = { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), ms: performance.now() - started };
      if (timedOut) reject(new Error(`${command} ${args.join(" ")}: timed out after ${opts.timeoutMs} ms\n${result.stderr.slice(-4000)}`));
      else if (code !== 0 && !opts.allowFailure) {
        reject(new Error(`${command} ${args.join(" ")}: exit code ${code}\n${(result.stderr + result.stdout).slice(-4000)}`));
      } else resolve(result);
    });
  });
}

/** Thrown from a waitFor check: stop waiting now (the process being waited for has died). */
export class GiveUp extends Error {}

/** Polls `check` every `intervalMs` until it returns a value; throws after `timeoutMs` with the last error. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
