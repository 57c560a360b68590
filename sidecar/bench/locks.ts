// What locks cost a decision when none matches, in process.
//
//   npx tsx sidecar/bench/locks.ts
//
// Subject: LockGuard.decide (remember the principal, look for a matching lock, call the inner decider)
// around an inner decider that returns a constant decision, against that inner decider called directly in
// the same run. Cases: no lock at all (the usual state), and 10 live locks none of which matches.

import { pino } from "pino";
import type { Decider, Decision, PolicyInput } from "../src/decision/index.js";
import { LockGuard, LockService, MemoryLockStore } from "../src/locks/index.js";

const decision: Decision = { decision_id: "x", outcome: "allow", reasons: [], mask: [], dry_run: false, revision: "r" };
const inner: Decider = { decide: () => decision };
const locks = new LockService(new MemoryLockStore(), pino({ level: "silent" }));
const guard = new LockGuard(inner, locks);
const input = {
  version: 1,
  kind: "postgres",
  session: { id: "s", principal: { subject: "agent", groups: ["g1", "g2"], claims: {}, auth_method: "token" }, client: { address: "127.0.0.1", port: 1 }, target: "db", started_at: "" },
} as unknown as PolicyInput;

function run(label: string): void {
  const n = 2_000_000;
  for (let i = 0; i < 100_000; i++) guard.decide(input);
  let t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) inner.decide(input);
  const base = Number(process.hrtime.bigint() - t) / n;
  t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) guard.decide(input);
  const guarded = Number(process.hrtime.bigint() - t) / n;
  console.log(`${label.padEnd(26)} direct ${base.toFixed(1)} ns  guarded ${guarded.toFixed(1)} ns  overhead ${(guarded - base).toFixed(1)} ns/decision`);
}

run("no locks");
for (let i = 0; i < 10; i++) await locks.add({ target: { principal: `other-${i}` }, message: "m" }, "bench");
run("10 locks, none matching");
