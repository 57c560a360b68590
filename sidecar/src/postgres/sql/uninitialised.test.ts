// Runs in its own module graph: initSqlParser() is never called here.
import { describe, expect, it } from "vitest";
import { analyze, fingerprint } from "./index.js";

describe("before initSqlParser()", () => {
  it("analyze and fingerprint throw instead of answering", () => {
    expect(() => analyze("SELECT 1", { searchPath: null, user: "u", prepared: new Map() })).toThrow(/initSqlParser/);
    expect(() => fingerprint("SELECT 1")).toThrow(/initSqlParser/);
  });
});
