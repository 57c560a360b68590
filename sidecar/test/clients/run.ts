// Runs the real-client scripts in sidecar/test/clients/ and collects their JSON step lines.
//
//   const run = await runClient("jdbc", url, { EXPECT_NAMES: JSON.stringify(names) });
//   expect(run.ok, formatRun(run)).toBe(true);
//
// Toolchains come from scripts/clients-setup.sh (.venv, the pgx and lib/pq binaries, the compiled JDBC class and jar);
// clientAvailability() says whether a client can run here, so a suite can skip it with a reason.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exec } from "../support/exec.js";

export const CLIENTS = ["psql", "psycopg", "psycopg2", "asyncpg", "pg8000", "pgx", "jdbc"] as const;
/**
 * "pq" (Go database/sql with lib/pq) is not in CLIENTS: it runs scenarios of its own, judged by
 * sidecar/test/postgres/libpq-go-driver.test.ts, not the common one; runClient("pq") runs its "read" scenario.
 * "tokio-postgres" runs the common scenario and then writes (COPY into orders, UPDATEs), which direct.test.ts's
 * check that nothing changed would not survive: tokio-postgres.test.ts runs it, through regate and directly, and
 * "sqlx" (built beside it, judged by the same file) with it.
 */
export type ClientName = (typeof CLIENTS)[number] | "pq" | "tokio-postgres" | "sqlx";

/** One line a client script printed. Every step has these three keys; the rest depend on the step. */
export interface ClientStep {
  client: string;
  step: string;
  ok: boolean;
  sqlstate?: string;
  expected_sqlstate?: string;
  rows?: unknown[];
  error?: string;
  [key: string]: unknown;
}

