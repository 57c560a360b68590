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
    const forms = secretTexts(["tok-EN_1.2~3"]);
    expect(forms).toContain("tok-EN_1.2~3");
    expect(forms.filter((f) => f.includes("%"))).toEqual([]);
    expect(secretTexts(["a@b"])).toEqual([]);
  });

  it("finds the secret's base64 at every offset of a longer text, in either alphabet, and its hex in either case", () => {
    const secret = "agent-token-7f3a9c?x";
    const forms = secretTexts([secret]);
    const found = (text: string) => forms.some((f) => text.includes(f));
    for (const prefix of ["", "x", "xy", "agent:"])
      for (const suffix of ["", "\n", "zz~"]) {
        const b64 = Buffer.from(`${prefix}${secret}${suffix}`).toString("base64");
        expect(found(b64), `${prefix}|${suffix}`).toBe(true);
        expect(found(b64.replace(/\+/g, "-").replace(/\//g, "_")), `url ${prefix}|${suffix}`).toBe(true);
      }
    const hex = Buffer.from(secret).toString("hex");
    expect(found(`\\x${hex}`)).toBe(true);
    expect(found(hex.toUpperCase())).toBe(true);
    expect(found(Buffer.from("an innocent text of the same length").toString("base64"))).toBe(false);
  });

  it("lets the log scrubber find a secret an agent percent-encoded into a path", () => {
    const scrub = new SecretScrubber(["p@ss:w0rd!tail"]);
    expect(scrub.scrub('{"path":"/legacy/x/p%40ss%3Aw0rd%21tail","raw_path":"/legacy/x/p%40ss%3aw0rd%21tail"}')).toBe('{"path":"/legacy/x/[REDACTED]","raw_path":"/legacy/x/[REDACTED]"}');
  });
});
