import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { ResponseMasker } from "./masker.js";

// The example policy's MCP rules: fields by name, and detectors over every string.
const RULES: MaskRule[] = [
  { field: "email", strategy: "partial" },
  { field: "ssn", strategy: "redact" },
  { detector: "email", strategy: "partial" },
];
const masked = (doc: unknown): any => JSON.parse(ResponseMasker.from(RULES, Buffer.alloc(32, 1))!.maskJsonText(JSON.stringify(doc)));

const schema = { type: "object", properties: { email: { type: "string", format: "email" }, ssn: { type: "string" } }, required: ["email"] };
const toolsList = { jsonrpc: "2.0", id: 2, result: { tools: [{ name: "lookup", inputSchema: schema, outputSchema: schema }] } };

describe("JSON Schemas in MCP messages: property names are not fields", () => {
  it.each([
    ["a tools/list answer", toolsList],
    ["a tools/list answer in a batch", [toolsList]],
    ["an elicitation request", { jsonrpc: "2.0", id: 5, method: "elicitation/create", params: { message: "Which customer?", requestedSchema: schema } }],
  ])("%s keeps its schemas as written", (_name, doc) => {
    expect(masked(doc)).toEqual(doc);
  });

  it("detectors still read every string of a schema", () => {
    const leaky = { ...toolsList, result: { tools: [{ name: "t", inputSchema: { properties: { email: { type: "string", default: "alice@example.com" } } } }] } };
    expect(JSON.stringify(masked(leaky))).not.toContain("alice@example.com");
  });

  it("must mask: records, a tool's result, and a schema-like shape anywhere else", () => {
    const call = { jsonrpc: "2.0", id: 3, result: { structuredContent: { email: "bob@example.com", ssn: "123-45-6789" }, content: [] } };
    expect(masked(call).result.structuredContent.ssn).not.toBe("123-45-6789");
    const elsewhere = { data: { tools: [{ inputSchema: { properties: { ssn: "123-45-6789" } } }] } };
    expect(JSON.stringify(masked(elsewhere))).not.toContain("123-45-6789");
    const notATool = { result: { tools: { inputSchema: { ssn: "123-45-6789" } } } };
    expect(JSON.stringify(masked(notATool))).not.toContain("123-45-6789");
    // After a schema, the rest of the document is masked as before.
    const after = { jsonrpc: "2.0", id: 2, result: { tools: [{ name: "t", inputSchema: schema }], ssn: "123-45-6789" } };
    expect(masked(after).result.ssn).not.toBe("123-45-6789");
  });
});
