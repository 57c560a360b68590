import { describe, expect, it } from "vitest";
import { SecretScrubber } from "../audit/secret-scrubber.js";
import { secretTexts } from "./secret-texts.js";

describe("secretTexts", () => {
  it("gives a secret as is, JSON-escaped, base64 and percent-encoded (both cases of hex), longest first", () => {
    const forms = secretTexts(['p@ss:w0rd!"x']);
    expect(forms).toContain('p@ss:w0rd!"x');
    expect(forms).toContain('p@ss:w0rd!\\"x');
    expect(forms).toContain(Buffer.from('p@ss:w0rd!"x').toString("base64").replace(/=+$/, ""));
    expect(forms).toContain("p%40ss%3Aw0rd%21%22x");
    expect(forms).toContain("p%40ss%3aw0rd%21%22x");
    expect([...forms].sort((a, b) => b.length - a.length)).toEqual(forms);
  });

  it("adds no escaped form for a secret of unreserved characters only, and skips forms under 6 characters", () => {
    expect(secretTexts(["tok-EN_1.2~3"])).toEqual(["tok-EN_1.2~3", "dG9rLUVOXzEuMn4z"].sort((a, b) => b.length - a.length));
    expect(secretTexts(["a@b"])).toEqual([]);
  });

  it("lets the log scrubber find a secret an agent percent-encoded into a path", () => {
    const scrub = new SecretScrubber(["p@ss:w0rd!tail"]);
    expect(scrub.scrub('{"path":"/legacy/x/p%40ss%3Aw0rd%21tail","raw_path":"/legacy/x/p%40ss%3aw0rd%21tail"}')).toBe('{"path":"/legacy/x/[REDACTED]","raw_path":"/legacy/x/[REDACTED]"}');
  });
});
