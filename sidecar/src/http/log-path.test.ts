import { describe, expect, it } from "vitest";
import { logPathMasker } from "./log-path.js";

const SECRET = "p@ss:w0rd!tail42";
const mask = logPathMasker([SECRET, "tok+en/half=9"]);

describe("logPathMasker", () => {
  it.each([
    ["as typed", "/x/p@ss:w0rd!tail42/y", "/x/[REDACTED]/y"],
    ["every special character escaped", "/x/p%40ss%3Aw0rd%21tail42", "/x/[REDACTED]"],
    ["some escaped, in lower-case hex", "/x/p@ss%3aw0rd!tail42", "/x/[REDACTED]"],
    ["a secret holding '/' spans two segments", "/x/tok%2Ben/half%3D9/y", "/x/[REDACTED]/y"],
    ["an email with an escaped @", "/c/alice%40example.com/orders", "/c/****/orders"],
    ["an SSN typed plainly", "/c/123-45-6789", "/c/****"],
  ])("%s", (_what, path, logged) => {
    expect(mask(path)).toBe(logged);
  });

  it("leaves a path with escapes but nothing to hide as canonicalised", () => {
    expect(mask("/items/a%2Bb/%C3%A9t%C3%A9")).toBe("/items/a%2Bb/%C3%A9t%C3%A9");
    expect(mask("/")).toBe("/");
  });

  it("a secret a detector would cut in pieces is scrubbed whole first", () => {
    const m = logPathMasker(["key-123-45-6789-xyz"]);
    expect(m("/k/key-123-45-6789-xyz")).toBe("/k/[REDACTED]");
    expect(m("/k/key-123-45-6789%2Dxyz")).toBe("/k/[REDACTED]");
  });
});
