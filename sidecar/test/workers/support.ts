// A regate of two worker processes (workers: 2) as its own process, and what the tests need to see
// which worker holds what: a session's worker is in the BackendKeyData pid regate issued (cluster/cancel-keys.ts).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import pg from "pg";
import { ownerSlot } from "../../src/cluster/index.js";
import { startRegateChild, type RegateChild } from "../reliability/support/regate-child.js";
import type { TestPostgres } from "../support/postgres.js";
import { until } from "../support/wait.js";

export const RESPONDER = { name: "rita", token: "workers-responder-token-7c1e" };

export async function startWorkers(pg: TestPostgres, name: string, overrides: Record<string, unknown> = {}, bundle?: string): Promise<RegateChild> {
  const child = await startRegateChild({
    name,
    pg,
    ...(bundle ? { bundle } : {}),
    overrides: { workers: 2, incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }] }, ...overrides },
  });
  await until(() => child.stdout().includes('"msg":"cluster ready"'), 30_000);
  return child;
}

export async function adminCall(child: RegateChild, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${child.ports.admin}${path}`, {
    method,
    headers: { authorization: `Bearer ${RESPONDER.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

export async function connect(url: string, applicationName?: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, ...(applicationName ? { application_name: applicationName } : {}) });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

/** The worker slot that holds this client's session. */
export function workerOf(c: pg.Client): number | undefined {
  return ownerSlot((c as unknown as { processID: number }).processID);
}

/** Clients until both workers hold at least `each` sessions (the cluster hands connections round-robin). */
export async function onBothWorkers(url: string, each: number, applicationName?: string): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  const count = (slot: number) => clients.filter((c) => workerOf(c) === slot).length;
  while ((count(0) < each || count(1) < each) && clients.length < each * 8) clients.push(await connect(url, applicationName));
  return clients;
}

/** A CancelRequest on a new connection, as libpq sends it: length 16, code 80877102, pid, secret key. */
export function sendCancel(port: number, pid: number, key: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, "127.0.0.1", () => {
      const b = Buffer.alloc(16);
      b.writeInt32BE(16, 0);
      b.writeInt32BE(80877102, 4);
      b.writeInt32BE(pid, 8);
      b.writeInt32BE(key, 12);
      s.end(b);
    });
    s.on("close", () => resolve());
    s.on("error", reject);
  });
}

export function keyOf(c: pg.Client): { pid: number; key: number } {
  const k = c as unknown as { processID: number; secretKey: number };
  return { pid: k.processID, key: k.secretKey };
}

/** The primary's worker processes (its children that run regate: tsx may add an esbuild service). */
export function workerPids(primary: number): number[] {
  try {
    const children = execFileSync("pgrep", ["-P", String(primary)], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
    return children.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("main.");
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

export async function backendGone(db: TestPostgres, applicationName: string): Promise<boolean> {
  const rows = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE $1", [`%${applicationName}%`]);
  return rows[0].n === 0;
}

/** Whether a process runs (a zombie does not). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
