import { beforeAll, describe, expect, it } from "vitest";
import { analyze, initSqlParser, parseSearchPath } from "./index.js";
import type { AnalysisContext } from "./index.js";

const ctx: AnalysisContext = { searchPath: ["public"], user: "agent", prepared: new Map() };

beforeAll(async () => {
  await initSqlParser();
  await initSqlParser();
});

describe("statement splitting", () => {
  it("slices statements by UTF-8 byte offsets", () => {
    const r = analyze("SELECT 'ééé', '日本'; DELETE FROM orders WHERE id = 1 ; SELECT '🙂' /* tail */", ctx);
    expect(r.statements.map((s) => s.sql)).toEqual(["SELECT 'ééé', '日本'", "DELETE FROM orders WHERE id = 1", "SELECT '🙂' /* tail */"]);
    expect(r.statements.map((s) => s.kind)).toEqual(["select", "delete", "select"]);
  });

  it("returns no statements for empty or comment-only text", () => {
    expect(analyze("", ctx).statements).toEqual([]);
    expect(analyze("  ;; ", ctx).statements).toEqual([]);
    expect(analyze("-- nothing\n/* at all */", ctx).statements).toEqual([]);
  });
});

describe("parse errors", () => {
  it.each([
    ["SELECT 1\u0000; DELETE FROM orders", "NUL"],
    ["SELEC 1", "syntax error"],
    ["SELECT 'open", "unterminated"],
    ["SELECT '\ud800'", "surrogate"],
  ])("%j is one parse_error statement", (sql, message) => {
    const r = analyze(sql, ctx);
    expect(r.parse_error).toContain(message);
    expect(r.statements).toHaveLength(1);
    expect(r.statements[0]).toMatchObject({ kind: "parse_error", node: "", sql, parse_error: r.parse_error, writes: false });
  });

  it("never throws on hostile input", () => {
    const inputs = [
      "(".repeat(5000) + "1" + ")".repeat(5000),
      "SELECT " + "1+".repeat(3000) + "1",
      "SELECT * FROM t WHERE x IN (" + Array.from({ length: 10000 }, (_, i) => i).join(",") + ")",
      "SELECT " + "(SELECT ".repeat(300) + "1" + ")".repeat(300),
      "WITH RECURSIVE " + Array.from({ length: 50 }, (_, i) => `c${i} AS (SELECT * FROM c${i + 1})`).join(", ") + " SELECT * FROM c0",
      "\\x",
      "\u0001\u0002",
    ];
    for (const sql of inputs) expect(() => analyze(sql, ctx)).not.toThrow();
  });

  it("reports statements nested too deeply instead of overflowing the stack", () => {
    const sql = "SELECT " + "(SELECT ".repeat(900) + "1" + ")".repeat(900);
    const r = analyze(sql, ctx);
    const s = r.statements[0];
    if (s?.kind !== "parse_error") expect(s?.unknown.join(" ")).toContain("nested too deeply");
  });
});

describe("parseSearchPath", () => {
  it.each([
    ['"$user", public', ["$user", "public"]],
    ["Public,  App ", ["public", "app"]],
    ['"My Schema", "a""b"', ["My Schema", 'a"b']],
    ["", []],
    ["a,,b", null],
    ['"unterminated', null],
  ])("%j", (value, want) => {
    expect(parseSearchPath(value)).toEqual(want);
  });
});
