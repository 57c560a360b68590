import { describe, expect, it } from "vitest";
import { BudgetTracker, NO_LIMITS } from "./budget.js";

describe("BudgetTracker", () => {
  it("names the first per-statement or per-session limit a row crosses", () => {
    const b = new BudgetTracker({ ...NO_LIMITS, rows_per_statement: 2, bytes_per_session: 25 });
    expect(b.row(10, 1, 10)).toBeUndefined();
    expect(b.row(10, 2, 20)).toBeUndefined();
    expect(b.row(1, 3, 21)).toBe("rows_per_statement (2)");
    expect(b.row(10, 1, 10)).toBe("bytes_per_session (25)");
  });

  it("refuses the statement past the per-minute limit and says when it refills", () => {
    const b = new BudgetTracker({ ...NO_LIMITS, statements_per_minute: 2 });
    expect(b.admit(1_000)).toBeUndefined();
    expect(b.admit(20_000)).toBeUndefined();
    expect(b.admit(30_000)?.reason).toBe("budget exceeded: statements_per_minute (2); it refills in 31s");
    expect(b.admit(61_001)).toBeUndefined();
    expect(b.input(61_001).used.statements_last_minute).toBe(2);
  });

  it("counts every statement of a message, and refuses the whole message when they do not all fit", () => {
    const b = new BudgetTracker({ ...NO_LIMITS, statements_per_minute: 3 });
    expect(b.admit(1_000, 4)?.reason).toBe("budget exceeded: statements_per_minute (3); this message carries 4 statements, more than a minute allows");
    expect(b.admit(1_000, 2)).toBeUndefined();
    expect(b.admit(10_000, 2)?.reason).toBe("budget exceeded: statements_per_minute (3); it refills in 51s");
    expect(b.admit(10_000, 1)).toBeUndefined();
    expect(b.input(10_000).used.statements_last_minute).toBe(3);
  });

  it("is disabled with no limits", () => {
    expect(new BudgetTracker(NO_LIMITS).enabled).toBe(false);
    expect(new BudgetTracker(NO_LIMITS).admit()).toBeUndefined();
  });
});
