import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, Counter, Gauge, Registry } from "prom-client";
import type { Lock } from "../locks/index.js";
import { whenWritten, type Logger } from "../log.js";
import type { SessionView } from "../admin/index.js";
import { AgentBudgetsPrimary } from "./agent-budgets-primary.js";
import { ownerSlot } from "./cancel-keys.js";
import { Hub } from "./hub.js";
import { LineJoiner } from "./lines.js";
import { LOGIN_REPORT_TIMEOUT_MS, LOGIN_SHARE_TIMEOUT_MS } from "./login-throttle.js";
import { LoginThrottlePrimary, type FailureReport } from "./login-throttle-primary.js";
import { McpSessionsPrimary, type McpSessionChange } from "./mcp-sessions.js";
import { isOurs, MCP_SHARE_TIMEOUT_MS, SLOT_ENV, type PrimaryOp, type ToPrimary } from "./messages.js";

export interface PrimaryOptions {
  workers: number;
  /** Workers get this long to drain on SIGTERM (admin.drain_timeout_ms), plus a margin, before SIGKILL. */
  drainTimeoutMs: number;
  log: Logger;
  /** Where whole lines go (process.stdout / process.stderr by default). */
  stdout?: (b: Buffer) => void;
  stderr?: (b: Buffer) => void;
}

/** A worker that dies sooner than this after its start is restarted after a growing delay (a crash loop). */
const STEADY_MS = 10_000;
const MAX_RESTART_DELAY_MS = 10_000;
/** How long the primary lets a worker's output gather in its pipe between reads (log lines are this much later). */
const READ_PAUSE_MS = 5;

/**
 * The cluster primary (docs/workers.md): forks one worker per slot, which each run the whole app on the
 * shared listeners; forwards their output as whole lines; routes cancels, the sessions API, memory
 * locks and metrics between them; restarts a worker that dies; drains all on SIGTERM/SIGINT.
 * Resolves undefined once every worker listens, or 1 when one could not start (the others are stopped).
 */
