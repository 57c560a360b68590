import { describe, expect, it } from "vitest";
import { principalOf, statementOf } from "./describe.js";

describe("statementOf", () => {
  it.each<[string, unknown, string]>([
    ["postgres, several statements", { kind: "postgres", postgres: { message: "query", statements: [{ sql: "SELECT 1" }, { sql: "SELECT 2" }] } }, "SELECT 1; SELECT 2"],
    ["postgres without SQL (FunctionCall)", { kind: "postgres", postgres: { message: "function_call", statements: [] } }, "(function_call message)"],
    ["http", { kind: "http", http: { method: "DELETE", path: "/orders/1" } }, "DELETE /orders/1"],
    ["http MCP call", { kind: "http", http: { method: "POST", path: "/mcp", mcp: { method: "tools/call", tool: "drop_table" } } }, "POST /mcp (MCP tools/call drop_table)"],
    ["input erased by the log mask", {}, "(no statement in the logged input)"],
    ["long SQL is cut", { kind: "postgres", postgres: { statements: [{ sql: `SELECT ${"x".repeat(300)}` }] } }, `SELECT ${"x".repeat(192)}…`],
  ])("%s", (_name, input, want) => {
    expect(statementOf(input)).toBe(want);
  });
});

describe("principalOf", () => {
  it("is the subject, or says it is missing", () => {
    expect(principalOf({ session: { principal: { subject: "billing-agent" } } })).toBe("billing-agent");
    expect(principalOf({})).toBe("(no principal in the logged input)");
  });
});
