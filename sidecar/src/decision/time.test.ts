import { describe, expect, it } from "vitest";
import { timeInput } from "./time.js";

describe("timeInput's rfc3339 (the decision log's timestamp)", () => {
  it.each([0, 1, 999, 1_796_054_269_855, 1_796_054_269_856, 1_796_054_269_855])("is toISOString of %d, asked in turn", (ms) => {
    expect(timeInput(ms).rfc3339).toBe(new Date(ms).toISOString());
  });

  it("equals the Date's own fields across second, hour, day and year boundaries, and outside the fast range", () => {
    const starts = [1_796_054_269_990, 1_796_057_999_995, 1_796_083_199_990, 1_798_761_599_990, -1_500, 253_402_300_799_998, 1.5];
    for (const start of starts) {
      for (let ms = start; ms < start + 20; ms++) {
        const d = new Date(ms);
        expect(timeInput(ms)).toEqual({ now_ns: ms * 1e6, rfc3339: d.toISOString(), weekday: d.getUTCDay(), hour: d.getUTCHours() });
      }
    }
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
