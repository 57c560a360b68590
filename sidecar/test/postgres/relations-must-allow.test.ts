// Reports and ORM queries over the demo schema, with bind parameters, through regate with the example policy:
// rows chosen by ids, by parameters (chosen by the agent, so constants for relations) and by constant filters
// on masked columns relate nothing masked to what is returned, so each returns exactly what the database does.
// (The rule they must not trip: a value related to a masked column by the rows chosen is masked, relate.ts.)
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { connectClient } from "../support/attempt.js";
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

// [statement, bind parameters]
const cases: [string, unknown[]][] = [
  ["SELECT c.id, count(o.id), sum(o.amount) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id ORDER BY 2 DESC LIMIT 10", []],
  ["SELECT c.id, c.full_name, count(o.id) AS n FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.full_name HAVING count(o.id) > 1 ORDER BY n DESC, c.id LIMIT 10", []],
  ["SELECT id, customer_id, amount, status, created_at FROM orders ORDER BY created_at, id LIMIT $1 OFFSET $2", [5, 10]],
  ["SELECT id, full_name, created_at FROM customers ORDER BY created_at, id LIMIT $1 OFFSET $2", [5, 10]],
  ["SELECT id, full_name FROM customers WHERE email = $1", ["mira.holm2@example.net"]],
  ["SELECT c.id, c.full_name FROM customers c WHERE c.email = $1", ["mira.holm2@example.net"]],
  ["SELECT id, full_name FROM customers WHERE ssn = $1", ["607-59-5353"]],
  ["SELECT id, full_name FROM customers WHERE ssn = $1 AND id = $2", ["607-59-5353", 2]],
  ["SELECT o.id, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1 ORDER BY o.id", ["mira.holm2@example.net"]],
  ["SELECT c.id, c.full_name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) ORDER BY c.id LIMIT 10", []],
  ["SELECT c.id, c.full_name FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 'refunded') ORDER BY c.id LIMIT 10", []],
  ["SELECT id, customer_id, amount, row_number() OVER (PARTITION BY customer_id ORDER BY created_at) AS rn FROM orders ORDER BY customer_id, rn LIMIT 20", []],
  ["SELECT id, customer_id, amount, sum(amount) OVER (PARTITION BY customer_id ORDER BY created_at, id) FROM orders ORDER BY id LIMIT 20", []],
  ["SELECT DISTINCT ON (customer_id) customer_id, id, amount, created_at FROM orders ORDER BY customer_id, created_at DESC LIMIT 20", []],
  ["SELECT id, full_name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE amount > 100) ORDER BY id LIMIT 10", []],
  ["SELECT id, full_name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE amount > $1) ORDER BY id LIMIT 10", [100]],
  ["SELECT count(*) FROM customers WHERE email LIKE '%@example.com'", []],
  ["SELECT count(*) FROM customers WHERE email LIKE $1", ["%@example.net"]],
  ["SELECT c.id, o.id, now() > o.created_at AS past, random() < 2 AS r FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY o.id LIMIT 5", []],
  ["SELECT c.id, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.created_at < now() ORDER BY o.id LIMIT 5", []],
  ["SELECT c.id, o.id FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY random() LIMIT 0", []],
  ["SELECT o.id, p.amount, p.status FROM orders o JOIN payments p ON p.order_id = o.id JOIN customers c ON c.id = o.customer_id WHERE c.id = $1 ORDER BY o.id, p.id", [2]],
  ["SELECT date_trunc('month', created_at) AS m, count(*), sum(amount) FROM orders GROUP BY 1 ORDER BY 1", []],
  ["SELECT status, count(*) FROM orders WHERE created_at >= $1 GROUP BY status ORDER BY status", ["2000-01-01"]],
  ["SELECT c.id, c.full_name, (SELECT max(o.created_at) FROM orders o WHERE o.customer_id = c.id) AS last_order FROM customers c ORDER BY c.id LIMIT 10", []],
  ["SELECT c.id, c.full_name FROM customers c WHERE c.id = ANY($1::int[]) ORDER BY c.id", [[1, 2, 3]]],
  ["SELECT count(*) AS total FROM (SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id) s", []],
  ["SELECT count(*) FROM customers WHERE ssn = $1", ["607-59-5353"]],
  ["SELECT count(*) FROM customers WHERE ssn IS NOT NULL", []],
  ["SELECT c.id FROM customers c WHERE lower(c.email) = lower($1)", ["MIRA.HOLM2@example.net"]],
  ["SELECT o.id, o.amount, o.amount * 100 / sum(o.amount) OVER () AS pct FROM orders o ORDER BY o.id LIMIT 5", []],
  ["SELECT o.customer_id, count(*) FILTER (WHERE o.status = 'paid') AS paid FROM orders o GROUP BY o.customer_id ORDER BY 1 LIMIT 5", []],
  ["SELECT p.id, p.amount FROM payments p WHERE p.card_number = $1", ["4017666519603147"]],
  ["SELECT c.id, p.id, p.amount FROM customers c JOIN orders o ON o.customer_id = c.id JOIN payments p ON p.order_id = o.id WHERE p.card_number = c.card_number ORDER BY p.id LIMIT 5", []],
];

describe("reports and ORM queries relate nothing masked and come back as the database returns them", () => {
  it.each(cases)("%s %j", async (sql, params) => {
    const r = await agent.query(sql, params);
    expect(r.rows).toEqual(await db.query(sql, params));
  });
});
