// A write to a table with masked columns can fail on a constraint, and PostgreSQL's error then quotes the
// row it refused (`Failing row contains (...)`), a key (`Key (email)=(...)`) or a partition key: values of
// columns the statement never named, masked ones included. The agent gets the SQLSTATE and the names of the
// constraint, table and column, never the values. Judged by the bytes that reach the client.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { opaBuild } from "../policy/opa.js";

/** A policy that lets the agent change customers rows and masks their personal columns wherever customers is touched. */
const REGO = `package regate

masked := {"email": "partial", "phone": "redact", "ssn": "redact", "card_number": "partial"}

protected := {"customers": masked, "cards": {"number": "partial"}, "badges": {"code": "redact"}}

mask contains {"column": concat(".", ["public", t.name, c]), "strategy": m} if {
	some s in input.postgres.statements
	some t in s.tables
	some c, m in protected[t.name]
}

decision := {"allow": true, "deny": [], "mask": [m | some m in mask]}
`;

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let row: Record<string, string>;

beforeAll(async () => {
  db = await startPostgres();
  await db.query("ALTER TABLE public.customers ADD CONSTRAINT name_short CHECK (length(full_name) < 200)");
  await db.query("CREATE UNIQUE INDEX customers_phone_created ON public.customers (phone, created_at)");
  // Values no detector recognises (a card that fails the Luhn check, an e-mail written out): only the mask
  // rules protect them, so only regate's reading of the statement can keep them out of an error text.
  row = { id: "777001", email: "lars at moreau dot example", phone: "ask-for-extension-seven", ssn: "SSN-NINE-NINE-NINE", card_number: "4111111111111112" };
  await db.query(`INSERT INTO public.customers (id, full_name, email, phone, ssn, card_number, created_at)
    VALUES (${row.id}, 'Lars Moreau', '${row.email}', '${row.phone}', '${row.ssn}', '${row.card_number}', '2024-09-02')`);
  await db.query(`INSERT INTO public.customers (id, full_name, email, phone, created_at) VALUES (777002, 'Other', 'other at example', 'x', '2020-01-01')`);
  // A card kept with an order, its order cleared when the order goes (a NOT NULL the cascade then breaks),
  // and badges unique per owner and code, checked at COMMIT.
  await db.query(`
    CREATE TABLE public.cards (id int PRIMARY KEY, order_id int REFERENCES public.orders ON DELETE SET NULL, number text NOT NULL, CHECK (order_id IS NOT NULL));
    INSERT INTO public.orders (id, customer_id, amount, status, created_at) VALUES (777010, 1, 5, 'paid', now());
    INSERT INTO public.cards VALUES (1, 777010, '${row.card_number}');
    CREATE TABLE public.badges (id int PRIMARY KEY, owner text NOT NULL, code text NOT NULL, UNIQUE (owner, code) DEFERRABLE INITIALLY DEFERRED);
    INSERT INTO public.badges VALUES (1, 'ann', '${row.ssn}'), (2, 'bob', '${row.ssn}');
    GRANT ALL ON public.cards, public.badges TO app_scram`);
  const bundle = join(mkdtempSync(join(tmpdir(), "regate-write-errors-")), "bundle.tar.gz");
  writeFileSync(bundle, opaBuild({ revision: "write-errors", rego: REGO }));
  regate = await startRegate(db, { policy: { bundle, watch_interval_ms: 0 } });
  agent = new pg.Client({ connectionString: regate.url() });
  agent.on("error", () => undefined);
  await agent.connect();
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

/** Every text field of the error the client got, joined: what an agent can read. */
async function failure(sql: string, values?: unknown[]): Promise<{ code?: string; text: string }> {
  try {
    await agent.query(sql, values);
    return { text: "" };
  } catch (e) {
    const err = e as pg.DatabaseError;
    await agent.query("ROLLBACK").catch(() => undefined);
    return { code: err.code, text: [err.message, err.detail, err.hint, err.where, err.internalQuery, err.column, err.constraint, err.table].filter(Boolean).join(" | ") };
  }
}

function expectNoValues(text: string): void {
  for (const k of ["email", "phone", "ssn", "card_number"]) expect(text).not.toContain(row[k]);
}

describe("constraint errors of writes to a table with masked columns", () => {
  it("a NOT NULL violation does not quote the failing row; its message and names stay", async () => {
    const r = await failure(`UPDATE customers SET created_at = NULL WHERE id = ${row.id}`);
    expect(r.code).toBe("23502");
    expectNoValues(r.text);
    expect(r.text).toContain('null value in column "created_at" of relation "customers" violates not-null constraint');
    expect(r.text).not.toContain("Failing row contains");
  });

  it("a CHECK violation does not quote the failing row (simple and extended protocol)", async () => {
    for (const [sql, values] of [
      [`UPDATE customers SET full_name = repeat('x', 300) WHERE id = ${row.id}`, undefined],
      ["UPDATE customers SET full_name = repeat('x', $1) WHERE id = $2", [300, Number(row.id)]],
    ] as const) {
      const r = await failure(sql, values as unknown[] | undefined);
      expect(r.code).toBe("23514");
      expectNoValues(r.text);
      expect(r.text).toContain("name_short");
    }
  });

  it("a unique violation does not quote a masked key", async () => {
    const r = await failure(`UPDATE customers SET created_at = '2024-09-02', phone = (SELECT phone FROM customers WHERE id = ${row.id}) WHERE id = 777002`);
    expect(r.code).toBe("23505");
    expectNoValues(r.text);
  });

  it("an INSERT's failing row is not quoted when it copies masked values", async () => {
    const r = await failure(`INSERT INTO customers (full_name, email, phone, created_at) SELECT full_name, email || 'x', phone, NULL FROM customers WHERE id = ${row.id}`);
    expect(r.code).toBe("23502");
    expectNoValues(r.text);
  });

  it("a constraint a cascaded action breaks in another table does not quote that table's row", async () => {
    const r = await failure("DELETE FROM orders WHERE id = 777010");
    expect(r.code).toBe("23514");
    expectNoValues(r.text);
    expect(await db.query("SELECT count(*)::int AS n FROM public.orders WHERE id = 777010")).toEqual([{ n: 1 }]);
  });

  it("a deferred unique key checked at COMMIT does not quote the key", async () => {
    await agent.query("BEGIN");
    await agent.query("UPDATE badges SET owner = 'ann' WHERE id = 2");
    const r = await failure("COMMIT");
    expect(r.code).toBe("23505");
    expectNoValues(r.text);
    expect(r.text).toContain("badges_owner_code_key");
  });

  it("a key still referenced from another table is not quoted", async () => {
    await db.query(`INSERT INTO public.orders (id, customer_id, amount, status, created_at) VALUES (777011, ${row.id}, 1, 'paid', now())`);
    const r = await failure(`DELETE FROM customers WHERE id = ${row.id}`);
    expect(r.code).toBe("23503");
    expect(r.text).not.toContain(`(${row.id})`);
  });

  it("the session goes on, and an error of a write that touches no masked table keeps the server's text", async () => {
    const r = await failure("UPDATE orders SET status = 'lost' WHERE id = 1");
    expect(r.code).toBe("23514");
    expect(r.text).toContain("orders_status_check");
    expect(r.text).toContain("Failing row contains");
    const ok = await agent.query("SELECT count(*)::int AS n FROM customers");
    expect(ok.rows[0].n).toBeGreaterThan(0);
  });
});
