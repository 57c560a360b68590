// Red-team pass over values derived from masked columns, through regate with the example policy and judged by
// the bytes the agent got (rows as arrays, so columns of the same name stay apart).
//
// The hole: MERGE ... RETURNING * lists the source's columns before the target's, and the analysis listed them
// after. Masks by lineage go by position, so the mask meant for the SSN-derived source column landed on
// orders.created_at and the SSN went out in clear. Fixed in the analysis (sql/dml.ts) and, for any order the
// analysis gets wrong, in the mask plan: outputs named otherwise than the server's columns redact every column.
//
// The rest pins what a first pass found already safe: derived text, JSON, XML, arrays, aggregates, windows,
// hashes (a hash of a low-entropy value such as an SSN is a dictionary lookup away from it: redacted, not kept),
// PostgreSQL 16's soft-error functions, and the planner statistics (refused).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let direct: pg.Client;

// Customer 2 in testdata/demo/seed.sql.
const SSN = "607-59-5353";

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
  direct = await connectClient(db.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await direct?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

interface Result {
  names?: string[];
  rows?: unknown[][];
  code?: string;
  message?: string;
}

async function run(c: pg.Client, sql: string | pg.QueryConfig): Promise<Result> {
  const config: pg.QueryArrayConfig = typeof sql === "string" ? { text: sql, rowMode: "array" } : { ...sql, rowMode: "array" };
  try {
    const r = await c.query(config);
    return { names: r.fields.map((f) => f.name), rows: r.rows };
  } catch (e) {
    await c.query("ROLLBACK").catch(() => undefined);
    const err = e as pg.DatabaseError;
    return { code: err.code, message: err.message };
  }
}

const text = (r: Result): string[] => (r.rows ?? []).flat().map((v) => (v instanceof Date ? v.toISOString() : String(v)));

// A source column made of the SSN, which only its lineage masks (the server sends it with no table OID).
const SOURCE = "(SELECT 2 AS cid, ssn || '' AS s FROM customers WHERE id = 2) z";
const merge = (returning: string) => `MERGE INTO orders o USING ${SOURCE} ON o.id = 1 WHEN MATCHED THEN UPDATE SET status = o.status RETURNING ${returning}`;

describe("MERGE ... RETURNING * puts the source's columns first", () => {
  it.each([
    ["RETURNING *", merge("*")],
    ["RETURNING merge_action(), *", merge("merge_action(), *")],
    ["RETURNING old.*, *, new.*", merge("old.*, *, new.*")],
    ["a MERGE in a CTE, read with SELECT *", `WITH m AS (${merge("*")}) SELECT * FROM m`],
    ["a CTE as the source", `WITH z AS (SELECT ssn || '' AS s FROM customers WHERE id = 2) MERGE INTO orders o USING z ON o.id = 1 WHEN MATCHED THEN UPDATE SET status = o.status RETURNING *`],
  ])("%s: the database returns the SSN, regate masks it", async (_name, sql) => {
    expect(text(await run(direct, sql))).toContain(SSN);
    const r = await run(agent, sql);
    expect(r.code, r.message).toBeUndefined();
    expect(text(r).join(" ")).not.toContain(SSN);
    expect(text(r).join(" ")).not.toContain("5353");
    // The SSN column is masked where the server puts it, and the order's own columns pass.
    const s = r.names!.indexOf("s");
    expect(r.rows![0]![s]).toBe("****");
    expect(r.rows![0]![r.names!.indexOf("status")]).toBe((await run(direct, "SELECT status FROM orders WHERE id = 1")).rows![0]![0]);
  });

  // The source's columns named as the target's: the names line up in either order, so only the analysis' own
  // order (not the mask plan's name check) keeps the SSN, sent as the source's status, masked.
  it("a source whose columns bear the target's names", async () => {
    const sql = "MERGE INTO orders o USING (SELECT 1 AS id, 2 AS customer_id, 3 AS amount, ssn || '' AS status, created_at FROM customers WHERE id = 2) z ON o.id = 1 WHEN MATCHED THEN UPDATE SET status = o.status RETURNING *";
    const want = await run(direct, sql);
    expect(want.rows![0]![3]).toBe(SSN);
    const r = await run(agent, sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.names).toEqual(want.names);
    expect(r.rows![0]![3]).toBe("****");
    expect(text(r).join(" ")).not.toContain("5353");
    expect(r.rows![0]![8]).toBe(want.rows![0]![8]);
  });

  it("the extended protocol, with a parameter, masks it too", async () => {
    const sql = { text: `MERGE INTO orders o USING (SELECT 2 AS cid, ssn || '' AS s FROM customers WHERE id = $1) z ON o.id = 1 WHEN MATCHED THEN UPDATE SET status = o.status RETURNING *`, values: [2] };
    expect(text(await run(direct, sql))).toContain(SSN);
    const r = await run(agent, sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.names).toEqual(["cid", "s", "id", "customer_id", "amount", "status", "created_at"]);
    expect(r.rows![0]![1]).toBe("****");
    expect(text(r).join(" ")).not.toContain("5353");
  });

  it("must allow: a MERGE whose source reads no masked column returns every column as the database does", async () => {
    const sql = "MERGE INTO orders o USING (SELECT 1 AS k, 'note' AS t) z ON o.id = z.k WHEN MATCHED THEN UPDATE SET status = o.status RETURNING *";
    const want = await run(direct, sql);
    const r = await run(agent, sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.names).toEqual(want.names);
    expect(text(r)).toEqual(text(want));
  });

  it("must allow: a MERGE from customers masks the customer's columns and passes the order's", async () => {
    const sql = "MERGE INTO orders o USING customers c ON o.customer_id = c.id AND c.id = 2 AND o.id = (SELECT min(id) FROM orders WHERE customer_id = 2) WHEN MATCHED THEN UPDATE SET status = o.status RETURNING *";
    const want = await run(direct, sql);
    const r = await run(agent, sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.names).toEqual(want.names);
    const at = (res: Result, name: string, nth = 0) => res.rows![0]![res.names!.indexOf(name, nth === 0 ? 0 : res.names!.indexOf(name) + 1)];
    expect(at(r, "ssn")).toBe("****");
    expect(at(r, "email")).toBe("***@example.net");
    expect(at(r, "card_number")).toBe("************3147");
    expect(at(r, "full_name")).toBe("Mira Holm");
    // customers' columns come first; the second id and created_at are the order's.
    for (const name of ["customer_id", "amount", "status"]) expect(at(r, name)).toEqual(at(want, name));
    expect(at(r, "id", 1)).toEqual(at(want, "id", 1));
  });

  it("must allow: UPDATE ... FROM and DELETE ... USING keep the target's columns first, masked as before", async () => {
    const sql = `UPDATE orders o SET status = o.status FROM ${SOURCE} WHERE o.id = 1 RETURNING *`;
    const want = await run(direct, sql);
    const r = await run(agent, sql);
    expect(r.names).toEqual(["id", "customer_id", "amount", "status", "created_at", "cid", "s"]);
    expect(text(r)).toEqual([...text(want).slice(0, 6), "****"]);
  });
});

// Lineage masks are trusted only while the analysis names its outputs as the server does (mask-plan.ts); these
// shapes were named otherwise by the analysis, so their results would be redacted whole. Each must come back as
// the database sends it, with only the SSN-derived column masked.
describe("must allow: results whose column names the analysis figures as the server does", () => {
  const JOINED = "((SELECT 1 AS k, ssn || '' AS s FROM customers WHERE id = 2) a JOIN (SELECT 1 AS k, 'x' AS t) b USING (k))";
  it.each([
    ["a join alias' column list", `SELECT * FROM ${JOINED} AS j(kk, ss, tt)`, ["kk", "ss", "tt"], ["1", "****", "x"]],
    ["a join alias naming its first column only", `SELECT * FROM ${JOINED} AS j(kk)`, ["kk", "s", "t"], ["1", "****", "x"]],
    ["a cast of a cast", "SELECT (id + 0)::text::int, ssn || '' AS s FROM customers WHERE id = 2", ["int4", "s"], ["2", "****"]],
    ["a CASE named after its ELSE", "SELECT CASE WHEN id > 5 THEN 0 ELSE id END, ssn || '' AS s FROM customers WHERE id = 2", ["id", "s"], ["2", "****"]],
    ["a scalar sub-select of a UNION", "SELECT (SELECT full_name FROM customers WHERE id = 2 UNION SELECT 'x' ORDER BY 1 LIMIT 1), ssn || '' AS s FROM customers WHERE id = 2", ["full_name", "s"], ["Mira Holm", "****"]],
    ["a scalar sub-select of VALUES", "SELECT (VALUES (7)), ssn || '' AS s FROM customers WHERE id = 2", ["column1", "s"], ["7", "****"]],
  ])("%s", async (_name, sql, names, values) => {
    const want = await run(direct, sql);
    expect(want.names).toEqual(names);
    const r = await run(agent, sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.names).toEqual(names);
    expect(text(r)).toEqual(values);
  });
});

// Each returns customer 2's SSN (or all of the customer's row) directly; through regate it must come back masked.
const derived: [string, string][] = [
  ["pg_input_error_info's message quotes its input", "SELECT (pg_input_error_info(ssn, 'int4')).message FROM customers WHERE id = 2"],
  ["pg_input_error_info as a FROM function", "SELECT m.message FROM customers c, pg_input_error_info(c.ssn, 'int4') m WHERE c.id = 2"],
  ["pg_input_error_info of the whole row", "SELECT pg_input_error_info(c::text, 'int4')::text FROM customers c WHERE id = 2"],
  ["format", "SELECT format('%s', ssn) FROM customers WHERE id = 2"],
  ["concat_ws", "SELECT concat_ws(',', id, ssn) FROM customers WHERE id = 2"],
  ["a row cast to text", "SELECT row(ssn)::text FROM customers WHERE id = 2"],
  ["a whole row cast to text", "SELECT c::text FROM customers c WHERE id = 2"],
  ["to_jsonb of a whole row", "SELECT to_jsonb(c)::text FROM customers c WHERE id = 2"],
  ["row_to_json of a subquery", "SELECT row_to_json(s)::text FROM (SELECT ssn FROM customers WHERE id = 2) s"],
  ["json_build_object", "SELECT json_build_object('s', ssn)::text FROM customers WHERE id = 2"],
  ["JSON_OBJECT", "SELECT JSON_OBJECT('s': ssn)::text FROM customers WHERE id = 2"],
  ["JSON_TABLE over a whole row", "SELECT jt.s FROM customers c, JSON_TABLE(to_jsonb(c), '$' COLUMNS (s text PATH '$.ssn')) jt WHERE c.id = 2"],
  ["jsonb_to_record over a whole row", "SELECT x.ssn FROM customers c, jsonb_to_record(to_jsonb(c)) AS x(ssn text) WHERE c.id = 2"],
  ["xmlelement", "SELECT xmlelement(name x, ssn)::text FROM customers WHERE id = 2"],
  ["xmlforest", "SELECT xmlforest(ssn)::text FROM customers WHERE id = 2"],
  ["XMLTABLE", "SELECT x.s FROM customers c, XMLTABLE('/r' PASSING xmlelement(name r, c.ssn) COLUMNS s text PATH '.') x WHERE c.id = 2"],
  ["array(select ...)", "SELECT array(SELECT ssn FROM customers WHERE id = 2)::text"],
  ["string_agg", "SELECT string_agg(ssn, ',') FROM customers WHERE id = 2"],
  ["jsonb_agg of whole rows", "SELECT jsonb_agg(c)::text FROM customers c WHERE id = 2"],
  ["ROLLUP", "SELECT ssn FROM customers WHERE id = 2 GROUP BY ROLLUP(ssn) ORDER BY ssn NULLS LAST LIMIT 1"],
  ["first_value over a window", "SELECT first_value(ssn) OVER () FROM customers WHERE id = 2"],
  ["LATERAL", "SELECT l.x FROM customers c, LATERAL (SELECT c.ssn AS x) l WHERE c.id = 2"],
  ["VALUES of a sub-select", "SELECT v.x FROM (VALUES ((SELECT ssn FROM customers WHERE id = 2))) v(x)"],
  ["regexp_matches", "SELECT array_to_string(regexp_matches(ssn, '(\\d+)-(\\d+)-(\\d+)'), '-') FROM customers WHERE id = 2"],
  ["a UNION with a constant", "SELECT 'x' UNION ALL SELECT ssn FROM customers WHERE id = 2"],
  ["RETURNING a sub-select", "UPDATE orders SET status = status WHERE id = 1 RETURNING (SELECT ssn FROM customers WHERE id = 2)"],
];

describe("values derived from a masked column come back masked", () => {
  it.each(derived)("%s", async (_name, sql) => {
    expect(text(await run(direct, sql)).join(" ")).toContain(SSN);
    const r = await run(agent, sql);
    expect(r.code, r.message).toBeUndefined();
    expect(text(r).join(" ")).not.toContain("5353");
    expect(text(r)).toContain("****");
  });

  // A hash of a value with a small domain (10^9 SSNs) is reversed by hashing every candidate: it is the value.
  it.each([
    ["md5", "SELECT md5(ssn) FROM customers WHERE id = 2", "affa132c030924dbc57a384d6ff867fb"],
    ["sha256", "SELECT encode(sha256(ssn::bytea), 'hex') FROM customers WHERE id = 2", "1d466bdb0ab46f64f66da8a23c504c2f6e79f3dc71110a4020e850eb093a8ec4"],
  ])("%s of the SSN is redacted, not passed as a harmless digest", async (_name, sql, digest) => {
    expect(text(await run(direct, sql))).toEqual([digest]);
    const r = await run(agent, sql);
    expect(text(r)).toEqual(["****"]);
  });
});

describe("sources regate cannot trace are refused with a reason and a next step", () => {
  it.each([
    ["pg_stats' sampled values", "SELECT most_common_vals::text FROM pg_stats WHERE tablename = 'customers' AND attname = 'email'", "would expose other tables' values"],
    ["pg_stats' histogram", "SELECT histogram_bounds::text FROM pg_stats WHERE tablename = 'customers' AND attname = 'email'", "would expose other tables' values"],
    ["pg_stats_ext", "SELECT * FROM pg_stats_ext", "would expose other tables' values"],
    ["pg_input_error_info of a sub-select, as a FROM function", "SELECT * FROM pg_input_error_info((SELECT ssn FROM customers WHERE id = 2), 'int4')", "unknown lineage"],
    ["jsonb_each_text of a whole row", "SELECT t.* FROM customers c, LATERAL jsonb_each_text(to_jsonb(c)) t WHERE c.id = 2", "unknown lineage"],
    ["COPY of a query on customers", "COPY (SELECT ssn FROM customers WHERE id = 2) TO STDOUT", "COPY of tables with masked columns"],
    ["EXPLAIN ANALYZE of a filter on the SSN", "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM customers WHERE ssn = '607-59-5353'", "EXPLAIN ANALYZE"],
  ])("%s", async (_name, sql, reason) => {
    const r = await run(agent, sql);
    expect(r.code).toBe("42501");
    expect(r.message).toContain(reason);
    expect(r.message).toContain("Next:");
    // The session stays usable.
    expect((await run(agent, "SELECT 1 AS one")).rows).toEqual([[1]]);
  });
});
