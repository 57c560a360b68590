import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LoginThrottle } from "../identity/index.js";
import { ClusterLoginThrottle, type LoginThrottleLink } from "./login-throttle.js";
import { LoginThrottlePrimary, type LoginLimits, type ThrottledChange } from "./login-throttle-primary.js";
import type { PrimaryOp } from "./messages.js";

const log = pino({ level: "silent" });
const LIMITS: LoginLimits = { per_source: 4, overall: 6, window_ms: 60_000 };

/** A primary and `n` workers in one process, the IPC channel replaced by calls; `calls` is what reached the primary. */
function cluster(n: number, limits = LIMITS) {
  let t = 1_000_000;
  const now = () => t;
  const primary = new LoginThrottlePrimary(log, now);
  const handlers: ((c: ThrottledChange) => unknown)[] = [];
  const calls: PrimaryOp[] = [];
  let down = false;
  const link = (): LoginThrottleLink => ({
    handle: (op, fn) => void (op === "logins.throttled" && handlers.push(fn)),
    request: async <T>(op: PrimaryOp, body: any): Promise<T> => {
      calls.push(op);
      if (down) throw new Error("the cluster primary did not answer logins.failed within 2000 ms");
      if (op === "logins.snapshot") return primary.snapshot() as T;
      const change = primary.failed(body, 2_000);
      // As primary.ts: every worker has the change before the one that reported is answered.
      if (change) for (const h of handlers) h(change);
      return change as T;
    },
  });
  const share = (x: number) => Math.max(1, Math.floor(x / n));
  const worker = () => new ClusterLoginThrottle(link(), limits, new LoginThrottle({ perSource: share(limits.per_source), overall: share(limits.overall), windowMs: limits.window_ms, now }), log, now).start();
  const workers = Array.from({ length: n }, worker);
  return { workers, calls, worker, primary, tick: (ms: number) => void (t += ms), down: (v: boolean) => void (down = v) };
}

const settle = () => new Promise((r) => setImmediate(r));

afterEach(() => void vi.useRealTimers());

describe("failed logins counted by the primary for every worker", () => {
  it("the limit holds across workers: 3 failures on one do not throttle, a 4th on the other throttles on both, until it drains", async () => {
    const { workers: [a, b], calls, tick } = cluster(2);
    await settle();
    for (let i = 0; i < 3; i++) await a!.failed("agent", "billing-bot");
    expect(a!.refused("agent", "billing-bot")).toBeUndefined();
    expect(b!.refused("agent", "billing-bot")).toBeUndefined();
    await b!.failed("agent", "billing-bot");
    for (const w of [a!, b!]) expect(w.refused("agent", "billing-bot")).toMatchObject({ retryAfterSeconds: 15, reason: expect.stringMatching(/^user "billing-bot" failed to log in 4 times within 60 s: new attempts are refused for 15 s/) });
    // Its own count only: another name, the overall count untouched (a configured agent is not in it).
    expect(a!.refused("agent", "other-bot")).toBeUndefined();
    expect(a!.refused("user", "someone")).toBeUndefined();
    // Asking costs no IPC: only the 4 failures (and the 2 start-up snapshots) reached the primary.
    const before = calls.length;
    for (let i = 0; i < 1000; i++) a!.refused("agent", `agent-${i}`);
    expect(calls.length).toBe(before);
    expect(calls.filter((c) => c === "logins.failed")).toHaveLength(4);
    tick(15_000);
    for (const w of [a!, b!]) expect(w.refused("agent", "billing-bot")).toBeUndefined();
    expect(a!.size).toBe(0);
  });

  it("the overall count spans names and workers; a configured agent is not refused by it", async () => {
    const { workers: [a, b] } = cluster(2);
    await settle();
    for (let i = 0; i < 6; i++) await (i % 2 ? a! : b!).failed("address", `10.0.0.${i}`);
    for (const w of [a!, b!]) expect(w.refused("user", "new-name")?.reason).toMatch(/^agents failed to log in 6 times within 60 s/);
    expect(a!.refused("agent", "billing-bot")).toBeUndefined();
  });

  it("a worker that starts later learns what is refused from the primary", async () => {
    const c = cluster(2);
    await settle();
    for (let i = 0; i < 4; i++) await c.workers[0]!.failed("user", "guess");
    const late = c.worker();
    await settle();
    expect(late.refused("user", "guess")?.retryAfterSeconds).toBe(15);
    expect(late.unreachable).toBe(false);
  });

  it("a primary that does not answer: each worker refuses at its share (never unlimited); what it counted meanwhile reaches the primary once it is back", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    const c = cluster(2);
    const [a, b] = c.workers;
    await settle();
    c.down(true);
    await a!.failed("user", "guess");
    expect(a!.unreachable).toBe(true);
    expect(a!.refused("user", "guess")).toBeUndefined();
    await a!.failed("user", "guess");
    // The share of 4 on 2 workers is 2.
    expect(a!.refused("user", "guess")?.reason).toMatch(/^user "guess" failed to log in 2 times/);
    c.down(false);
    c.tick(1_000);
    vi.advanceTimersByTime(1_000);
    await settle();
    expect(a!.unreachable).toBe(false);
    // a's two failures are in the primary's count: two more on b make the limit of 4, refused on both.
    await b!.failed("user", "guess");
    expect(b!.refused("user", "guess")).toBeUndefined();
    await b!.failed("user", "guess");
    for (const w of [a!, b!]) expect(w.refused("user", "guess")?.reason).toMatch(/^user "guess" failed to log in 4 times/);
  });

  it("a worker whose start-up snapshot went unanswered asks again, its share in force meanwhile", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    const c = cluster(2);
    c.down(true);
    const w = c.worker();
    await settle();
    expect(w.unreachable).toBe(true);
    c.down(false);
    vi.advanceTimersByTime(1_000);
    await settle();
    expect(w.unreachable).toBe(false);
  });

  it("a report read after its worker stopped waiting is refused, not counted (the worker sends it again)", () => {
    const primary = new LoginThrottlePrimary(log, () => 10_000);
    const report = { limits: { ...LIMITS, per_source: 1 }, failures: [{ kind: "user" as const, name: "guess", n: 1 }] };
    expect(() => primary.failed({ at: 9_000, ...report }, 1_000)).toThrow(/not counted; they are sent again/);
    expect(primary.snapshot().sources).toEqual([]);
    expect(primary.failed({ at: 9_500, ...report }, 1_000)?.sources).toEqual([["user", "guess", 70_000]]);
  });

  it("memory stays bounded whatever names are claimed, and is given back once they drain", async () => {
    const { workers: [a], primary, tick } = cluster(2, { per_source: 1, overall: 1_000_000, window_ms: 60_000 });
    await settle();
    for (let i = 0; i < 12_000; i++) await a!.failed("user", `name-${i}`);
    expect(a!.size).toBeLessThanOrEqual(10_000);
    expect(primary.snapshot().sources.length).toBeLessThanOrEqual(10_000);
    expect(a!.refused("user", "name-11999")).toBeDefined();
    tick(61_000);
    expect(a!.refused("user", "name-11999")).toBeUndefined();
    expect(a!.size).toBe(0);
    expect(primary.snapshot().sources).toHaveLength(0);
  });
});
