// Pins the synchronous static-token lookup the HTTP gateway now uses (0425a8c): it must see a rotated token
// set exactly when authenticate does, and agree with it on every token.

import { afterEach, describe, expect, it, vi } from "vitest";
import type { StaticTokenOptions } from "./options.js";
import { CHECK_MS, RotatingAgentDirectory } from "./rotating-directory.js";

afterEach(() => vi.useRealTimers());

describe("RotatingAgentDirectory.staticToken", () => {
  it("stops answering for a removed token, and answers for its replacement, once the set is re-read", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    let tokens: StaticTokenOptions[] = [{ subject: "bot", token: "old-token-123456" }];
    const dir = new RotatingAgentDirectory({ read: () => tokens });
    expect(dir.staticToken("old-token-123456")?.subject).toBe("bot");
    tokens = [{ subject: "bot", token: "new-token-654321" }];
    vi.setSystemTime(1_000_000 + CHECK_MS);
    expect(dir.staticToken("old-token-123456")).toBeUndefined();
    expect(dir.staticToken("new-token-654321")?.subject).toBe("bot");
    expect((await dir.authenticate("old-token-123456")).failure).toBe("unknown_token");
  });

  it("agrees with authenticate, whose principal is the same frozen object (locks and reuse keys see one principal)", async () => {
    const dir = new RotatingAgentDirectory({ read: () => [{ subject: "a", token: "token-aaaaaaaa" }, { subject: "b", token: "token-bbbbbbbb" }] });
    for (const t of ["token-aaaaaaaa", "token-bbbbbbbb", "token-aaaaaaa", "token-aaaaaaaa ", ""]) {
      expect(dir.staticToken(t)).toBe((await dir.authenticate(t)).principal);
    }
    expect(Object.isFrozen(dir.staticToken("token-aaaaaaaa"))).toBe(true);
  });

  it("keeps the previous set when a changed one cannot be used (a token configured twice)", () => {
    vi.useFakeTimers({ now: 2_000_000 });
    let tokens: StaticTokenOptions[] = [{ subject: "a", token: "token-aaaaaaaa" }];
    const errors: unknown[] = [];
    const dir = new RotatingAgentDirectory({ read: () => tokens, onError: (e) => errors.push(e) });
    tokens = [{ subject: "a", token: "dup-token-xxxx" }, { subject: "b", token: "dup-token-xxxx" }];
    vi.setSystemTime(2_000_000 + CHECK_MS);
    expect(dir.staticToken("dup-token-xxxx")).toBeUndefined();
    expect(dir.staticToken("token-aaaaaaaa")?.subject).toBe("a");
    expect(errors).toHaveLength(1);
  });
});

describe("RotatingAgentDirectory minimum token length", () => {
  it("refuses a short token at start, and keeps the previous set when a rotated file holds one", () => {
    expect(() => new RotatingAgentDirectory({ read: () => [{ subject: "bot", token: "short-token" }], minTokenChars: 16 })).toThrow(/agent token for bot: shorter than 16 characters/);
    vi.useFakeTimers({ now: 3_000_000 });
    let tokens: StaticTokenOptions[] = [{ subject: "bot", token: "a-long-enough-token-1" }];
    const errors: unknown[] = [];
    const dir = new RotatingAgentDirectory({ read: () => tokens, minTokenChars: 16, onError: (e) => errors.push(e) });
    tokens = [{ subject: "bot", token: "1234" }];
    vi.setSystemTime(3_000_000 + CHECK_MS);
    expect(dir.staticToken("1234")).toBeUndefined();
    expect(dir.staticToken("a-long-enough-token-1")?.subject).toBe("bot");
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).not.toContain("1234");
  });
});
