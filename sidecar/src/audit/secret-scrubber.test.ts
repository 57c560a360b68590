import { afterEach, describe, expect, it, vi } from "vitest";
import { SecretScrubber } from "./secret-scrubber.js";

afterEach(() => vi.restoreAllMocks());

describe("SecretScrubber", () => {
  it("replaces every form of a fixed secret and leaves other text alone", () => {
    const s = new SecretScrubber(["agent-token-1234"]);
    expect(s.scrub('{"sql":"SELECT \'agent-token-1234\'"}')).toBe('{"sql":"SELECT \'[REDACTED]\'"}');
    expect(s.scrub('{"sql":"SELECT 1"}')).toBe('{"sql":"SELECT 1"}');
  });

  it("reads a source again at most every second: a token rotated in is scrubbed, the rotated-out one still is", () => {
    let now = 1_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => now);
    let tokens = ["old-token-aaaa"];
    const read = vi.fn(() => tokens);
    const s = new SecretScrubber(read);
    tokens = ["new-token-bbbb"];
    now += 500;
    expect(s.scrub("new-token-bbbb")).toBe("new-token-bbbb");
    expect(read).toHaveBeenCalledTimes(1);
    now += 600;
    expect(s.scrub("new-token-bbbb old-token-aaaa")).toBe("[REDACTED] [REDACTED]");
    expect(read).toHaveBeenCalledTimes(2);
  });
});