export interface ClientRun {
  /** Exit status 0, at least one step, and every step ok. */
  ok: boolean;
  client: ClientName;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  steps: ClientStep[];
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunClientOptions {
  /** Kill the script after this long (default 120 s). */
  timeoutMs?: number;
}

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLIENTS_DIR = join(REPO_ROOT, "sidecar/test/clients");
const VENV_PYTHON = join(REPO_ROOT, ".venv/bin/python");
const PGX_BINARY = join(CLIENTS_DIR, "go/pgxclient");
export const PQ_BINARY = join(CLIENTS_DIR, "go/pqclient");
/** Built by scripts/clients-setup.sh rust (cargo's target dir, git-ignored under build/). */
export const TOKIO_POSTGRES_BINARY = join(REPO_ROOT, "build/clients-rust/release/tokio-postgres-client");
export const SQLX_BINARY = join(REPO_ROOT, "build/clients-rust/release/sqlx-client");
const JAVA_DIR = join(CLIENTS_DIR, "java/target");
const SETUP_HINT = "run scripts/clients-setup.sh";

/** `python -c script args…` with the clients' venv: the last line it printed; throws when it exits non-zero. */
export async function venvPython(script: string, ...args: string[]): Promise<string> {
  const r = await exec(VENV_PYTHON, ["-c", script, ...args], { env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  if (r.status !== 0) throw new Error(`python exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim().split("\n").at(-1)!;
}

interface Command {
  command: string;
  args: string[];
}

function commandFor(client: ClientName, url: string): Command {
  switch (client) {
    case "psql":
      return { command: "bash", args: [join(CLIENTS_DIR, "psql/psql_client.sh"), url] };
    case "psycopg":
      return { command: VENV_PYTHON, args: [join(CLIENTS_DIR, "python/psycopg_client.py"), url] };
    case "psycopg2":
      return { command: VENV_PYTHON, args: [join(CLIENTS_DIR, "python/psycopg2_client.py"), url] };
    case "asyncpg":
      return { command: VENV_PYTHON, args: [join(CLIENTS_DIR, "python/asyncpg_client.py"), url] };
    case "pg8000":
      return { command: VENV_PYTHON, args: [join(CLIENTS_DIR, "python/pg8000_client.py"), url] };
    case "pgx":
      return { command: PGX_BINARY, args: [url] };
    case "pq":
      return { command: PQ_BINARY, args: [url, "read"] };
    case "tokio-postgres":
      return { command: TOKIO_POSTGRES_BINARY, args: [url] };
    case "sqlx":
      return { command: SQLX_BINARY, args: [url] };
    case "jdbc":
      return {
        command: "java",
        args: ["-cp", `${join(JAVA_DIR, "classes")}:${join(JAVA_DIR, "lib")}/*`, "regate.clients.JdbcClient", url],
      };
  }
}

function commandWorks(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 30_000 });
  return result.status === 0;
}

/**
 * A client whose toolchain is missing fails its tests: a suite that skips silently passes whatever happens.
 * REGATE_SKIP_CLIENTS=1 is the one way to skip them (a machine without Python, Go or Java), said out loud.
 */
export const SKIP_MISSING_CLIENTS = process.env["REGATE_SKIP_CLIENTS"] === "1";

export interface ClientGate {
  /** True only when the client is missing and REGATE_SKIP_CLIENTS=1: pass to it.skipIf. */
  skip: boolean;
  /** The test's title, with why it is skipped when it is. */
  title(what: string): string;
  /** First line of every test that runs the client: throws, naming what is missing, when it is not installed. */
  require(): void;
}

export function clientGate(client: ClientName): ClientGate {
  const { available, reason } = clientAvailability(client);
  const skip = !available && SKIP_MISSING_CLIENTS;
  // Visible in the run's output, not just as a skipped count.
  if (skip) console.warn(`SKIPPED ${client} client (REGATE_SKIP_CLIENTS=1): ${reason}`);
  return {
    skip,
    title: (what) => (skip ? `${what} [skipped: ${reason}]` : what),
    require() {
      if (!available) throw new Error(`${client} client: ${reason} (or set REGATE_SKIP_CLIENTS=1 to skip missing clients)`);
    },
  };
}

const availability = new Map<ClientName, { available: boolean; reason?: string }>();

/** Whether a client's toolchain is installed here; the reason says what is missing. Cached per process. */
export function clientAvailability(client: ClientName): { available: boolean; reason?: string } {
  const cached = availability.get(client);
  if (cached !== undefined) return cached;
  const missing = (reason: string) => ({ available: false, reason: `${reason}: ${SETUP_HINT}` });
  let result: { available: boolean; reason?: string };
  switch (client) {
    case "psql":
      result = commandWorks("psql", ["--version"]) ? { available: true } : missing("psql is not on PATH");
      break;
    case "psycopg":
    case "psycopg2":
    case "asyncpg":
    case "pg8000":
      result = !existsSync(VENV_PYTHON)
        ? missing(`no Python venv at ${VENV_PYTHON}`)
        : commandWorks(VENV_PYTHON, ["-c", `import ${client}`])
          ? { available: true }
          : missing(`${client} is not installed in .venv`);
      break;
    case "pgx":
      result = existsSync(PGX_BINARY) ? { available: true } : missing(`${PGX_BINARY} is not built`);
      break;
    case "pq":
      result = existsSync(PQ_BINARY) ? { available: true } : missing(`${PQ_BINARY} is not built`);
      break;
    case "tokio-postgres":
      result = existsSync(TOKIO_POSTGRES_BINARY) ? { available: true } : missing(`${TOKIO_POSTGRES_BINARY} is not built`);
      break;
    case "sqlx":
      result = existsSync(SQLX_BINARY) ? { available: true } : missing(`${SQLX_BINARY} is not built`);
      break;
    case "jdbc": {
      const libs = existsSync(join(JAVA_DIR, "lib")) ? readdirSync(join(JAVA_DIR, "lib")) : [];
      result = !existsSync(join(JAVA_DIR, "classes/regate/clients/JdbcClient.class"))
        ? missing("the JDBC client is not compiled")
        : !libs.some((f) => /^postgresql-.*\.jar$/.test(f))
          ? missing("the pgjdbc jar is not in target/lib")
          : commandWorks("java", ["-version"])
            ? { available: true }
            : missing("java is not on PATH");
      break;
    }
  }
  availability.set(client, result);
  return result;
}

function parseSteps(stdout: string): ClientStep[] {
  const steps: ClientStep[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === "object" && "step" in parsed && "ok" in parsed) {
        steps.push(parsed as ClientStep);
      }
    } catch {
      // Not a step line: left in stdout for the reader.
    }
  }
  return steps;
}

/**
 * Runs one client script against `url` (libpq style, e.g. postgres://agent:token@127.0.0.1:PORT/regate_test?sslmode=disable).
 * `env` adds to (or, with undefined, removes from) this process's environment: EXPECT_NAMES, DENY_SQL, ...
 */
export async function runClient(
  client: ClientName,
  url: string,
  env: Record<string, string | undefined> = {},
  options: RunClientOptions = {},
): Promise<ClientRun> {
  const { command, args } = commandFor(client, url);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: "1", REGATE_URL: url };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 120_000;

  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    let finished = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      if (finished) return; // "error" and "close" can both fire
      finished = true;
      clearTimeout(timer);
      if (spawnError !== undefined) stderr += `\nspawn ${command} failed: ${spawnError.message}`;
      const steps = parseSteps(stdout);
      resolve({
        ok: exitCode === 0 && !timedOut && steps.length > 0 && steps.every((s) => s.ok),
        client,
        exitCode,
        signal,
        timedOut,
        steps,
        stdout,
        stderr,
        durationMs: Date.now() - started,
      });
    };
    child.once("error", (error) => finish(null, null, error));
    child.once("close", (code, signal) => finish(code, signal));
  });
}

/** A readable summary for assertion messages: failed steps first, then the tail of stderr. */
export function formatRun(run: ClientRun): string {
  const failed = run.steps.filter((s) => !s.ok);
  return [
    `${run.client}: exit ${run.exitCode}${run.signal ? ` (${run.signal})` : ""}${run.timedOut ? " timed out" : ""}, ` +
      `${run.steps.length} steps, ${failed.length} failed, ${run.durationMs} ms`,
    ...failed.map((s) => `  FAILED ${JSON.stringify(s)}`),
    run.steps.length === 0 ? `stdout:\n${run.stdout.slice(-4000)}` : "",
    run.stderr.trim() === "" ? "" : `stderr:\n${run.stderr.slice(-4000)}`,
  ]
    .filter((line) => line !== "")
    .join("\n");
}

/** The step named `name`, or undefined. */
export function stepOf(run: ClientRun, name: string): ClientStep | undefined {
  return run.steps.find((s) => s.step === name);
}
