// A write makes the server check the whole new row, and what it says when a check fails can quote columns the
// statement never named: the row of an inheritance child or partition of a table with masked columns (the
// error names the child, not the masked parent), or a value a CHECK or an index predicate cast and failed on
// (`invalid input syntax for type integer: "<an e-mail>"`). Judged by the bytes that reach the client, over
// the simple and extended protocols and a pipeline whose failing statement is not the first.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeNotice } from "../../src/postgres/protocol/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { msg, query, Raw, step, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { opaBuild } from "../policy/opa.js";

/** Lets the agent write anything; masks the personal columns of customers and cparts wherever they are touched. */
const REGO = `package regate

protected := {
	"customers": {"email": "partial", "phone": "redact", "ssn": "redact", "card_number": "partial"},
	"cparts": {"card": "partial"},
}

mask contains {"column": concat(".", ["public", t.name, c]), "strategy": m} if {
	some s in input.postgres.statements
	some t in s.tables
	some c, m in protected[t.name]
}

decision := {"allow": true, "deny": [], "mask": [m | some m in mask]}
`;

// Values no detector recognises: only regate's reading of the statement can keep them out of a text.
const VALUES = ["ann at trigger dot example", "vip at moreau dot example", "vip-phone-in-words", "SSN-VIP-NINE", "4111111111111113", "card-four-one-one", "lars at moreau dot example", "ask-for-extension-seven"];

let db: TestPostgres;
let custom: TestRegate;
let example: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  await db.query(`
    INSERT INTO public.customers (id, full_name, email, phone, ssn, card_number, created_at)
      VALUES (777001, 'Lars', 'lars at moreau dot example', 'ask-for-extension-seven', 'SSN-NINE', '4111111111111112', '2024-09-02');
    CREATE TABLE public.vip (tier text CHECK (tier <> 'x')) INHERITS (public.customers);
    INSERT INTO public.vip (id, full_name, email, phone, ssn, card_number, created_at, tier)
      VALUES (888001, 'Vip', 'vip at moreau dot example', 'vip-phone-in-words', 'SSN-VIP-NINE', '4111111111111113', now(), 'gold');
    CREATE TABLE public.cparts (id int, region text, card text, note text CHECK (note <> 'x')) PARTITION BY LIST (region);
    CREATE TABLE public.cparts_eu PARTITION OF public.cparts FOR VALUES IN ('eu');
    INSERT INTO public.cparts VALUES (1, 'eu', 'card-four-one-one', 'ok');
    ALTER TABLE public.customers ADD CONSTRAINT cast_chk CHECK (full_name <> 'zz' OR email::int > 0);
    CREATE INDEX cust_expr ON public.customers ((phone::int)) WHERE full_name = 'yy';
    GRANT ALL ON public.vip, public.cparts, public.cparts_eu TO app_scram;
    -- Code the database owner wrote, which regate never reads: shipping an order looks its customer's e-mail up.
    UPDATE public.customers SET email = 'ann at trigger dot example' WHERE id = (SELECT customer_id FROM public.orders WHERE id = 3);
    CREATE FUNCTION public.ship_check() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM (SELECT email::int FROM public.customers WHERE id = NEW.customer_id); RETURN NEW; END $$;
    CREATE TRIGGER ship_check BEFORE UPDATE ON public.orders FOR EACH ROW WHEN (NEW.status = 'shipped') EXECUTE FUNCTION public.ship_check()`);
  const bundle = join(mkdtempSync(join(tmpdir(), "regate-write-rows-")), "bundle.tar.gz");
  writeFileSync(bundle, opaBuild({ revision: "write-rows", rego: REGO }));
  custom = await startRegate(db, { policy: { bundle, watch_interval_ms: 0 } });
  example = await startRegate(db);
}, 120_000);

afterAll(async () => {
  await custom?.stop();
  await example?.stop();
  await db?.stop();
});

/** The error of `sql` (with `values`, over the extended protocol) as the agent reads it: every field. */
async function failure(regate: TestRegate, sql: string, values?: unknown[]): Promise<{ code?: string; message: string; detail?: string; text: string }> {
  const agent = new pg.Client({ connectionString: regate.url() });
  agent.on("error", () => undefined);
  await agent.connect();
  try {
    await agent.query(sql, values);
    throw new Error(`${sql} did not fail`);
  } catch (e) {
    const err = e as pg.DatabaseError;
    if (!err.code) throw e;
    // An Error's message is not enumerable: JSON.stringify alone would leave it out.
    return { code: err.code, message: err.message, detail: err.detail, text: JSON.stringify({ ...err, message: err.message }) };
  } finally {
    await agent.end().catch(() => undefined);
  }
}

/** Sends `sqls` as one pipeline (Parse/Bind/Execute each, one Sync) and returns the fields of each ErrorResponse. */
async function pipeline(regate: TestRegate, sqls: string[]): Promise<Record<string, string>[]> {
  const raw = await Raw.open(regate.url());
  try {
    raw.send(...sqls.flatMap((sql) => step(sql)), sync());
    const messages = await raw.readies(1);
    return messages.filter((m) => m.type === "E").map((m) => decodeNotice(m.body));
  } finally {
    raw.close();
  }
}

