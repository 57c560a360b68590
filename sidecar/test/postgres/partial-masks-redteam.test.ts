// Findings of a red-team pass on `partial` masks, through regate with the example policy, judged by the bytes
// that reach the client. `partial` keeps a part of a value (a card's last four digits, an e-mail's domain, a
// text's first and last character) on the assumption that the value is the column's own. When the value is an
// expression the agent wrote, the agent chooses which part that is: `'0000' || substr(card_number, 1, 4)` puts
// the card's first four digits where `partial` keeps digits, and four such columns give the whole card number.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let raw: { id: number; email: string; card_number: string };
let payment: { id: number; card_number: string };

beforeAll(async () => {
  db = await startPostgres();
  [raw] = (await db.query("SELECT id, email, card_number FROM public.customers WHERE id = 2")) as (typeof raw)[];
  [payment] = (await db.query("SELECT id, card_number FROM public.payments WHERE id = 1")) as (typeof payment)[];
  await db.query(`CREATE VIEW public.card_view AS SELECT id, card_number, '0000' || substr(card_number, 1, 4) AS head FROM public.customers;
    GRANT SELECT ON public.card_view TO app_scram`);
  regate = await startRegate(db);
  agent = new pg.Client({ connectionString: regate.url() });
  agent.on("error", () => undefined);
  await agent.connect();
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

async function row(sql: string, values: unknown[] = []): Promise<Record<string, unknown>> {
  const r = await agent.query(sql, values);
  expect(r.rows).toHaveLength(1);
  return r.rows[0] as Record<string, unknown>;
}

/** The digits a row's values show, in column order. */
const shownDigits = (r: Record<string, unknown>) => Object.values(r).map((v) => String(v).replace(/\D/g, ""));

/** The value as it is in the database, for the proof that a probe does carry it. */
async function direct(sql: string): Promise<Record<string, unknown>> {
  return (await db.query(sql))[0] as Record<string, unknown>;
}

describe("partial keeps a part of the column's own value only", () => {
  const cardParts = (table: string, id: number) =>
    `SELECT '0000' || substr(card_number, 1, 4) AS a, '0000' || substr(card_number, 5, 4) AS b, '0000' || substr(card_number, 9, 4) AS c, card_number AS d FROM ${table} WHERE id = ${id}`;

  it("a card number is not rebuilt from four expressions that each put four of its digits last", async () => {
    const sql = cardParts("public.customers", 2);
    // Straight to the database: each column ends in four of the card's digits, in order.
    const d = await direct(sql);
    expect(Object.values(d).map((v) => String(v).slice(-4)).join("")).toBe(raw.card_number);
    const r = await row(sql);
    expect(shownDigits(r).join("")).not.toContain(raw.card_number.slice(0, 4));
    expect([r["a"], r["b"], r["c"]]).toEqual(["****", "****", "****"]);
    // The column itself keeps its promise: its last four digits.
    expect(String(r["d"]).endsWith(raw.card_number.slice(-4))).toBe(true);
  });

  it("the same for payments' card number", async () => {
    const r = await row(cardParts("public.payments", payment.id));
    expect([r["a"], r["b"], r["c"]]).toEqual(["****", "****", "****"]);
    expect(shownDigits(r).join("")).not.toContain(payment.card_number.slice(0, 8));
  });

  it("an e-mail's local part is not read one character at a time through the first character text keeps", async () => {
    const local = raw.email.split("@")[0]!;
    const cols = [...local].map((_, i) => `substr(email, ${i + 1}, 1) || 'xxxx' AS c${i}`).join(", ");
    const sql = `SELECT ${cols} FROM public.customers WHERE id = 2`;
    expect(Object.values(await direct(sql)).map((v) => String(v)[0]).join("")).toBe(local);
    const r = await row(sql);
    expect(Object.values(r).every((v) => v === "****")).toBe(true);
  });

  it("a cast that cuts the value is an expression too: varchar(n) ends in the n-th character", async () => {
    const r = await row("SELECT email::varchar(5) AS a, card_number::varchar(8) AS b FROM public.customers WHERE id = 2");
    expect(r).toEqual({ a: "****", b: "****" });
  });

  it("a value chosen by a masked column (related by WHERE) does not keep digits either", async () => {
    // g is 10000000 + the card's first four digits: partial would have kept them.
    const sql =
      "SELECT g FROM generate_series(10000000, 10009999) g, public.customers c WHERE c.id = 2 AND g - 10000000 = substr(c.card_number, 1, 4)::int";
    expect(String((await direct(sql))["g"]).slice(-4)).toBe(raw.card_number.slice(0, 4));
    expect(await row(sql)).toEqual({ g: "****" });
  });

  it("a set operation that mixes the column with an expression of it", async () => {
    const r = await agent.query(
      "SELECT card_number AS x FROM public.customers WHERE id = 2 UNION ALL SELECT '0000' || substr(card_number, 1, 4) FROM public.customers WHERE id = 2",
    );
    expect(r.rows).toEqual([{ x: "****" }, { x: "****" }]);
  });

  it("an expression in a view the database owner made", async () => {
    const r = await row("SELECT card_number, head FROM public.card_view WHERE id = 2");
    expect(r["head"]).toBe("****");
    expect(String(r["card_number"]).endsWith(raw.card_number.slice(-4))).toBe(true);
  });

  it("extended protocol with parameters, text and binary results", async () => {
    const text = await agent.query({ text: "SELECT '0000' || substr(card_number, $1, 4) AS a, card_number FROM public.customers WHERE id = $2", values: [1, 2] });
    expect(text.rows[0].a).toBe("****");
    const binary = await agent.query({ text: "SELECT '0000' || substr(card_number, $1, 4) AS a FROM public.customers WHERE id = $2", values: [5, 2], binary: true });
    expect(binary.rows[0].a).toBe("****");
  });
});

describe("must-allow: partial still shows what it promises of the column's own value", () => {
  it("plain, aliased, through a subquery, a CTE, a view and a join", async () => {
    const card = `${"*".repeat(12)}${raw.card_number.slice(-4)}`;
    const email = `***@${raw.email.split("@")[1]}`;
    expect(await row("SELECT email, card_number FROM public.customers WHERE id = 2")).toEqual({ email, card_number: card });
    expect(await row("SELECT c.email AS e, c.card_number AS k FROM public.customers c WHERE c.id = 2")).toEqual({ e: email, k: card });
    expect(await row("SELECT x.e FROM (SELECT email AS e FROM public.customers WHERE id = 2) x")).toEqual({ e: email });
    expect(await row("WITH x AS (SELECT card_number FROM public.customers WHERE id = 2) SELECT * FROM x")).toEqual({ card_number: card });
    expect(await row("SELECT card_number FROM public.card_view WHERE id = 2")).toEqual({ card_number: card });
    const o = await row("SELECT o.id, c.email FROM public.orders o JOIN public.customers c ON c.id = o.customer_id WHERE c.id = 2 ORDER BY o.id LIMIT 1");
    expect(o["email"]).toBe(email);
  });
});
