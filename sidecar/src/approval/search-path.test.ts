import { describe, expect, it } from "vitest";
import { searchPathTerms } from "./search-path.js";

describe("searchPathTerms", () => {
  it.each([
    ["no tracker (not Postgres)", undefined, false],
    ["PostgreSQL's default", ["$user", "public"], false],
  ])("%s: nothing joins the digest", (_name, path, has) => {
    expect(searchPathTerms(path).digest !== undefined).toBe(has);
  });

  it("a chosen path joins the digest as its names, so two paths that print alike never share it", () => {
    expect(searchPathTerms(["a, b"]).digest).not.toBe(searchPathTerms(["a", "b"]).digest);
    expect(searchPathTerms(["internal", "public"]).note).toContain("internal, public");
  });

  it("an unknown path gets a digest no other request shares", () => {
    expect(searchPathTerms(null).digest).not.toBe(searchPathTerms(null).digest);
  });
});
