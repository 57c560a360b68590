// Output names as PostgreSQL 18 figures them (each expected name read from the server's RowDescription). The
// mask plan trusts an output's lineage only while its name is the server's, so a name figured otherwise
// redacts the whole result.
import { beforeAll, describe, expect, it } from "vitest";
import { analyze, initSqlParser } from "./index.js";
import type { AnalysisContext } from "./index.js";

const ctx: AnalysisContext = { searchPath: ["public"], user: "agent", prepared: new Map() };

beforeAll(async () => {
  await initSqlParser();
});

describe("output names follow FigureColname's strengths", () => {
  it.each([
    ["1::text::int", "int4"],
    ["'customers'::regclass::oid", "oid"],
    ["id::text", "id"],
    ["(id)::text::varchar", "id"],
    ["(1 + 1)::text::int", "int4"],
    ["CASE WHEN true THEN 1 ELSE id END", "id"],
    ["CASE WHEN true THEN id END", "case"],
    ["CASE WHEN true THEN '1' ELSE id::text END", "id"],
    ["CASE WHEN true THEN 1 ELSE 2::int END", "case"],
    ["CASE WHEN true THEN 1 ELSE CASE WHEN false THEN id END END", "case"],
    ["(SELECT 1 UNION SELECT 2 LIMIT 1)", "?column?"],
    ["(SELECT id FROM customers UNION SELECT 3 LIMIT 1)", "id"],
    ["(VALUES (1))", "column1"],
    ["(SELECT 1::text::int)", "int4"],
    ["('a' COLLATE \"C\")::text", "text"],
    ["ARRAY[1]::text[]", "array"],
    ["(ARRAY[1])[1]::text", "array"],
    ["nullif(id, 1)::text", "nullif"],
  ])("%s is %s", (target, name) => {
    const s = analyze(`SELECT ${target} FROM customers`, ctx).statements[0]!;
    expect(s.outputs.map((o) => o.name)).toEqual([name]);
  });
});
