import { describe, expect, it } from "vitest";
import { LoginThrottle, type LoginThrottleOptions } from "./login-throttle.js";

function throttle(opts: Partial<LoginThrottleOptions> = {}): { t: LoginThrottle; clock: { now: number }; events: unknown[] } {
  const clock = { now: 1_000_000 };
  const events: unknown[] = [];
  const t = new LoginThrottle({ perSource: 10, overall: 100, windowMs: 60_000, now: () => clock.now, onThrottled: (e) => events.push(e), ...opts });
  return { t, clock, events };
}

describe("LoginThrottle", () => {
  it("refuses a source after its limit, for window/limit, then lets one more failure in at that rate", () => {
    const { t, clock, events } = throttle();
    for (let i = 0; i < 10; i++) {
      expect(t.refused("user", "bob")).toBeUndefined();
      t.failed("user", "bob");
    }
    expect(t.refused("user", "bob")).toMatchObject({ retryAfterSeconds: 6 });
    expect(t.refused("user", "alice")).toBeUndefined();
    expect(events).toEqual([{ kind: "user", name: "bob", retry_after_s: 6 }]);
    clock.now += 5_900;
    expect(t.refused("user", "bob")).toMatchObject({ retryAfterSeconds: 1 });
    clock.now += 100;
    expect(t.refused("user", "bob")).toBeUndefined();
    t.failed("user", "bob");
    expect(t.refused("user", "bob")).toMatchObject({ retryAfterSeconds: 6 });
  });

  it("counts other sources together (overall), but not a configured agent's, which never waits for them", () => {
    const { t } = throttle({ perSource: 5, overall: 8 });
    for (let i = 0; i < 8; i++) t.failed("address", `10.0.0.${i}`);
    expect(t.refused("address", "10.0.0.200")?.reason).toMatch(/agents failed to log in 8 times within 60 s/);
    expect(t.refused("user", "someone")).toBeDefined();
    expect(t.refused("agent", "billing-bot")).toBeUndefined();
    for (let i = 0; i < 5; i++) t.failed("agent", "billing-bot");
    expect(t.refused("agent", "billing-bot")?.reason).toMatch(/user "billing-bot" failed to log in 5 times/);
  });

  it("remembers a bounded number of sources", () => {
    const { t } = throttle({ perSource: 3, overall: 1_000_000, maxSources: 100 });
    for (let i = 0; i < 10_000; i++) t.failed("address", `host-${i}`);
    expect(t.size).toBeLessThanOrEqual(100);
  });

  it("does nothing with per_source 0", () => {
    const { t } = throttle({ perSource: 0 });
    for (let i = 0; i < 1000; i++) t.failed("user", "x");
    expect(t.refused("user", "x")).toBeUndefined();
    expect(t.size).toBe(0);
  });
});

describe("LoginThrottle with parallel attempts", () => {
  it("counts every failure of attempts admitted together: a burst waits longer, the rate stays the limit's", () => {
    const { t, clock } = throttle({ perSource: 10 });
    // Forty attempts admitted before any of them failed (parallel SCRAM exchanges), then all fail.
    for (let i = 0; i < 40; i++) expect(t.refused("agent", "bot")).toBeUndefined();
    for (let i = 0; i < 40; i++) t.failed("agent", "bot");
    expect(t.refused("agent", "bot")).toMatchObject({ retryAfterSeconds: 186 });
    clock.now += 185_000;
    expect(t.refused("agent", "bot")).toBeDefined();
    clock.now += 1_000;
    expect(t.refused("agent", "bot")).toBeUndefined();
  });
});
