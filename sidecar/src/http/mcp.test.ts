import { describe, expect, it } from "vitest";
import { mcpMessages } from "./mcp.js";

describe("mcpMessages", () => {
  it.each([
    ["tools/call", { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "get_customer", arguments: { id: 7 } } }, [{ type: "request", id: 1, method: "tools/call", tool: "get_customer", arguments: { id: 7 } }]],
    ["notification", { jsonrpc: "2.0", method: "notifications/initialized" }, [{ type: "notification", method: "notifications/initialized" }]],
    ["response", { jsonrpc: "2.0", id: "s1", result: {} }, [{ type: "response", id: "s1" }]],
    ["prompts/get", { jsonrpc: "2.0", id: 2, method: "prompts/get", params: { name: "summary" } }, [{ type: "request", id: 2, method: "prompts/get", prompt: "summary" }]],
    ["resources/read", { jsonrpc: "2.0", id: 3, method: "resources/read", params: { uri: "file:///etc/passwd" } }, [{ type: "request", id: 3, method: "resources/read", uri: "file:///etc/passwd" }]],
    ["tool name not a string", { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: 7 } }, [{ type: "request", id: 4, method: "tools/call" }]],
    [
      "batch",
      [{ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "a" } }, { nope: 1 }, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "b" } }],
      [{ type: "request", id: 1, method: "tools/call", tool: "a" }, { type: "request", id: 2, method: "tools/call", tool: "b" }],
    ],
    // Servers that skip the version check run it: a message naming an MCP method is one whatever `jsonrpc` says.
    ["an MCP method without a version", { method: "tools/call", params: { name: "a" } }, [{ type: "notification", method: "tools/call", tool: "a" }]],
    ["an MCP method under another version", { jsonrpc: 2, id: 1, method: "tools/call", params: { name: "a" } }, [{ type: "request", id: 1, method: "tools/call", tool: "a" }]],
    ["not json-rpc", { method: "card" }, undefined],
    ["wrong version", { jsonrpc: "1.0", method: "x" }, undefined],
    ["a method that is not a string (refused before any decision: mcp-readings.ts)", { jsonrpc: "2.0", id: 5, method: ["tools/call"] }, [{ type: "request", id: 5 }]],
    ["array without json-rpc", [1, 2], undefined],
    ["scalar", "x", undefined],
  ])("%s", (_name, body, expected) => {
    expect(mcpMessages(body)).toEqual(expected);
  });
});

describe("members as case-insensitive decoders read them", () => {
  it.each([
    [{ jsonrpc: "2.0", id: 1, method: "tools/call", params: { NAME: "delete_customer" } }],
    [{ jsonrpc: "2.0", id: 1, METHOD: "tools/call", params: { name: "delete_customer" } }],
    [{ JSONRPC: "2.0", id: 1, method: "tools/call", Params: { Name: "delete_customer" } }],
    [{ jsonrpc: "2.0", id: 1, method: "tools/call", paramſ: { name: "delete_customer" } }],
  ])("%j names the tool delete_customer", (body) => {
    expect(mcpMessages(body)).toMatchObject([{ type: "request", method: "tools/call", tool: "delete_customer" }]);
  });
});
