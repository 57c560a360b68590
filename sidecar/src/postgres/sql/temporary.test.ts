// The session's temporary relations (temporary.ts) in the facts: names resolved as the server would, refused where
// the server's choice depends on whether the temporary relation still exists, and reads carrying what was stored.
import { beforeAll, describe, expect, it } from "vitest";
import { analyze, initSqlParser } from "./index.js";
import type { AnalysisContext, CatalogLookup } from "./index.js";
import { applyChanges, type TemporaryHolds } from "./temporary.js";

const CATALOG: Record<string, string[]> = {
  "public.orders": ["id", "status"],
  "public.customers": ["id", "ssn"],
};
const catalog: CatalogLookup = { columns: (schema, table) => CATALOG[`${schema}.${table}`] };
const customersRead = { schema: "public", name: "customers", access: "read" as const, candidates: ["public"], only: false };
const HOLDS: TemporaryHolds = { tables: [customersRead], cols: [{ schema: "public", table: "customers", column: "ssn" }], unknown: false };
const EMPTY: TemporaryHolds = { tables: [], cols: [], unknown: false };

function facts(sql: string, temporary: Record<string, TemporaryHolds>, searchPath: string[] | null = ["public"]) {
  const ctx: AnalysisContext = { searchPath, user: "agent", prepared: new Map(), catalog, temporary: new Map(Object.entries(temporary)) };
  return analyze(sql, ctx);
}

beforeAll(async () => {
  await initSqlParser();
});

describe("an unqualified name the session made temporary", () => {
  it("is refused while a permanent relation after pg_temp has it", () => {
    const [s] = facts("SELECT status FROM orders", { orders: EMPTY }).statements;
    expect(s!.unknown.join()).toContain("orders may name this session's temporary relation");
  });

  it("is the permanent relation when the path lists pg_temp after it", () => {
    const [s] = facts("SELECT status FROM orders", { orders: HOLDS }, ["public", "pg_temp"]).statements;
    expect(s!.unknown).toEqual([]);
    expect(s!.tables.map((t) => `${t.schema}.${t.name}`)).toEqual(["public.orders"]);
    expect(s!.outputs[0]!.lineage).toEqual([{ schema: "public", table: "orders", column: "status" }]);
  });

  it("is pg_temp with no permanent one, its reads carrying what was stored", () => {
    const [s] = facts("SELECT v FROM scratch", { scratch: HOLDS }).statements;
    expect(s!.unknown).toEqual([]);
    expect(s!.tables.map((t) => `${t.schema}.${t.name}:${t.access}`).sort()).toEqual(["pg_temp.scratch:read", "public.customers:read"]);
    expect(s!.outputs[0]!.lineage).toContainEqual({ schema: "public", table: "customers", column: "ssn" });
    expect(s!.outputs[0]!.derived).toBe(true);
  });

  it("made earlier in the same message is found by the statements after it", () => {
    const a = facts("CREATE TEMP VIEW orders AS SELECT id, ssn AS status FROM customers; SELECT status FROM orders", {});
    expect(a.statements[1]!.unknown.join()).toContain("orders may name this session's temporary relation");
    expect(a.temporary).toEqual([{ name: "orders", statement: 0 }]);
    const held = new Map<string, TemporaryHolds>();
    applyChanges(held, a.temporary!, a.statements);
    expect(held.get("orders")!.cols).toContainEqual({ schema: "public", table: "customers", column: "ssn" });
  });
});

describe("what a message puts in pg_temp", () => {
  it.each([
    ["CREATE TEMP TABLE a (x int)", null, ["a"]],
    ["CREATE TABLE pg_temp.a (x int)", null, ["a"]],
    ["SELECT 1 AS x INTO TEMP a", null, ["a"]],
    ["CREATE TABLE a (x int)", ["nowhere", "pg_temp", "public"], ["a"]],
    ["CREATE TABLE a (x int)", null, ["a"]],
    ["CREATE TABLE a (x int)", ["public"], undefined],
    ["CREATE INDEX ON orders (id)", ["public"], undefined],
    ["UPDATE orders SET status = 'x' WHERE id = 1", null, undefined],
    ["INSERT INTO pg_temp.a VALUES (1)", ["public"], ["a"]],
    ["ALTER TABLE pg_temp.a RENAME COLUMN x TO orders", ["public"], ["a"]],
    ["ALTER VIEW pg_temp.a RENAME TO orders", ["public"], ["a", "orders"]],
  ] as [string, string[] | null, string[] | undefined][])("%s on %j: %j", (sql, path, names) => {
    expect(facts(sql, {}, path).temporary?.map((c) => c.name)).toEqual(names);
  });

  it("a rename of a temporary relation carries what it held", () => {
    const a = facts("ALTER TABLE scratch RENAME TO orders", { scratch: HOLDS });
    const held = new Map([["scratch", HOLDS]]);
    applyChanges(held, a.temporary!, a.statements);
    expect(held.get("orders")).toEqual(HOLDS);
  });
});

describe("without temporary relations", () => {
  it("facts are those of a session that never had any", () => {
    const ctx: AnalysisContext = { searchPath: ["public"], user: "agent", prepared: new Map(), catalog };
    const sql = "SELECT o.status, c.ssn FROM orders o JOIN customers c ON c.id = o.id";
    expect(facts(sql, {}).statements).toEqual(analyze(sql, ctx).statements);
  });
});
