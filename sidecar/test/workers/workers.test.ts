import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstream, type Upstream } from "../http/fixtures.js";
import { RELIABILITY_AGENT, type RegateChild } from "../reliability/support/regate-child.js";
import { freePort, startPostgres, type TestPostgres } from "../support/postgres.js";
import { until } from "../support/wait.js";
import { adminCall, alive, connect, keyOf, onBothWorkers, sendCancel, startWorkers, workerOf, workerPids } from "./support.js";

// workers: 2 (docs/workers.md): one listener, two processes; what must hold across them, seen from real
// clients and the real admin API: cancels, the sessions list and kill, locks, metrics, whole log lines,
// a worker's death, and the drain.

let db: TestPostgres;
let regate: RegateChild;
let upstream: Upstream;
const open: pg.Client[] = [];

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  upstream = await startUpstream();
  regate = await startWorkers(db, "workers", {
    decision_log: { enabled: true },
    http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `${upstream.url}/api` }] },
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await regate?.stop();
  await upstream?.close();
  await db?.stop();
});

async function runningCount(sql: string): Promise<number> {
  const rows = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1 AND state = 'active'", [sql]);
  return rows[0].n as number;
}

describe("workers: 2", () => {
  it("cancels a statement whichever worker receives the CancelRequest (57014)", async () => {
    const clients = await onBothWorkers(regate.url(), 3);
    open.push(...clients);
    expect(new Set(clients.map(workerOf))).toEqual(new Set([0, 1]));
    // Round-robin hands out connections alternately; the clients were made that way too, so cancelling them
    // in that order would put every cancel on its owner. Grouped by worker, about half the cancels cross.
    const byWorker = [...clients].sort((a, b) => workerOf(a)! - workerOf(b)!);
    for (const c of byWorker) {
      const sql = "SELECT pg_sleep(20)";
      const t0 = Date.now();
      const sleeping = c.query(sql).then(() => undefined, (e: pg.DatabaseError) => e);
      await until(async () => (await runningCount(sql)) >= 1);
      const { pid, key } = keyOf(c);
      await sendCancel(regate.ports.postgres, pid, key);
      const err = await sleeping;
      expect(err?.code).toBe("57014");
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
    // Those that landed on the worker that does not hold the session were forwarded (the line names the pid).
    // Log lines reach stdout a few ms after the fact (the primary batches them).
    const crossed = await until(async () => {
      const forwarded = (await regate.grepStdout(/cancel request forwarded/, 1000)).join("\n");
      const n = clients.filter((c) => forwarded.includes(`"pid":${keyOf(c).pid},`)).length;
      return n > 0 && n;
    }, 5_000).catch(() => 0);
    console.log(`cancels that crossed workers: ${crossed} of ${clients.length}`);
    expect(crossed).toBeGreaterThan(0);
  }, 60_000);

  it("never cancels with a wrong key, whichever worker the CancelRequest reaches", async () => {
    const clients = await onBothWorkers(regate.url(), 1);
    open.push(...clients);
    for (const c of clients) {
      const sql = "SELECT pg_sleep(0.6) AS slept";
      const sleeping = c.query(sql).then((r) => r.rowCount, (e: Error) => e);
      await until(async () => (await runningCount(sql)) >= 1);
      const { pid, key } = keyOf(c);
      // Two in a row: round-robin gives one to each worker, the owner and the other.
      await sendCancel(regate.ports.postgres, pid, key ^ 1);
      await sendCancel(regate.ports.postgres, pid, key ^ 0x10000);
      expect(await sleeping).toBe(1);
    }
  }, 60_000);

  it("lists every worker's sessions and kills one that lives on the other worker", async () => {
    const clients = await onBothWorkers(regate.url(), 1, "listed-app");
    open.push(...clients);
    const listed = await adminCall(regate, "GET", "/sessions");
    expect(listed.status).toBe(200);
    const mine = (listed.body.sessions as any[]).filter((s) => s.application_name === "listed-app");
    expect(mine.length).toBe(clients.length);
    expect(new Set(mine.map((s) => s.worker))).toEqual(new Set([0, 1]));

    // The admin listener lives in worker 0: kill a session that worker 1 holds.
    const victim = clients.find((c) => workerOf(c) === 1)!;
    const sql = "SELECT pg_sleep(21)";
    const sleeping = victim.query(sql).then(() => undefined, (e: pg.DatabaseError) => e);
    const target = await until(async () => ((await adminCall(regate, "GET", "/sessions")).body.sessions as any[]).find((s) => s.current?.sql === sql));
    expect(target.worker).toBe(1);
    await until(async () => (await runningCount(sql)) === 1);
    const killed = await adminCall(regate, "POST", `/sessions/${target.id}/kill`, { reason: "runaway on worker 1" });
    expect(killed).toEqual({ status: 200, body: { killed: target.id, by: "rita", reason: "runaway on worker 1" } });
    const err = await sleeping;
    expect(err?.code).toBe("57P01");
    expect(err?.message).toBe("regate: session ended by an operator: runaway on worker 1 (by rita)");
    await until(async () => (await runningCount(sql)) === 0);
    expect(await adminCall(regate, "POST", `/sessions/${target.id}/kill`, { reason: "again" })).toMatchObject({ status: 404 });
  }, 60_000);

  it("a lock ends the agent's sessions on every worker and refuses new ones on every worker, until removed", async () => {
    const clients = await onBothWorkers(regate.url(), 2);
    const ended = clients.map((c) => new Promise<Error>((resolve) => c.once("error", resolve)));
    const lock = await adminCall(regate, "POST", "/locks", { target: { principal: "reliability-agent" }, message: "incident INC-9: stop" });
    expect(lock.status).toBe(201);
    const errors = await Promise.all(ended);
    for (const e of errors) expect(e.message).toMatch(/agent locked \(lk_[0-9a-f]+, principal reliability-agent\): incident INC-9: stop/);
    // Round-robin: four new connections reach both workers; every one is refused.
    for (let i = 0; i < 4; i++) await expect(connect(regate.url())).rejects.toThrow(/locked by an operator/);
    expect((await adminCall(regate, "GET", "/locks")).body.locks).toHaveLength(1);
    expect((await adminCall(regate, "DELETE", `/locks/${lock.body.id}`)).status).toBe(200);
    const back = await onBothWorkers(regate.url(), 1);
    open.push(...back);
    expect(new Set(back.map(workerOf))).toEqual(new Set([0, 1]));
  }, 60_000);

  it("serves HTTP on the one shared listener (new connections, handed round-robin)", async () => {
    const before = upstream.requests.length;
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(`http://127.0.0.1:${regate.ports.http}/api/customers/1`, { headers: { authorization: `Bearer ${RELIABILITY_AGENT.token}`, connection: "close" } }).then((r) => r.status),
      ),
    );
    expect(statuses).toEqual(Array(10).fill(200));
    expect(upstream.requests.length - before).toBe(10);
    const text = (await adminCall(regate, "GET", "/metrics")).body as string;
    const http = [...text.matchAll(/^regate_decisions_total\{[^}]*kind="http"[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    expect(http).toBeGreaterThanOrEqual(10);
  });

  it("serves /metrics for every worker: sessions and decisions summed, the workers counted", async () => {
    const listed = (await adminCall(regate, "GET", "/sessions")).body.sessions as any[];
    const text = (await adminCall(regate, "GET", "/metrics")).body as string;
    expect(text).toMatch(/^regate_cluster_workers 2$/m);
    expect(text).toMatch(/^regate_cluster_workers_unanswered 0$/m);
    const sessions = Number(/^regate_active_sessions\{protocol="postgres"\} (\d+)$/m.exec(text)?.[1]);
    expect(sessions).toBe(listed.length);
    expect(text).toMatch(/^regate_bundle_info\{revision="[^"]+"\} 1$/m);
  });

  it("writes only whole lines, however long, from both workers at once", async () => {
    const clients = await onBothWorkers(regate.url(), 2);
    open.push(...clients);
    // Ten times PIPE_BUF and under max_statement_bytes (64 KiB): each decision-log line spans many pipe writes.
    const big = "x".repeat(40_000);
    await Promise.all(clients.flatMap((c) => [0, 1, 2].map((i) => c.query(`SELECT '${big}' AS v${i}`))));
    await until(async () => (await regate.grepStdout(/x{40000}/, 100)).length >= clients.length * 3, 10_000);
    const lines = regate.stdout().split("\n").filter(Boolean);
    const broken = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(broken.length).toBe(0);
  }, 60_000);

  it("restarts a worker that dies: its sessions end, the other worker's go on", async () => {
    const clients = await onBothWorkers(regate.url(), 1);
    open.push(...clients);
    const doomed = clients.find((c) => workerOf(c) === 1)!;
    const survivor = clients.find((c) => workerOf(c) === 0)!;
    const gone = new Promise<Error>((resolve) => doomed.once("error", resolve));
    const pid = Number([...regate.stdout().matchAll(/"slot":1,"worker_pid":(\d+)/g)].at(-1)?.[1]);
    expect(workerPids(regate.pid)).toContain(pid);
    process.kill(pid, "SIGKILL");
    expect((await gone).message).toBeTruthy();
    await until(() => regate.stdout().includes("worker died; its sessions ended; restarting it"), 10_000);
    // The other worker's session never noticed.
    expect((await survivor.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    await until(() => regate.stdout().includes("worker restarted and listening"), 30_000);
    expect(workerPids(regate.pid)).toHaveLength(2);
    const fresh = await onBothWorkers(regate.url(), 1);
    open.push(...fresh);
    expect(new Set(fresh.map(workerOf))).toEqual(new Set([0, 1]));
    expect((await adminCall(regate, "GET", "/metrics")).body).toMatch(/^regate_cluster_worker_restarts_total\{slot="1"\} 1$/m);
  }, 60_000);

  it("SIGTERM to the primary drains every worker: running statements finish, then it exits 0", async () => {
    const workers = workerPids(regate.pid);
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => undefined)));
    const clients = await onBothWorkers(regate.url(), 1);
    const sql = "SELECT pg_sleep(1.5) AS slept";
    const running = clients.map((c) => c.query(sql).then((r) => r.rowCount, (e: Error) => e));
    await until(async () => (await runningCount(sql)) === clients.length);
    const code = new Promise<number | null>((r) => regate.process.once("exit", (c) => r(c)));
    await regate.stop();
    expect(await code).toBe(0);
    // Both workers let their statement finish (admin.drain_timeout_ms is 2 s here) before they closed.
    expect(await Promise.all(running)).toEqual(clients.map(() => 1));
    expect(regate.stdout()).toMatch(/"msg":"draining every worker"/);
    expect(regate.stdout().match(/"msg":"stopped"/g)?.length).toBe(3);
    // Gone, or a zombie left for init to reap (the primary that would have reaped it has exited).
    for (const pid of workers) expect(alive(pid)).toBe(false);
  }, 30_000);
});

describe("workers: 2 whose primary dies", () => {
  it("the workers drain and exit on their own: nothing is left listening", async () => {
    const r = await startWorkers(db, "workers-orphaned");
    const workers = workerPids(r.pid);
    expect(workers).toHaveLength(2);
    r.process.kill("SIGKILL");
    await until(() => workers.every((p) => !alive(p)), 15_000);
    await expect(connect(r.url())).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);
});

describe("workers: 2 that cannot start", () => {
  it("stops the other workers and exits 1 when a worker fails at start, saying why", async () => {
    // The lock table cannot be read (nothing listens where the database should be): no worker may start blind.
    const nowhere = { ...db, port: await freePort() } as TestPostgres;
    const t0 = Date.now();
    const err = await startWorkers(nowhere, "workers-fail", { incident: { locks: { store: "postgres" } } }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/did not start \(exit 1\)/);
    expect(err?.message).toMatch(/regate could not start/);
    expect(err?.message).toMatch(/a worker could not start; stopping the others/);
    console.log(`workers that could not start: exit 1 after ${Date.now() - t0} ms`);
  }, 60_000);
});
