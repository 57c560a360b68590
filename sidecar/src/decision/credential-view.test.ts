import { describe, expect, it } from "vitest";
import { credentialOps } from "./credential-view.js";
import { applyMaskOps } from "./log-mask.js";
import type { PolicyInput } from "./types.js";

const pgInput = (statements: string[], parameters?: unknown[]) =>
  ({ version: 1, kind: "postgres", postgres: { message: "bind", statements: statements.map((sql) => ({ sql, tables: [] })), ...(parameters ? { parameters: parameters.map((value) => ({ value, format: "text", type_oid: 0 })) } : {}) } }) as unknown as PolicyInput;

describe("credentialOps", () => {
  it("replaces the literals of a statement that sets a password, and every parameter value, in a copy", () => {
    const input = pgInput(["ALTER ROLE bot PASSWORD 'Pw-1'", "SELECT 'kept'"], ["x", null]);
    const ops = credentialOps(input)!;
    const doc: Record<string, unknown> = { input };
    const { masked } = applyMaskOps(doc, ops);
    const logged = doc["input"] as { postgres: { statements: { sql: string }[]; parameters: { value: unknown }[] } };
    expect(logged.postgres.statements.map((s) => s.sql)).toEqual(["ALTER ROLE bot PASSWORD '****'", "SELECT 'kept'"]);
    expect(logged.postgres.parameters.map((p) => p.value)).toEqual(["****", null]);
    expect(masked).toEqual(["/input/postgres/statements/0/sql", "/input/postgres/parameters/0/value"]);
    // The adapter's own input (what the policy saw) is left alone.
    expect((input.postgres as { statements: { sql: string }[] }).statements[0]!.sql).toContain("Pw-1");
  });

  it("covers dblink connection strings and URLs with a password; leaves other statements and HTTP alone", () => {
    expect(credentialOps(pgInput(["SELECT dblink_connect($1)"], ["password=x"]))?.upsert).toHaveLength(2);
    expect(credentialOps(pgInput(["SELECT * FROM t WHERE u = 'postgresql://a:b@h/db'"]))?.upsert).toHaveLength(1);
    expect(credentialOps(pgInput(["SELECT 1 FROM t WHERE x = $1"], ["secret-looking"]))).toBeUndefined();
    expect(credentialOps({ version: 1, kind: "http", http: {} } as unknown as PolicyInput)).toBeUndefined();
  });
});