export function runPrimary(opts: PrimaryOptions): Promise<number | undefined> {
  const { log } = opts;
  // Whole lines from every worker, written once per event-loop turn: one write instead of one per pipe read
  // (the workers' decision logs pass through here; measured in docs/benchmarks.md).
  const out = batched(opts.stdout ?? ((b: Buffer) => void process.stdout.write(b)));
  const err = batched(opts.stderr ?? ((b: Buffer) => void process.stderr.write(b)));
  const hub = new Hub();
  const registry = new Registry();
  const running = new Gauge({ name: "regate_cluster_workers", help: "Worker processes running (workers > 1)", registers: [registry] });
  const restarts = new Counter({ name: "regate_cluster_worker_restarts_total", help: "Workers restarted after they died", labelNames: ["slot"], registers: [registry] });
  const unanswered = new Gauge({ name: "regate_cluster_workers_unanswered", help: "Workers whose metrics are missing from this scrape", registers: [registry] });
  let locks: Lock[] = [];
  let stopping = false;
  let started = false;
  const readySlots = new Set<number>();
  const restartDelay = new Map<number, number>();
  const outputs = new Map<Worker, Promise<void>>();
  // MCP session records: given to every listening worker before the one that asked is answered. One that
  // is not listening yet reads them (mcp.snapshot) before it listens.
  const mcp = new McpSessionsPrimary(async (change: McpSessionChange) => {
    const r = await hub.callAll("mcp.changed", change, MCP_SHARE_TIMEOUT_MS);
    const missing = r.filter((x) => !x.ok && readySlots.has(x.slot));
    if (missing.length) throw new Error(`worker ${missing.map((x) => x.slot).join(", ")} did not confirm an MCP session change (${missing[0]!.error})`);
  });

  // Agent-wide budgets: one set of windows for the cluster, spent by the workers in leases.
  const budgets = new AgentBudgetsPrimary();
  // Failed agent logins: one count for the cluster; a source it throttles reaches every worker before the
  // failed attempt is answered, so the next attempt meets it on whichever worker it lands.
  const logins = new LoginThrottlePrimary(log);

  cluster.setupPrimary({ silent: true });

  const serve = async (op: PrimaryOp, body: any): Promise<unknown> => {
    switch (op) {
      case "cancel": {
        const owner = ownerSlot(body.pid);
        if (owner === undefined || !hub.get(owner)) return false;
        return hub.call(owner, "cancel", body);
      }
      case "sessions.list": {
        const r = await hub.callAll<{ sessions: SessionView[] }>("sessions.list");
        return { sessions: r.flatMap((x) => (x.ok ? x.body!.sessions : [])), unanswered: r.filter((x) => !x.ok).map((x) => x.slot) };
      }
      case "sessions.kill": {
        const r = await hub.callAll<boolean>("sessions.kill", body);
        if (r.some((x) => x.ok && x.body)) return true;
        const failed = r.filter((x) => !x.ok);
        if (failed.length) throw new Error(`worker ${failed.map((x) => x.slot).join(", ")} did not answer (${failed[0]!.error})`);
        return false;
      }
      case "locks.snapshot":
        return locks;
      case "locks.add": {
        locks = [...locks, body.lock as Lock];
        const r = await hub.callAll("locks.added", { locks: [body.lock] });
        // A worker that did not answer is dead or restarting: it reads the list before it listens again.
        for (const x of r) if (!x.ok) log.warn({ slot: x.slot, error: x.error, lock_id: body.lock.id }, "a worker did not confirm a new lock");
        return true;
      }
      case "locks.share": {
        // incident.locks.store: postgres (shared-lock-store.ts): the lock is in the table; every worker knows it now.
        const r = await hub.callAll("locks.adopt", { lock: body.lock });
        // One that did not answer is dead or starting: it reads the table before it listens.
        for (const x of r) if (!x.ok) log.warn({ slot: x.slot, error: x.error, lock_id: body.lock.id }, "a worker did not confirm a new lock");
        return true;
      }
      case "locks.remove": {
        const before = locks.length;
        locks = locks.filter((l) => l.id !== body.id);
        await hub.callAll("locks.removed", body);
        return locks.length !== before;
      }
      case "metrics": {
        const r = await hub.callAll<object[]>("metrics");
        unanswered.set(r.filter((x) => !x.ok).length);
        running.set(hub.slots().length);
        const merged = AggregatorRegistry.aggregate(r.filter((x) => x.ok).map((x) => x.body!));
        return (await merged.metrics()) + (await registry.metrics());
      }
      case "mcp.snapshot":
        return mcp.snapshot();
      case "mcp.admit":
        return mcp.admit(body);
      case "mcp.issued":
        return mcp.issued(body);
      case "mcp.ended":
        return mcp.ended(body);
      case "mcp.touch":
        return mcp.touch(body);
      case "budget.lease":
        return budgets.lease(body);
      case "logins.failed": {
        // Counted only while the answer, after sharing, can still reach the worker in its time (else sent again).
        const change = logins.failed(body as FailureReport, LOGIN_REPORT_TIMEOUT_MS - LOGIN_SHARE_TIMEOUT_MS);
        if (!change) return undefined;
        const r = await hub.callAll("logins.throttled", change, LOGIN_SHARE_TIMEOUT_MS);
        // One that did not answer is dead or starting: it reads the throttled sources before it listens.
        for (const x of r) if (!x.ok) log.warn({ slot: x.slot, error: x.error }, "a worker did not confirm a throttled login source");
        return change;
      }
      case "logins.snapshot":
        return logins.snapshot();
    }
  };

  return new Promise((resolveStart) => {
    const fork = (slot: number) => {
      const w = cluster.fork({ [SLOT_ENV]: String(slot) });
      const forkedAt = Date.now();
      hub.set(slot, w);
      const lines = { out: new LineJoiner(), err: new LineJoiner() };
      const stdout = w.process.stdout;
      stdout?.on("data", (c: Buffer) => {
        const whole = lines.out.push(c);
        if (whole) out(whole);
        // Read at most every READ_PAUSE_MS: what a worker writes meanwhile waits in the pipe and comes in
        // one read, instead of one wake-up of the primary per decision-log line.
        stdout.pause();
        setTimeout(() => stdout.resume(), READ_PAUSE_MS);
      });
      w.process.stderr?.on("data", (c: Buffer) => {
        const whole = lines.err.push(c);
        if (whole) err(whole);
      });
      w.on("message", (m: unknown) => {
        if (!isOurs<ToPrimary>(m)) return;
        if (m.t === "reply") return hub.replied(m.id, m.ok, m.body, m.error);
        if (m.t === "ready") return onReady(slot, w.process.pid);
        serve(m.op, m.body).then(
          (body) => hub.send(w, { rg: 1, t: "res", id: m.id, ok: true, body }),
          (e: Error) => hub.send(w, { rg: 1, t: "res", id: m.id, ok: false, error: e.message }),
        );
      });
      // The last piece of output is written once both pipes are done (after the exit, as often as not).
      const ended = (s: NodeJS.ReadableStream | null) => new Promise<void>((r) => (s ? s.once("close", () => r()) : r()));
      outputs.set(w, Promise.all([ended(w.process.stdout), ended(w.process.stderr)]).then(() => {
        const a = lines.out.flush();
        if (a) out(a);
        const b = lines.err.flush();
        if (b) err(b);
        outputs.delete(w);
      }));
      w.on("exit", (code, signal) => {
        hub.gone(slot, w);
        readySlots.delete(slot);
        if (stopping) return;
        if (!started) {
          log.fatal({ slot, code, signal }, "a worker could not start; stopping the others");
          stopAll().then(() => {
            out.flush();
            err.flush();
            resolveStart(1);
          });
          return;
        }
        const quick = Date.now() - forkedAt < STEADY_MS;
        const delay = quick ? Math.min(MAX_RESTART_DELAY_MS, (restartDelay.get(slot) ?? 250) * 2) : 0;
        restartDelay.set(slot, quick ? delay : 250);
        log.error({ slot, code, signal, restart_in_ms: delay }, "worker died; its sessions ended; restarting it");
        restarts.inc({ slot: String(slot) });
        setTimeout(() => !stopping && fork(slot), delay);
      });
    };

    const onReady = (slot: number, pid: number | undefined) => {
      readySlots.add(slot);
      log.info({ slot, worker_pid: pid }, "worker listening");
      if (!started && readySlots.size === opts.workers) {
        started = true;
        log.info({ workers: opts.workers, pid: process.pid }, "cluster ready");
        resolveStart(undefined);
      } else if (started) log.info({ slot, worker_pid: pid }, "worker restarted and listening");
    };

    const stopAll = async () => {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      const exited = workers.map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once("exit", () => r()))));
      for (const w of workers) if (!w.isDead()) w.process.kill("SIGTERM");
      const timer = setTimeout(() => {
        for (const w of workers) if (!w.isDead()) w.process.kill("SIGKILL");
      }, opts.drainTimeoutMs + 5_000);
      await Promise.all(exited);
      clearTimeout(timer);
      // Output the workers wrote before they exited is still in the pipes: pass it on first.
      await Promise.race([Promise.all(workers.map((w) => outputs.get(w))), new Promise((r) => setTimeout(r, 2_000).unref())]);
    };

    const stop = (signal: string) => {
      if (stopping) return;
      log.info({ signal, workers: hub.slots().length, drain_timeout_ms: opts.drainTimeoutMs }, "draining every worker");
      stopAll().then(() => {
        out.flush();
        err.flush();
        log.info("stopped");
        // process.stdout on a pipe is asynchronous: what it still queues is dropped by process.exit().
        void Promise.all([whenWritten(process.stdout, 2000), whenWritten(process.stderr, 2000)]).then(() => process.exit(0));
      });
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));

    log.info({ workers: opts.workers, pid: process.pid }, "starting workers");
    for (let slot = 0; slot < opts.workers; slot++) fork(slot);
  });
}

/** Collects whole-line buffers and writes them together at the end of the event-loop turn, in order. */
function batched(write: (b: Buffer) => void): ((b: Buffer) => void) & { flush(): void } {
  let queue: Buffer[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (!queue.length) return;
    const all = queue.length === 1 ? queue[0]! : Buffer.concat(queue);
    queue = [];
    write(all);
  };
  return Object.assign(
    (b: Buffer) => {
      queue.push(b);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    { flush },
  );
}
