// The fleet store (recording.postgres): two replicas, one in this process and one its own process, copy every
// record into one audit database; `regate recordings pull` on any machine fetches both, byte for byte as the
// replicas wrote them, and `verify` proves the copy. Then the store stops answering: new statements are
// refused with 58030 once the queue is full, nothing is dropped, and service comes back when it answers.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { packageRoot } from "../../src/paths.js";
import { PgRecordingStore } from "../../src/recording/index.js";
import { startRegateChild, type RegateChild } from "../reliability/support/regate-child.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { until } from "../support/wait.js";
import { regateArgv } from "../support/compiled-regate.js";

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, regateArgv("recordings", ...args), { cwd: packageRoot }).then(
  (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
  (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
);

let db: TestPostgres;
let audit: TestPostgres;
let a: TestRegate;
let b: RegateChild;
const root = mkdtempSync(join(tmpdir(), "regate-fleet-store-"));
const dirA = join(root, "a");
const dirB = join(root, "b");
let storeConfig: string;

const store = (replica: string, extra: Record<string, unknown> = {}) => ({
  enabled: true,
  replica,
  host: audit.host,
  port: audit.port,
  database: audit.database,
  user: audit.adminUser,
  password: { value: audit.adminPassword },
  ...extra,
});

async function agent(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

const stored = async (replica: string): Promise<number> => (await audit.query("SELECT count(*)::int AS n FROM regate.recording_records WHERE replica = $1", [replica]))[0].n;
const localRecords = (dir: string): number =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .reduce((n, f) => n + readFileSync(join(dir, f), "utf8").split("\n").length - 1, 0);

beforeAll(async () => {
  [db, audit] = await Promise.all([startPostgres(), startPostgres({ loadDemo: false })]);
  a = await startRegate(db, { recording: { enabled: true, dir: dirA, postgres: store("replica-a", { queue_max_bytes: 16384 }) } });
  b = await startRegateChild({ name: "fleet-store", pg: db, overrides: { recording: { enabled: true, dir: dirB, postgres: store("replica-b") } }, secrets: [audit.adminPassword] });
  storeConfig = join(root, "store.yaml");
  writeFileSync(
    storeConfig,
    stringify({
      postgres: { upstream: { host: db.host, port: db.port, database: db.database, user: "nobody" } },
      recording: { enabled: true, postgres: { enabled: true, host: audit.host, port: audit.port, database: audit.database, user: audit.adminUser, password: { env: "AUDIT_PASSWORD" } } },
    }),
  );
}, 120_000);

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await Promise.all([db?.stop(), audit?.stop()]);
});

describe("recording.postgres: the fleet store", () => {
  it("both replicas' recordings reach the store, and a pull from it is byte for byte what each replica wrote, and verifies", async () => {
    for (const url of [a.url(), b.url()]) {
      const c = await agent(url);
      await c.query("SELECT count(*) FROM public.orders");
      await c.query({ text: "SELECT id FROM public.orders WHERE id = $1", values: [1] });
      await expect(c.query("SELECT * FROM internal.api_keys")).rejects.toMatchObject({ code: "42501" });
      await c.end();
    }
    // Each replica's end record and the journal's `closed` entry are in its files, then copied.
    await until(async () => localRecords(dirA) > 0 && (await stored("replica-a")) === localRecords(dirA) && (await stored("replica-b")) === localRecords(dirB), 15_000);

    const to = join(root, "pulled");
    const pulled = await run(process.execPath, regateArgv("recordings", "pull", "--config", storeConfig, "--to", to, "--json"), {
      cwd: packageRoot,
      env: { ...process.env, AUDIT_PASSWORD: audit.adminPassword },
    });
    const summary = JSON.parse(pulled.stdout) as { replica: string; files: number; records: number }[];
    expect(summary.map((p) => p.replica).sort()).toEqual(["replica-a", "replica-b"]);
    // The CLI runs below read what the pull wrote, or the store, and write nothing but the store's read log:
    // each is its own process, started together (each spends seconds loading regate).
    const pulledReplica = async (replica: string, dir: string) => {
      const local = readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort();
      expect(readdirSync(join(to, replica)).sort()).toEqual(local);
      for (const f of local) expect(readFileSync(join(to, replica, f), "utf8")).toBe(readFileSync(join(dir, f), "utf8"));
      const session = local.find((f) => f !== "journal.jsonl")!.replace(/^[^_]*_/, "").replace(/\.jsonl$/, "");
      const [verify, replay] = await Promise.all([cli("verify", "--dir", join(to, replica), "--json"), cli("replay", session, "--dir", join(to, replica))]);
      expect(verify.code).toBe(0);
      expect(replay.stdout).toContain("SELECT count(*) FROM public.orders");
      expect(replay.stdout).toContain("internal.api_keys");
    };
    // One session straight from the store, from any machine: pulled into a temporary directory and replayed.
    const fileB = readdirSync(dirB).find((f) => f !== "journal.jsonl")!;
    const sessionB = fileB.replace(/^[^_]*_/, "").replace(/\.jsonl$/, "");
    const [direct] = await Promise.all([
      run(process.execPath, regateArgv("recordings", "replay", sessionB.slice(0, 12), "--store", "--config", storeConfig), {
        cwd: packageRoot,
        env: { ...process.env, AUDIT_PASSWORD: audit.adminPassword },
      }),
      pulledReplica("replica-a", dirA),
      pulledReplica("replica-b", dirB),
    ]);
    expect(direct.stdout).toContain("SELECT count(*) FROM public.orders");
    expect(direct.stderr).not.toContain("does not verify");

    // Each pull was noted before anything was fetched.
    const reads = await audit.query("SELECT reader, what FROM regate.recording_reads ORDER BY at");
    expect(reads.map((r) => r.what)).toEqual(["pull", `pull session=${sessionB.slice(0, 12)}`]);

    // A record altered in the store is caught by verify after a pull.
    await audit.query("UPDATE regate.recording_records SET line = replace(line, 'public.orders', 'public.orderz') WHERE replica = 'replica-b' AND line LIKE '%SELECT count(*) FROM public.orders%'");
    const again = join(root, "pulled-again");
    await run(process.execPath, regateArgv("recordings", "pull", "--config", storeConfig, "--to", again, "--replica", "replica-b"), {
      cwd: packageRoot,
      env: { ...process.env, AUDIT_PASSWORD: audit.adminPassword },
    });
    const tampered = await cli("verify", "--dir", join(again, "replica-b"));
    expect(tampered.code).toBe(2);
    expect(readdirSync(again)).toEqual(["replica-b"]);
  }, 60_000);

  it("a store that stops answering: statements are refused with 58030 once the queue is full, none is dropped, and service resumes when it answers", async () => {
    const c = await agent(a.url());
    await c.query("SELECT 1");
    const rec = a.app.recorder!;
    const copier = rec.opts.store!;
    await until(() => copier.depth === 0);
    // Freeze the audit server: its postmaster (no new connections) and the backend regate copies through.
    const [backend] = await audit.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'regate-recordings:replica-a'");
    const pids = [audit.pid()!, backend.pid as number];
    for (const pid of pids) process.kill(pid, "SIGSTOP");
    let refusal: (Error & { code?: string }) | undefined;
    let ran = 0;
    try {
      for (let i = 0; i < 200 && !refusal; i++) {
        try {
          await c.query(`SELECT ${i} AS n`);
          ran++;
        } catch (err) {
          refusal = err as Error & { code?: string };
        }
      }
      expect(refusal?.code).toBe("58030");
      expect(refusal?.message).toContain("recording store");
      expect(copier.queuedBytes).toBeGreaterThanOrEqual(16384);
      // Another replica's agents are not affected.
      const other = await agent(b.url());
      await other.query("SELECT 1");
      await other.end();
    } finally {
      for (const pid of pids) process.kill(pid, "SIGCONT");
    }
    // The queue drains and the same session goes on.
    await until(async () => {
      try {
        await c.query("SELECT 'back' AS again");
        return true;
      } catch {
        return false;
      }
    }, 20_000);
    await c.end();
    await until(async () => copier.depth === 0 && (await stored("replica-a")) === localRecords(dirA), 15_000);
    expect(copier.stats.dropped).toBe(0);
    console.log(`store frozen: ${ran} statements ran before the refusal; ${copier.stats.stored} records copied, ${copier.stats.dropped} dropped`);
  }, 90_000);

  it("on_backlog drop: records that find the queue full are left out and counted, statements are never held back; two replicas under one name are refused", async () => {
    const upstream = { host: audit.host, port: audit.port, database: audit.database, user: audit.adminUser, password: new Secret(audit.adminPassword, "test"), sslmode: "disable" as const, connect_timeout_ms: 5000 };
    const log = createLogger({ level: "silent" });
    const line = (seq: number, text = "x") => Buffer.from(`{"seq":${seq},"t":"${text}"}\n`);
    const dropper = new PgRecordingStore({ upstream, schema: "regate", replica: "drop-test", queueMaxBytes: 100, batchMaxRecords: 100, onBacklog: "drop", log });
    const postmaster = audit.pid()!;
    process.kill(postmaster, "SIGSTOP");
    try {
      dropper.push("f.jsonl", 1, [1, 2, 3, 4, 5, 6, 7, 8].map((n) => line(n)));
      expect(dropper.depth).toBe(5);
      expect(dropper.stats.dropped).toBe(3);
      expect(dropper.backlog()).toBeUndefined();
    } finally {
      process.kill(postmaster, "SIGCONT");
    }
    await dropper.drained();
    expect(await stored("drop-test")).toBe(5);
    await dropper.close();

    // Another process claiming the same replica name writes a different record 1: the copy stops and says why.
    const twin = new PgRecordingStore({ upstream, schema: "regate", replica: "drop-test", queueMaxBytes: 100, batchMaxRecords: 100, onBacklog: "refuse", log });
    twin.push("f.jsonl", 1, [line(1, "other")]);
    await until(() => twin.failing);
    expect(twin.problem).toContain("another live replica using the same recording.postgres.replica");
    expect(twin.depth).toBe(1);
    await twin.close(100);
    expect(twin.stats.dropped).toBe(1);
  }, 30_000);

  it("retention mirrors into the store: the tombstone arrives, the file's rows go, and a pull still verifies", async () => {
    const dirC = join(root, "c");
    const c = await startRegate(db, { recording: { enabled: true, dir: dirC, max_age_seconds: 3, retention_interval_seconds: 1, postgres: store("replica-c") } });
    try {
      const agentC = await agent(c.url());
      await agentC.query("SELECT count(*) FROM public.orders");
      await agentC.end();
      const file = await until(() => readdirSync(dirC).find((f) => f !== "journal.jsonl" && f.endsWith(".jsonl")), 10_000);
      const rows = async () => (await audit.query("SELECT count(*)::int AS n FROM regate.recording_records WHERE replica = 'replica-c' AND file = $1", [file]))[0].n as number;
      // Copied first (the file is younger than max_age_seconds for a while)...
      await until(async () => (await rows()) > 0, 10_000);
      // ...then, older than 3 s and ended: retention deletes it here, and from the store once the tombstone is there.
      await until(async () => (await rows()) === 0, 20_000);
      const journal = (await audit.query("SELECT line FROM regate.recording_records WHERE replica = 'replica-c' AND file = 'journal.jsonl' ORDER BY seq")).map((r) => JSON.parse(r.line));
      expect(journal.some((r) => r.type === "deleted" && r.file === file)).toBe(true);
      const to = join(root, "pulled-c");
      await run(process.execPath, regateArgv("recordings", "pull", "--config", storeConfig, "--to", to, "--replica", "replica-c"), {
        cwd: packageRoot,
        env: { ...process.env, AUDIT_PASSWORD: audit.adminPassword },
      });
      expect((await cli("verify", "--dir", join(to, "replica-c"))).code).toBe(0);
    } finally {
      await c.stop();
    }
  }, 60_000);
});
