import { describe, expect, it } from "vitest";
import { LocalAgentBudgets } from "./agent-budget.js";
import { BudgetTracker, NO_LIMITS } from "./budget.js";
import { SlidingCount } from "./sliding-count.js";

const T0 = Date.now();

describe("SlidingCount", () => {
  it("forgets what left the window, and says when enough of it will have", () => {
    const c = new SlidingCount(60_000, 60);
    // On a bucket boundary, so the expiry times below are exact.
    const T0 = Math.floor(Date.now() / 1000) * 1000;
    c.add(3, T0);
    c.add(2, T0 + 30_000);
    expect(c.total(T0 + 59_000)).toBe(5);
    expect(c.refillMs(1, T0 + 59_000)).toBe(1_000);
    expect(c.refillMs(4, T0 + 59_000)).toBe(31_000);
    expect(c.total(T0 + 60_000)).toBe(2);
    c.remove(5, T0 + 60_000);
    expect(c.total(T0 + 60_000)).toBe(0);
    c.add(1, T0 + 60_000);
    expect(c.total(T0 + 10 * 60_000)).toBe(0);
  });
});

describe("LocalAgentBudgets", () => {
  it("one agent's sessions share its counters; another agent's are its own; a new session starts where the last left off", () => {
    const book = new LocalAgentBudgets();
    const limits = { ...NO_LIMITS, agent_rows_per_hour: 3, agent_statements_per_minute: 2 };
    const a1 = new BudgetTracker(limits, book.open("a", limits));
    const a2 = new BudgetTracker(limits, book.open("a", limits));
    const b = new BudgetTracker(limits, book.open("b", limits));
    expect(a1.row(10, 1, 10)).toBeUndefined();
    expect(a2.row(10, 1, 10)).toBeUndefined();
    expect(a1.row(10, 2, 20)).toBeUndefined();
    expect(a2.row(10, 2, 20)).toMatch(/^agent_rows_per_hour \(3, across all of this agent's connections\); it refills in \d+s$/);
    expect(b.row(10, 1, 10)).toBeUndefined();
    expect(a1.admit(T0)).toBeUndefined();
    expect(a2.admit(T0)).toBeUndefined();
    expect(a1.admit(T0)?.reason).toMatch(/agent_statements_per_minute \(2, across all of this agent's connections\); it refills in \d+s/);
    a1.agent!.release();
    a2.agent!.release();
    const a3 = new BudgetTracker(limits, book.open("a", limits));
    expect(a3.row(1, 1, 1)).toMatch(/^agent_rows_per_hour/);
    expect(a3.input(T0).used).toMatchObject({ agent_rows_last_hour: 3, agent_statements_last_minute: 2 });
  });

  it("a message refused by the session's own per-minute limit costs the agent nothing", () => {
    const book = new LocalAgentBudgets();
    const limits = { ...NO_LIMITS, statements_per_minute: 1, agent_statements_per_minute: 5 };
    const s = new BudgetTracker(limits, book.open("a", limits));
    expect(s.admit(T0)).toBeUndefined();
    expect(s.admit(T0)?.reason).toMatch(/^budget exceeded: statements_per_minute \(1\)/);
    expect(s.input(T0).used.agent_statements_last_minute).toBe(1);
  });
});
