import { describe, expect, it } from "vitest";
import { applyMaskOps, parseMaskOps } from "./log-mask.js";

describe("system.log.mask operations", () => {
  it("reads OPA's forms: pointers to erase, remove and upsert objects; ignores the rest", () => {
    const ops = parseMaskOps(["/input/a", { op: "remove", path: "/input/b" }, { op: "upsert", path: "/input/c", value: "x" }, { op: "upsert" }, 7]);
    expect(ops).toEqual({ erase: ["/input/a", "/input/b"], upsert: [{ path: "/input/c", value: "x" }] });
    expect(parseMaskOps(undefined)).toEqual({ erase: [], upsert: [] });
  });

  it("erases and upserts on copies: the decision's own input is never changed", () => {
    const input = { postgres: { parameters: [{ value: "a@b.c" }], statements: [{ tables: ["t"] }] }, http: { parsed_body: { email: "a@b.c" } }, principal: { subject: "s" } };
    const before = JSON.stringify(input);
    const doc: Record<string, unknown> = { input, result: { allow: true } };
    const out = applyMaskOps(doc, parseMaskOps(["/input/postgres/parameters", { op: "upsert", path: "/input/http/parsed_body", value: "[erased]" }, "/input/missing/x"]));
    expect(out).toEqual({ erased: ["/input/postgres/parameters"], masked: ["/input/http/parsed_body"] });
    expect(JSON.stringify(input)).toBe(before);
    const logged = doc["input"] as typeof input;
    expect(logged.postgres).not.toHaveProperty("parameters");
    expect(logged.http.parsed_body).toBe("[erased]");
    // What was not on a changed path is shared, not copied.
    expect(logged.principal).toBe(input.principal);
    expect(logged.postgres.statements).toBe(input.postgres.statements);
  });

  it("removes array elements and creates missing objects for an upsert, with JSON pointer escapes", () => {
    const input = { list: [1, 2, 3], "a/b": { "c~d": 1 } };
    const doc: Record<string, unknown> = { input };
    applyMaskOps(doc, parseMaskOps(["/input/list/1", "/input/a~1b/c~0d", { op: "upsert", path: "/input/new/deep", value: 1 }]));
    expect(doc["input"]).toEqual({ list: [1, 3], "a/b": {}, new: { deep: 1 } });
    expect(input).toEqual({ list: [1, 2, 3], "a/b": { "c~d": 1 } });
  });

  it("array members are removed after every other operation, by the indexes the mask named", () => {
    const input = { statements: [{ sql: "a" }, { sql: "b 'secret'" }, { sql: "c" }] };
    const doc: Record<string, unknown> = { input };
    const out = applyMaskOps(doc, parseMaskOps(["/input/statements/0", "/input/statements/2", "/input/statements/0", { op: "upsert", path: "/input/statements/1/sql", value: "[erased]" }]));
    expect(doc["input"]).toEqual({ statements: [{ sql: "[erased]" }] });
    expect(out.masked).toEqual(["/input/statements/1/sql"]);
  });
});
