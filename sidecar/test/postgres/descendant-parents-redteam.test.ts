// Findings of a red-team pass, through regate with the example policy, judged by what the database did and by the
// bytes that reach the client.
//
// 1. A child of two parents (`INHERITS (orders, customers)`) holds rows of both: `DELETE FROM orders WHERE id = …`
//    deleted a customers row, `UPDATE orders SET created_at = …` changed one, and a child of orders and payments was
//    deleted without the payments approval. The parent's `descendants` were judged only by their schema.
// 2. The read side of the same: `SELECT email FROM contacts` returned, unmasked, the e-mail addresses of a child
//    of contacts and customers (their `email` columns are one column).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptOn, connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

const BOTH = { id: 888001, ssn: "999-88-7777", email: "two.parents@example.com" };
const PAID = { id: 888002, card: "4000123412341234" };
const CONTACT = { id: 888003, email: "second.parent@example.com" };

beforeAll(async () => {
  db = await startPostgres();
  // Made by the database owner: children of two parents, and a payment whose card the detectors would not spot.
  await db.query(`
    CREATE TABLE public.orders_and_customers () INHERITS (public.orders, public.customers);
    INSERT INTO public.orders_and_customers (id, customer_id, amount, status, created_at, full_name, email, ssn)
      VALUES (${BOTH.id}, 1, 3, 'pending', '2020-01-01', 'Two Parents', '${BOTH.email}', '${BOTH.ssn}');
    CREATE TABLE public.orders_and_payments () INHERITS (public.orders, public.payments);
    INSERT INTO public.orders_and_payments (id, customer_id, order_id, amount, status, created_at, card_number)
      VALUES (${PAID.id}, 1, 1, 3, 'refunded', '2020-01-01', '${PAID.card}');
    CREATE TABLE public.contacts (id int, email text);
    CREATE TABLE public.customers_v2 () INHERITS (public.customers, public.contacts);
    INSERT INTO public.customers_v2 (id, full_name, email, created_at) VALUES (${CONTACT.id}, 'Second Parent', '${CONTACT.email}', now());
    GRANT ALL ON public.orders_and_customers, public.orders_and_payments, public.contacts, public.customers_v2 TO app_scram`);
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("writing a parent changes its children's other parents' rows", () => {
  it("DELETE and UPDATE of orders that reach a customers row are refused, and the row stays", async () => {
    for (const sql of [`DELETE FROM orders WHERE id = ${BOTH.id}`, `UPDATE orders SET created_at = '1999-01-01' WHERE id = ${BOTH.id}`]) {
      const out = await attemptOn(agent, sql);
      expect(out.code, sql).toBe("42501");
      expect(out.message).toContain("writing public.customers is not allowed");
    }
    expect(await db.query(`SELECT created_at::date::text AS d FROM public.customers WHERE id = ${BOTH.id}`)).toEqual([{ d: "2020-01-01" }]);
  });

  it("a write of orders that reaches a payments row needs the payments approval", async () => {
    expect((await attemptOn(agent, `DELETE FROM orders WHERE id = ${PAID.id}`)).code).toBe("42501");
    const last = regate.decisions().findLast((d) => d["input"]?.postgres?.statements?.[0]?.sql === `DELETE FROM orders WHERE id = ${PAID.id}`)!;
    expect(last["result"].approve?.reason).toContain("writes to public.payments need approval");
    expect(await db.query(`SELECT count(*)::int AS n FROM public.payments WHERE id = ${PAID.id}`)).toEqual([{ n: 1 }]);
  });

  it("ONLY orders stays writable", async () => {
    expect(await attemptOn(agent, `UPDATE ONLY orders SET status = 'paid' WHERE id = 1`)).toEqual({ rows: [] });
    expect(await db.query(`SELECT status FROM ONLY public.orders WHERE id = 1`)).toEqual([{ status: "paid" }]);
  });
});

describe("reading a parent reads its children's other parents' columns", () => {
  it("a column shared with customers comes back masked as customers.email", async () => {
    expect(await db.query(`SELECT email FROM public.contacts WHERE id = ${CONTACT.id}`)).toEqual([{ email: CONTACT.email }]);
    expect((await attemptOn(agent, `SELECT id, email FROM contacts WHERE id = ${CONTACT.id}`)).rows).toEqual([{ id: CONTACT.id, email: "***@example.com" }]);
    expect((await attemptOn(agent, `SELECT c FROM contacts c WHERE id = ${CONTACT.id}`)).rows).toEqual([{ c: "****" }]);
    expect((await attemptOn(agent, `SELECT id, email FROM ONLY contacts`)).rows).toEqual([]);
  });

  it("orders' own columns stay readable", async () => {
    expect((await attemptOn(agent, `SELECT id, status FROM orders WHERE id = ${BOTH.id}`)).rows).toEqual([{ id: BOTH.id, status: "pending" }]);
  });
});
