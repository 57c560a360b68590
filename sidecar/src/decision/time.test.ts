import { describe, expect, it } from "vitest";
import { timeInput } from "./time.js";

describe("timeInput's rfc3339 (the decision log's timestamp)", () => {
  it.each([0, 1, 999, 1_796_054_269_855, 1_796_054_269_856, 1_796_054_269_855])("is toISOString of %d, asked in turn", (ms) => {
    expect(timeInput(ms).rfc3339).toBe(new Date(ms).toISOString());
  });

  it("follows the clock when no time is given", () => {
    const before = Date.now();
    const t = Date.parse(timeInput().rfc3339);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });
});

describe("timeInput", () => {
  it("is the same frozen clock within a millisecond, and a new one after", () => {
    const a = timeInput(1_796_054_269_855);
    expect(timeInput(1_796_054_269_855)).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a).toEqual({ now_ns: 1_796_054_269_855 * 1e6, rfc3339: "2026-11-30T15:57:49.855Z", weekday: 1, hour: 15 });
    expect(timeInput(1_796_054_269_856).rfc3339).toBe("2026-11-30T15:57:49.856Z");
  });
});
