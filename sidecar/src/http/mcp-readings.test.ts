import { describe, expect, it } from "vitest";
import { mcpUnreadable } from "./mcp-readings.js";

const rpc = (o: Record<string, unknown>) => ({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "delete_customer", arguments: {} }, ...o });

describe("MCP messages a lenient server runs otherwise than the policy judges them", () => {
  it.each([
    ["the tool name in an array", rpc({ params: { name: ["delete_customer"] } }), /params\.name is not a string/],
    ["the prompt name as a number", rpc({ method: "prompts/get", params: { name: 7 } }), /prompts\/get whose params\.name/],
    ["a resource uri in an array", rpc({ method: "resources/read", params: { uri: ["file:///etc/passwd"] } }), /params\.uri is not a string/],
    ["by-position params", rpc({ params: ["delete_customer", {}] }), /params that are not an object/],
    ["the method in an array", rpc({ method: ["tools/call"] }), /method that is not a string/],
    ["the method in an array, without a version", { method: ["tools/call"], params: { name: "x" } }, /method that is not a string/],
    ["the method as an object", rpc({ method: { name: "tools/call" } }), /method that is not a string/],
    ["the method in capitals", rpc({ method: "TOOLS/CALL" }), /"TOOLS\/CALL"/],
    ["the method with a space", rpc({ method: " tools/call" }), /holds a space, control or format character/],
    ["the method with a unit separator (Python's strip drops it)", rpc({ method: "tools/call\x1f" }), /holds a space, control/],
    ["the method after a NEL (Python's and Go's trims drop it)", rpc({ method: "\x85tools/call" }), /holds a space, control/],
    ["the method with a NUL and a tail (a server reading C strings stops at the NUL)", rpc({ method: "tools/call\u0000x" }), /holds a space, control/],
    ["the method with a long s (Python's casefold, Go's EqualFold)", rpc({ method: "toolſ/call" }), /runs tools\/call/],
    ["the method in fullwidth letters (NFKC)", rpc({ method: "ｔｏｏｌｓ/call" }), /runs tools\/call/],
    ["the method in fullwidth, without a version", { method: "ｔｏｏｌｓ／ｃａｌｌ", params: { name: "x" } }, /runs tools\/call/],
    ["the method with a zero-width space", rpc({ method: "tools/\u200bcall" }), /holds a space, control or format character/],
    ["a case-folded member name, without a version", { METHOD: "Tools/Call", Params: { name: "x" } }, /"Tools\/Call"/],
    ["a batch inside a batch", [rpc({}), [rpc({ id: 2 })]], /batch inside a batch/],
    ["a bad element in a batch", [rpc({ params: { name: "a" } }), rpc({ id: 2, params: { name: ["b"] } })], /not a string/],
  ])("%s", (_name, body, reason) => {
    expect(mcpUnreadable(body)).toMatch(reason);
  });

  it.each([
    ["an ordinary call", rpc({})],
    ["a call without a name (the server answers it with an error)", rpc({ params: { arguments: {} } })],
    ["a batch", [rpc({}), rpc({ id: 2, method: "tools/list", params: {} })]],
    ["MCP's own camel case", rpc({ method: "sampling/createMessage", params: {} })],
    ["a method MCP does not define", rpc({ method: "Orders.Create", params: ["a", 1] })],
    ["an API body with a method member", { method: ["card", "wire"], id: 7 }],
    ["an API body with a method string", { method: "card", amount: 5 }],
    ["an API body with a method string holding spaces", { method: "wire transfer", amount: 5 }],
    ["a matrix", [[1, 2], [3, 4]]],
    ["a list with null params", rpc({ method: "resources/list", params: null })],
    ["a call with null params", rpc({ params: null })],
    ["a list with by-position params", rpc({ method: "tools/list", params: [] })],
    ["a response", { jsonrpc: "2.0", id: 1, result: { name: ["x"] } }],
  ])("passes: %s", (_name, body) => {
    expect(mcpUnreadable(body)).toBeUndefined();
  });
});
