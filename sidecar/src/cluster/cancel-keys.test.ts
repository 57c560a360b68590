import { describe, expect, it } from "vitest";
import { issuePid, MAX_SLOTS, ownerSlot } from "./cancel-keys.js";

describe("cancel keys across workers", () => {
  it("issues positive int32 pids that name their worker", () => {
    for (const slot of [0, 1, 7, MAX_SLOTS - 1]) {
      for (let i = 0; i < 200; i++) {
        const pid = issuePid(slot);
        expect(pid).toBeGreaterThan(0);
        expect(pid).toBeLessThan(2 ** 31);
        expect(ownerSlot(pid)).toBe(slot);
      }
    }
  });

  it("names no worker for a pid none could have issued", () => {
    for (const pid of [0, -5, 1, 2 ** 24 - 1, 1.5, (MAX_SLOTS + 1) << 24]) expect(ownerSlot(pid)).toBeUndefined();
  });
});
