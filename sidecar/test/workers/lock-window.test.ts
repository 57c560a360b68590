import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RegateChild } from "../reliability/support/regate-child.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { adminCall, onBothWorkers, startWorkers, workerOf } from "./support.js";

// workers: 2: a lock placed through worker 0's admin API stops the agent on worker 1 too, from the moment
// the API answered. Agents keep sending statements (simple queries, and a named prepared statement run
// by Bind/Execute only) on both workers while the lock is placed: none sent after the answer may run.

let db: TestPostgres;
let regate: RegateChild;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startWorkers(db, "lock-window");
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

interface Sent {
  slot: number | undefined;
  at: number;
  ok: boolean;
}

describe("workers: 2, a lock placed while the agent is busy on both workers", () => {
  it("no statement sent after POST /locks answered runs, on either worker", async () => {
    const clients = await onBothWorkers(regate.url(), 2);
    expect(new Set(clients.map(workerOf))).toEqual(new Set([0, 1]));
    const sent: Sent[] = [];
    let stop = false;
    const loops = clients.map(async (c, k) => {
      const named = k % 2 === 1;
      const sql = `UPDATE orders SET amount = amount + 1 WHERE id = ${k + 1}`;
      while (!stop) {
        const at = Date.now();
        const ok = await c.query(named ? { name: `lock_window_${k}`, text: sql } : sql).then(
          () => true,
          () => false,
        );
        sent.push({ slot: workerOf(c), at, ok });
        if (!ok) break;
      }
    });
    // Busy on both workers first (counted, not timed: a loaded machine runs fewer statements per second).
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !([0, 1] as const).every((w) => sent.filter((s) => s.ok && s.slot === w).length >= 6)) await new Promise((r) => setTimeout(r, 20));
    const lock = await adminCall(regate, "POST", "/locks", { target: { principal: "reliability-agent" }, message: "lock window audit" });
    const answered = Date.now();
    expect(lock.status).toBe(201);
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 5000))]);
    stop = true;
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    const before = sent.filter((s) => s.ok && s.at < answered);
    const after = sent.filter((s) => s.ok && s.at >= answered);
    expect(before.length).toBeGreaterThan(10);
    expect(after).toEqual([]);
  }, 60_000);
});
