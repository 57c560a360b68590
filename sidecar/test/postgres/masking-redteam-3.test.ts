// Third masking red-team pass, through regate with the example policy, judged by the bytes that reach the client.
//
// Found: how many rows a LATERAL FROM item gives per outer row chooses the outer rows, as a WHERE does (none drops
// the row). Made of an outer value and a masked one, it returned the outer value equal to the masked one, in clear:
// `SELECT g FROM generate_series(0, 999) g, LATERAL generate_series(1, (g = <ascii of the SSN>)::int) s` answered
// 54, and so did a LATERAL subquery's FETCH FIRST and its TABLESAMPLE percentage built the same way. A correlated
// scalar subquery's LIMIT built so returned the outer value beside the one non-NULL (masked) result.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptOn, connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

const ssnByte = "(SELECT ascii(c.ssn) FROM customers c WHERE c.id = 2)";

describe("a value chosen by how many rows a LATERAL FROM item gives is masked like what decides that number", () => {
  // "masked": the rows come back with g masked; "refused": regate refuses it (the value is not sent either).
  const cases: [string, string, "masked" | "refused"][] = [
    ["a set-returning function's arguments", `SELECT g FROM generate_series(0, 999) g, LATERAL generate_series(1, ((g = ${ssnByte})::int)) s`, "masked"],
    ["a subquery's FETCH FIRST", `SELECT g FROM generate_series(0, 999) g, LATERAL (SELECT v.x FROM (VALUES (1)) v(x) FETCH FIRST ((g.g = ${ssnByte})::int) ROWS ONLY) s`, "masked"],
    ["the same, read with *, whose columns are not known: refused", `SELECT g FROM generate_series(0, 999) g, LATERAL (SELECT * FROM generate_series(1, 1) h FETCH FIRST ((g = ${ssnByte})::int) ROWS ONLY) s`, "refused"],
    ["a subquery's TABLESAMPLE percentage", `SELECT g FROM generate_series(0, 999) g, LATERAL (SELECT 1 FROM orders TABLESAMPLE BERNOULLI (((g = ${ssnByte})::int) * 100) LIMIT 1) s`, "masked"],
  ];
  it.each(cases)("%s: %s", async (_name, sql, outcome) => {
    const direct = await db.query(sql);
    expect(direct).toEqual([{ g: 54 }]);
    const out = await attemptOn(agent, sql);
    if (outcome === "refused") {
      expect(out.code).toBe("42501");
      expect(out.rows).toBeUndefined();
    } else {
      expect(out.code).toBeUndefined();
      expect(out.rows).toEqual([{ g: "****" }]);
    }
  });
});

describe("a LIMIT made of an outer value and a masked one relates them, as a WHERE does", () => {
  it("a correlated scalar subquery's LIMIT: the outer value it singles out is masked", async () => {
    const sql = `SELECT g.g, (SELECT v.x FROM (VALUES (1)) v(x) LIMIT (g.g = ${ssnByte})::int) AS y FROM generate_series(0, 999) g WHERE g.g BETWEEN 53 AND 55`;
    expect(await db.query(sql)).toEqual([{ g: 53, y: null }, { g: 54, y: 1 }, { g: 55, y: null }]);
    const out = await attemptOn(agent, sql);
    expect(out.code).toBeUndefined();
    expect(out.rows).toEqual([{ g: "****", y: null }, { g: "****", y: "****" }, { g: "****", y: null }]);
  });
});

describe("must-allow: LATERAL items sized by one value", () => {
  it("generate_series over an order's own amount, and a subquery with a constant LIMIT", async () => {
    const a = await attemptOn(agent, "SELECT o.id, s FROM orders o, LATERAL generate_series(1, 2) s WHERE o.id = 1 ORDER BY s");
    expect(a.rows).toEqual([{ id: 1, s: 1 }, { id: 1, s: 2 }]);
    const b = await attemptOn(agent, "SELECT o.id, p.id AS pid FROM orders o, LATERAL (SELECT id FROM payments WHERE order_id = o.id ORDER BY id LIMIT 1) p WHERE o.id = 1");
    expect(b.code).toBeUndefined();
    expect(b.rows![0]!["id"]).toBe(1);
    expect(typeof b.rows![0]!["pid"]).toBe("number");
    const c = await attemptOn(agent, "SELECT o.id, (SELECT p.id FROM payments p WHERE p.order_id = o.id ORDER BY p.id LIMIT 1) AS pid FROM orders o WHERE o.id = 1");
    expect(c.rows).toEqual([{ id: 1, pid: 1 }]);
  });
});
