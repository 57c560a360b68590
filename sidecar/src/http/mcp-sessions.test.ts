import { describe, expect, it } from "vitest";
import { McpSessions } from "./mcp-sessions.js";

describe("McpSessions", () => {
  it("knows an id only for the agent, route and path it was issued at, until it is ended", () => {
    const s = new McpSessions();
    s.issued("agent-a", "tools", "/mcp", "5f1c-9a");
    expect(s.has("agent-a", "tools", "/mcp", "5f1c-9a")).toBe(true);
    expect(s.has("agent-b", "tools", "/mcp", "5f1c-9a")).toBe(false);
    expect(s.has("agent-a", "other", "/mcp", "5f1c-9a")).toBe(false);
    expect(s.has("agent-a", "tools", "/customers/1", "5f1c-9a")).toBe(false);
    expect(s.has("agent-a", "tools", "/mcp", "5f1c-9b")).toBe(false);
    expect(s.has("agent-a", "tools", "/mcp", ["5f1c-9a"])).toBe(false);
    s.ended("agent-a", "tools", "/mcp", "5f1c-9a");
    expect(s.has("agent-a", "tools", "/mcp", "5f1c-9a")).toBe(false);
  });

  it("does not take what is not a session id", () => {
    const s = new McpSessions();
    for (const id of [undefined, "", "has space", "caf\u00e9", "x".repeat(257), ["a", "b"]]) s.issued("a", "r", "/mcp", id);
    expect(s.size).toBe(0);
  });

  it("does not let parts of the key run into each other", () => {
    const s = new McpSessions();
    s.issued("a", "r", "/mcp", "id");
    expect(s.has("a\",\"r", "", "/mcp", "id")).toBe(false);
  });

  it("forgets the oldest past its bound, and a re-issued id counts as new", () => {
    const s = new McpSessions(2);
    s.issued("a", "r", "/mcp", "one");
    s.issued("a", "r", "/mcp", "two");
    s.issued("a", "r", "/mcp", "one");
    s.issued("a", "r", "/mcp", "three");
    expect(s.has("a", "r", "/mcp", "two")).toBe(false);
    expect(s.has("a", "r", "/mcp", "one")).toBe(true);
    expect(s.has("a", "r", "/mcp", "three")).toBe(true);
  });
});
