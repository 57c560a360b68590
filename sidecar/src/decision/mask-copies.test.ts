import { describe, expect, it } from "vitest";
import { applyMaskOps, type MaskOps } from "./log-mask.js";
import { withCopies } from "./mask-copies.js";

const erase = (...paths: string[]): MaskOps => ({ erase: paths, upsert: [] });
const upsert = (path: string): MaskOps => ({ erase: [], upsert: [{ path, value: "[erased]" }] });

describe("withCopies: what a mask hides of a value, it hides in every copy", () => {
  it.each<[string, MaskOps, string[]]>([
    ["the body rewritten: MCP message and batch go", upsert("/input/http/parsed_body"), ["/input/http/body", "/input/http/mcp", "/input/http/mcp_batch"]],
    ["a member of the body erased: the same", erase("/input/http/parsed_body/params/arguments/ssn"), ["/input/http/body", "/input/http/mcp", "/input/http/mcp_batch"]],
    ["the MCP arguments erased: the body they came from goes", erase("/input/http/mcp/arguments"), ["/input/http/parsed_body", "/input/http/body", "/input/http/mcp_batch"]],
    ["parsed_query erased: the raw query goes", erase("/input/http/parsed_query"), ["/input/http/query"]],
    ["the raw path rewritten: path and segments go", upsert("/input/http/raw_path"), ["/input/http/path", "/input/http/parsed_path"]],
    ["all headers erased: content type and host go", erase("/input/http/headers"), ["/input/http/content_type", "/input/http/host"]],
    ["one header erased: nothing else", erase("/input/http/headers/x-customer"), []],
    ["a statement's text rewritten: its parse error and settings go, not another's", upsert("/input/postgres/statements/1/sql"), ["/input/postgres/statements/1/parse_error", "/input/postgres/statements/1/settings"]],
    ["a whole statement erased: nothing to add", erase("/input/postgres/statements/0"), []],
    ["every statement erased: nothing to add", erase("/input/postgres/statements"), []],
    ["all of input.http erased: nothing to add", erase("/input/http"), []],
    ["the result only: nothing to add", erase("/result/deny"), []],
  ])("%s", (_name, ops, added) => {
    const out = withCopies(ops);
    expect(out.erase.slice(0, added.length).sort()).toEqual([...added].sort());
    expect(out.erase.slice(added.length)).toEqual(ops.erase);
    expect(out.upsert).toBe(ops.upsert);
  });

  it("a copy the mask names itself is left to the mask", () => {
    const out = withCopies({ erase: ["/input/http/mcp/arguments/ssn"], upsert: [{ path: "/input/http/parsed_body/params/arguments/ssn", value: "x" }] });
    expect(out.erase).toEqual(["/input/http/body", "/input/http/mcp_batch", "/input/http/mcp/arguments/ssn"]);
  });

  it("added erasures come first, so a mask that removes array members still names the members it meant", () => {
    const doc: Record<string, unknown> = {
      input: { postgres: { statements: [{ sql: "a" }, { sql: "SET x = 'secret'", settings: [{ name: "x", value: "secret" }] }] } },
    };
    applyMaskOps(doc, withCopies({ erase: ["/input/postgres/statements/0"], upsert: [{ path: "/input/postgres/statements/1/sql", value: "[erased]" }] }));
    expect(doc["input"]).toEqual({ postgres: { statements: [{ sql: "[erased]" }] } });
  });

  it("the MCP copies of a body on a logged view", () => {
    const doc: Record<string, unknown> = {
      input: { http: { parsed_body: { params: { arguments: { note: "private" } } }, mcp: { type: "request", method: "tools/call", arguments: { note: "private" } }, mcp_batch: [{ arguments: { note: "private" } }] } },
    };
    const { erased } = applyMaskOps(doc, withCopies(upsert("/input/http/parsed_body")));
    expect(erased.sort()).toEqual(["/input/http/mcp", "/input/http/mcp_batch"]);
    expect(JSON.stringify(doc)).not.toContain("private");
  });
});
