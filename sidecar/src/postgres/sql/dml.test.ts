// RETURNING * lists columns in the order the server does: masks are applied by position, so an output
// expanded in another order masks one column and sends its neighbour, a masked column's value, in clear.
import { beforeAll, describe, expect, it } from "vitest";
import { analyze, initSqlParser } from "./index.js";
import type { AnalysisContext, CatalogLookup } from "./index.js";

const tables: Record<string, string[]> = {
  "public.orders": ["id", "customer_id", "amount", "status", "created_at"],
  "public.customers": ["id", "full_name", "email", "phone", "ssn", "card_number", "created_at"],
};
const catalog: CatalogLookup = { columns: (schema, table) => tables[`${schema}.${table}`] };
const ctx: AnalysisContext = { searchPath: ["public"], user: "agent", prepared: new Map(), catalog };

beforeAll(async () => {
  await initSqlParser();
});

const SOURCE = "(SELECT 2 AS cid, ssn || '' AS s FROM customers WHERE id = 2) z";
const ORDERS = ["id", "customer_id", "amount", "status", "created_at"];

/** Output names, each with the masked column its lineage holds ("" when none). */
function outputs(sql: string): [string, string][] {
  const s = analyze(sql, ctx).statements[0]!;
  return s.outputs.map((o) => [o.name, o.lineage.some((c) => c.table === "customers" && c.column === "ssn") ? "ssn" : ""]);
}

describe("RETURNING * in the server's column order", () => {
  it.each([
    ["MERGE: source, then target", `MERGE INTO orders o USING ${SOURCE} ON o.id = 1 WHEN MATCHED THEN UPDATE SET status = o.status RETURNING *`, ["cid", "s", ...ORDERS]],
    ["MERGE in a CTE", `WITH m AS (MERGE INTO orders o USING ${SOURCE} ON o.id = 1 WHEN MATCHED THEN UPDATE SET status = o.status RETURNING *) SELECT * FROM m`, ["cid", "s", ...ORDERS]],
    ["MERGE with old.* and new.* around it", `MERGE INTO orders o USING ${SOURCE} ON o.id = 1 WHEN MATCHED THEN UPDATE SET status = o.status RETURNING old.*, *, new.*`, [...ORDERS, "cid", "s", ...ORDERS, ...ORDERS]],
    ["UPDATE ... FROM: target, then FROM", `UPDATE orders o SET status = o.status FROM ${SOURCE} WHERE o.id = 1 RETURNING *`, [...ORDERS, "cid", "s"]],
    ["DELETE ... USING: target, then USING", `DELETE FROM orders o USING ${SOURCE} WHERE o.id = 1 RETURNING *`, [...ORDERS, "cid", "s"]],
  ])("%s", (_name, sql, names) => {
    const got = outputs(sql);
    expect(got.map(([n]) => n)).toEqual(names);
    // The SSN-derived column, wherever the server puts it, is the one whose lineage holds the SSN.
    expect(got.filter(([, m]) => m).map(([n]) => n)).toEqual(["s"]);
  });
});
