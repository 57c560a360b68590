// `*` over a join with an alias column list gives the columns under the alias' names, as the server sends them:
// the mask plan trusts outputs only while their names match the server's (mask-plan.ts).
import { beforeAll, describe, expect, it } from "vitest";
import { analyze, initSqlParser } from "./index.js";
import type { AnalysisContext } from "./index.js";

const ctx: AnalysisContext = { searchPath: ["public"], user: "agent", prepared: new Map(), catalog: { columns: () => undefined } };

beforeAll(async () => {
  await initSqlParser();
});

const JOINED = "((SELECT 1 AS k, ssn || '' AS s FROM customers WHERE id = 2) a JOIN (SELECT 1 AS k, 'x' AS t) b USING (k))";

describe("a join's alias column list names its columns", () => {
  it.each([
    ["every column renamed", `SELECT * FROM ${JOINED} AS j(kk, ss, tt)`, ["kk", "ss", "tt"]],
    ["the first renamed", `SELECT * FROM ${JOINED} AS j(kk)`, ["kk", "s", "t"]],
    ["j.* beside *", `SELECT *, j.* FROM ${JOINED} AS j(kk)`, ["kk", "s", "t", "kk", "s", "t"]],
    ["no column list", `SELECT * FROM ${JOINED} AS j`, ["k", "s", "t"]],
  ])("%s", (_name, sql, names) => {
    const s = analyze(sql, ctx).statements[0]!;
    expect(s.outputs.map((o) => o.name)).toEqual(names);
    // The SSN-derived column keeps its lineage under its new name.
    expect(s.outputs.map((o) => o.lineage.some((c) => c.column === "ssn"))).toEqual(names.map((_, i) => i % 3 === 1));
  });
});
