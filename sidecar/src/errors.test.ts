import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { asError, ERROR_CODES, RegateError } from "./errors.js";
import { packageRoot } from "./paths.js";

describe("error catalog", () => {
  const doc = readFileSync(join(packageRoot, "docs", "errors.md"), "utf8");

  it.each(Object.entries(ERROR_CODES))("%s is documented with its SQLSTATE and HTTP status", (code, e) => {
    expect(doc).toContain(`| \`${code}\` | ${e.sqlstate} | ${e.http} |`);
  });

  it("documents no code that does not exist", () => {
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("keeps causes chained, not concatenated", () => {
    const cause = new Error("inner");
    const e = new RegateError("BUNDLE_INVALID", "outer", { cause });
    expect(e.message).toBe("outer");
    expect(e.cause).toBe(cause);
    expect(e.sqlstate).toBe("XX000");
  });

  it("turns thrown strings and plain objects into Errors", () => {
    expect(asError("boom").message).toBe("boom");
    expect(asError({ message: "not implemented: built-in function 3: time.now_ns" }).message).toMatch(/time.now_ns/);
    expect(asError(42).message).toBe("42");
  });
});
