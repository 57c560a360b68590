// RETURNING * lists columns in the order the server does: masks are applied by position, so an output
// expanded in another order masks one column and sends its neighbour, a masked column's value, in clear.
import { beforeAll, describe, expect, it } from "vitest";
import { analyze, initSqlParser } from "./index.js";
import type { AnalysisContext, CatalogLookup } from "./index.js";

const tables: Record<string, string[]> = {
  "public.orders": ["id", "customer_id", "amount", "status", "created_at"],
  "public.customers": ["id", "full_name", "email", "phone", "ssn", "card_number", "created_at"],
  "public.other": ["id", "x"],
  "public.x": ["order_id"],
  "public.flags": ["id", "active"],
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

/** has_where of the statement: whether every UPDATE/DELETE (MERGE action) in it restricts its target's rows. */
function hasWhere(sql: string): boolean | null {
  return analyze(sql, ctx).statements[0]!.has_where;
}

// A condition restricts the target only if it refers to it in a way no rewrite of "every row" can take.
const unrestricted = [
  "DELETE FROM orders",
  "DELETE FROM orders WHERE true",
  "DELETE FROM orders WHERE 1 = 1",
  "DELETE FROM orders WHERE id = 5 OR true",
  "DELETE FROM orders WHERE true OR id = 1",
  "DELETE FROM orders WHERE id = 5 OR 1 = 1",
  "DELETE FROM orders WHERE id = id",
  "DELETE FROM orders WHERE orders.id = id",
  "DELETE FROM orders o WHERE o.id = id",
  "DELETE FROM orders WHERE id IS NOT DISTINCT FROM id",
  "DELETE FROM orders WHERE id IS NOT NULL",
  "DELETE FROM orders WHERE id IS DISTINCT FROM NULL",
  "DELETE FROM orders WHERE id IS NOT NULL OR 1=1",
  "DELETE FROM orders WHERE (id = 1) IS NOT TRUE OR true",
  "DELETE FROM orders WHERE NOT (id <> id)",
  "DELETE FROM orders WHERE NOT (id = 5 AND false)",
  "DELETE FROM orders WHERE NOT (id IS NULL)",
  "DELETE FROM orders WHERE (id = 5 OR true) IS TRUE",
  "DELETE FROM orders WHERE (id = 5 AND false) IS NOT TRUE",
  "DELETE FROM orders WHERE (id = 5 OR true)::boolean",
  "DELETE FROM orders WHERE (id = 5 OR true) = true",
  "DELETE FROM orders WHERE (id = 5 AND false) = false",
  "DELETE FROM orders WHERE (id = 5 OR true) IS NOT DISTINCT FROM true",
  "DELETE FROM orders WHERE id IN (1, id)",
  "DELETE FROM orders WHERE id BETWEEN id AND id",
  "DELETE FROM orders WHERE CASE WHEN id = 5 THEN true ELSE true END",
  "DELETE FROM orders WHERE coalesce(id = 5, true)",
  "DELETE FROM orders WHERE id = $1 OR $2",
  "DELETE FROM orders WHERE $1::bool OR id = 5",
  "DELETE FROM orders WHERE status = 'x' OR amount > 0 OR $1",
  "UPDATE orders SET status = 'x' WHERE coalesce(id, 0) = coalesce(id, 0)",
  "UPDATE orders SET status = 'x' WHERE id = 5 OR true",
  "UPDATE orders SET status = 'x' FROM other o WHERE orders.id = o.id OR o.x = 1",
  "DELETE FROM orders USING other o WHERE o.x = 1",
  "WITH d AS (DELETE FROM orders WHERE id = 5 OR true RETURNING 1) SELECT * FROM d",
  "WITH u AS (UPDATE orders SET status = 'x' WHERE id = id RETURNING 1) SELECT 1",
  "MERGE INTO orders t USING other s ON t.id = s.id OR true WHEN MATCHED THEN DELETE",
  "MERGE INTO orders t USING other s ON t.id = t.id WHEN MATCHED THEN UPDATE SET status = 'x'",
  "MERGE INTO orders t USING other s ON s.x = 1 WHEN MATCHED AND (t.id = 1 OR true) THEN DELETE",
  "MERGE INTO orders t USING other s ON false WHEN NOT MATCHED BY SOURCE THEN DELETE",
  "MERGE INTO orders t USING other s ON t.id = t.id WHEN NOT MATCHED BY SOURCE THEN DELETE",
  "DELETE FROM flags WHERE active OR true",
  "DELETE FROM flags WHERE active IS NOT NULL",
  "DELETE FROM flags WHERE active OR NOT active",
  "DELETE FROM flags WHERE NOT (active AND NOT active)",
  // The same expression behind a cast, a collation or an array; BETWEEN SYMMETRIC; NOT IN of itself negated.
  "DELETE FROM orders WHERE id IN (id::int)",
  "DELETE FROM orders WHERE id::int = id",
  'DELETE FROM orders WHERE id = id COLLATE "C"',
  "DELETE FROM orders WHERE id = ANY(ARRAY[id])",
  "DELETE FROM orders WHERE id = SOME(ARRAY[1, id])",
  "DELETE FROM orders WHERE ARRAY[id] = ARRAY[id]",
  "DELETE FROM orders WHERE id BETWEEN SYMMETRIC id AND id",
  "DELETE FROM orders WHERE NOT (id NOT IN (id))",
  "DELETE FROM orders WHERE NOT (id NOT BETWEEN id AND id)",
  // ALL over no element is true, ANY over none false; LIKE '%' is IS NOT NULL.
  "DELETE FROM orders WHERE id <> ALL('{}'::int[])",
  "DELETE FROM orders WHERE NOT (id = ANY(ARRAY[]::int[]))",
  "DELETE FROM orders WHERE status LIKE '%'",
  "DELETE FROM orders WHERE status NOT LIKE '%' IS NOT TRUE",
  // A condition and its negation however written: operators, IS [NOT] TRUE, = false, ALL for ANY.
  "DELETE FROM orders WHERE id = 1 OR id <> 1",
  "DELETE FROM orders WHERE id < 10 OR 10 <= id",
  "DELETE FROM orders WHERE id <= 10 OR id > 10",
  "DELETE FROM orders WHERE id IN (1, 2) OR id NOT IN (1, 2)",
  "DELETE FROM orders WHERE id = ANY($1) OR id <> ALL($1)",
  "DELETE FROM orders WHERE id BETWEEN 1 AND 2 OR id NOT BETWEEN 1 AND 2",
  "DELETE FROM orders WHERE id IS NOT DISTINCT FROM 1 OR id <> 1",
  "DELETE FROM orders WHERE status LIKE 'a%' OR status NOT LIKE 'a%'",
  "DELETE FROM orders WHERE status ~ 'a' OR status !~ 'a'",
  "DELETE FROM flags WHERE active IS TRUE OR active IS NOT TRUE",
  "DELETE FROM flags WHERE active = true OR active = false",
  "DELETE FROM flags WHERE active OR active IS NOT TRUE",
  "DELETE FROM flags WHERE active <> NOT active",
  // An optional filter (`$1 IS NULL OR …`) alone: bound to NULL it is every row, so it is not a WHERE.
  "DELETE FROM orders WHERE $1::int IS NULL OR id = $1",
];

const restricted = [
  "DELETE FROM orders WHERE id = 5",
  "DELETE FROM orders WHERE id = $1",
  "DELETE FROM orders WHERE id IN (1, 2)",
  "DELETE FROM orders WHERE id = ANY($1)",
  "DELETE FROM orders WHERE status = 'x' AND created_at < now()",
  "DELETE FROM orders WHERE status = 'x' OR amount = 2",
  "DELETE FROM orders WHERE id IN (SELECT order_id FROM x)",
  "DELETE FROM orders WHERE CURRENT OF c",
  "DELETE FROM orders WHERE id = 5 OR false",
  "DELETE FROM orders WHERE NOT (id = 5)",
  "DELETE FROM orders WHERE id IS NULL",
  "DELETE FROM orders WHERE id IS NOT DISTINCT FROM NULL",
  "DELETE FROM orders WHERE (id = 5) IS TRUE",
  "DELETE FROM orders WHERE (id = 5) = true",
  "DELETE FROM orders WHERE id = 5 AND (true OR id = 1)",
  "DELETE FROM orders WHERE CASE WHEN id = 5 THEN true END",
  "DELETE FROM orders WHERE coalesce(id = 5, false)",
  "DELETE FROM flags WHERE active",
  "DELETE FROM flags WHERE NOT active",
  "UPDATE orders SET status = 'x' FROM other o WHERE orders.id = o.id",
  "DELETE FROM orders USING other o WHERE orders.id = o.id AND o.x = 1",
  "MERGE INTO orders t USING other s ON t.id = s.id WHEN MATCHED THEN DELETE",
  "MERGE INTO orders t USING other s ON s.x = 1 WHEN MATCHED AND t.id = 1 THEN DELETE",
  "MERGE INTO orders t USING other s ON t.id = s.id WHEN NOT MATCHED BY SOURCE AND t.status = 'x' THEN DELETE",
  "WITH d AS (DELETE FROM orders WHERE id = 5 RETURNING 1) SELECT * FROM d",
  // As ORMs write them: quoted and qualified names, optimistic locking, soft deletes, optional filters.
  'UPDATE "public"."orders" SET "status" = $1 WHERE ("public"."orders"."id" = $2 AND "public"."orders"."created_at" IS NULL)',
  "UPDATE orders SET amount = amount + 1 WHERE id = $1 AND amount = $2",
  'DELETE FROM "orders" WHERE ("orders"."id" = $1 AND 1=1)',
  "UPDATE orders SET status = 'x' WHERE (id, customer_id) IN (($1, $2))",
  "UPDATE orders SET status = 'x' WHERE id = $1 AND ($2::text IS NULL OR status = $2)",
  "UPDATE orders SET status = 'x' WHERE created_at IS NOT NULL AND id = 5",
  "DELETE FROM orders WHERE created_at < now() - interval '30 days'",
  "DELETE FROM orders WHERE EXISTS (SELECT 1 FROM orders o2 WHERE o2.customer_id = orders.customer_id AND o2.id > orders.id)",
  // Near misses of the tautologies above: different operands, a real pattern, one side of a range.
  "DELETE FROM orders WHERE id = 1 OR id = 2",
  "DELETE FROM orders WHERE id < 5 OR id > 5",
  "DELETE FROM orders WHERE id IN (1) OR id NOT IN (2)",
  "DELETE FROM orders WHERE id = ANY($1) OR id = ALL($1)",
  "DELETE FROM orders WHERE id = ANY(ARRAY[1, 2])",
  "DELETE FROM orders WHERE id = ANY('{}'::int[])",
  "DELETE FROM orders WHERE status LIKE 'a%'",
  "DELETE FROM orders WHERE status NOT LIKE '%'",
  "DELETE FROM orders WHERE id = 1 AND id <> 1",
  "DELETE FROM flags WHERE active = NOT active",
];

// Plain `it` per row: a title given to it.each would read `$1` as a placeholder.
describe("has_where: conditions that leave every row in play", () => {
  for (const sql of unrestricted) it(sql, () => expect(hasWhere(sql)).toBe(false));
});

describe("has_where: conditions that restrict the target", () => {
  for (const sql of restricted) it(sql, () => expect(hasWhere(sql)).toBe(true));
});