function expectNoValues(text: string): void {
  for (const v of VALUES) expect(text).not.toContain(v);
}

describe("a write to an inheritance child or partition of a table with masked columns", () => {
  it.each([
    ["a CHECK of the child (simple protocol)", "UPDATE vip SET tier = 'x' WHERE id = 888001", undefined, "23514"],
    ["a NOT NULL of the child (extended protocol, parameters)", "UPDATE public.vip SET created_at = $1 WHERE id = $2", [null, 888001], "23502"],
    ["a CHECK of a partition written directly", "UPDATE cparts_eu SET note = 'x' WHERE id = 1", undefined, "23514"],
    ["the partition constraint of a partition written directly", "UPDATE cparts_eu SET region = 'us' WHERE id = 1", undefined, "23514"],
  ] as const)("%s: the failing row is not quoted, the message stays", async (_name, sql, values, code) => {
    const r = await failure(custom, sql, values as unknown[] | undefined);
    expect(r.code).toBe(code);
    expectNoValues(r.text);
    expect(r.message).toMatch(/^(new row for relation|null value in column)/);
    expect(r.detail).not.toContain("Failing row contains");
  });

  it("in a pipeline whose first statement writes a table without masks", async () => {
    const errors = await pipeline(custom, ["UPDATE orders SET status = 'paid' WHERE id = 1", "UPDATE vip SET tier = 'x' WHERE id = 888001"]);
    expect(errors.map((e) => e["C"])).toEqual(["23514"]);
    expectNoValues(JSON.stringify(errors));
    expect(errors[0]?.["n"]).toBe("vip_tier_check");
  });
});

describe("a check the server makes of columns the write never named", () => {
  it.each([
    ["a CHECK that casts a masked column", "UPDATE customers SET full_name = 'zz' WHERE id = 777001"],
    ["an index predicate that makes the server cast a masked column", "UPDATE customers SET full_name = 'yy' WHERE id = 777001"],
  ])("%s: its text is withheld, its SQLSTATE stays", async (_name, sql) => {
    const r = await failure(custom, sql);
    expect(r.code).toBe("22P02");
    expectNoValues(r.text);
  });
});

describe("texts about the statement or session keep the server's words on a write to a masked table", () => {
  it("a write in a read-only transaction", async () => {
    const r = await failure(custom, "BEGIN READ ONLY; UPDATE customers SET full_name = 'Lars' WHERE id = 777001");
    expect(r.code).toBe("25006");
    expect(r.message).toBe("cannot execute UPDATE in a read-only transaction");
  });
});

describe("a text raised by code regate never read (a trigger)", () => {
  it("is withheld whole, though the statement writes only a table without masks (example policy)", async () => {
    const r = await failure(example, "UPDATE orders SET status = 'shipped' WHERE id = 3");
    expect(r.code).toBe("22P02");
    expectNoValues(r.text);
    expect(r.text).not.toContain("email::int");
  });
});

describe("writes to tables without masks keep the server's text (example policy)", () => {
  it("a CHECK failure of orders, not the first statement of a pipeline, keeps its message and failing row", async () => {
    const errors = await pipeline(example, ["UPDATE orders SET status = 'paid' WHERE id = 2", "UPDATE orders SET status = 'lost' WHERE id = 1"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.["M"]).toBe('new row for relation "orders" violates check constraint "orders_status_check"');
    expect(errors[0]?.["D"]).toMatch(/^Failing row contains \(1, \d+, [\d.]+, lost, /);
  });

  it("a foreign-key failure of an INSERT into orders keeps its key (extended protocol)", async () => {
    const r = await failure(example, "INSERT INTO orders (customer_id, amount, status, created_at) VALUES ($1, 1, 'paid', now())", [999999]);
    expect(r.code).toBe("23503");
    expect(r.detail).toBe('Key (customer_id)=(999999) is not present in table "customers".');
  });

  it("a cast error of a value the agent wrote into orders keeps its message", async () => {
    const r = await failure(example, "UPDATE orders SET amount = 'lots' WHERE id = 1");
    expect(r.code).toBe("22P02");
    expect(r.message).toBe('invalid input syntax for type numeric: "lots"');
  });

  it("a COPY FROM STDIN line the server cannot read keeps its message and COPY's context", async () => {
    const raw = await Raw.open(example.url());
    try {
      raw.send(query("COPY orders (customer_id, amount, status, created_at) FROM STDIN"));
      await raw.until((ms) => ms.some((m) => m.type === "G"));
      raw.send(msg("d", Buffer.from("1\tlots\tpaid\t2026-01-01\n")), msg("c", Buffer.alloc(0)));
      const error = (await raw.readies(1)).find((m) => m.type === "E");
      const fields = decodeNotice(error!.body);
      expect(fields["M"]).toBe('invalid input syntax for type numeric: "lots"');
      expect(fields["W"]).toBe('COPY orders, line 1, column amount: "lots"');
    } finally {
      raw.close();
    }
  });
});
