// Findings of a red-team pass, through regate with the example policy, judged by what the database did and by the
// bytes that reach the client.
//
// A rewrite rule the database owner made (`CREATE RULE ... AS ON UPDATE TO t DO INSTEAD UPDATE public.customers ...`,
// or DO ALSO, or ON INSERT / ON DELETE) makes a write of an innocuous table write another: `UPDATE orders_also SET
// status = 'paid' WHERE id = …` (a child of orders, writable as orders is) changed a customers row the policy never
// saw, and an error raised by a rule's action quoted a customer's e-mail address, which regate masks when read.
// Regate's facts did not follow rules. Now a statement that writes a relation with INSERT, UPDATE or DELETE rules is
// reported as not analysed and refused; reads, row locks, and writes through a parent (which fire no child's rules)
// are not.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptOn, connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

const VICTIM = { id: 777001, email: "rule.victim@example.com", phone: "+1-555-000-0001" };
/** Rows of the children of orders: one per table, all of the victim. */
const ALSO = 777101;
const INSTEAD = 777102;
const LEAK = 777103;
const LATE = 777104;
const STALENESS_MS = 300;

beforeAll(async () => {
  db = await startPostgres();
  // Made by the database owner: children of orders (the agent may write them as orders), each with rules that write customers.
  await db.query(`
    INSERT INTO public.customers (id, full_name, email, phone, created_at) VALUES (${VICTIM.id}, 'Rule Victim', '${VICTIM.email}', '${VICTIM.phone}', now());
    CREATE TABLE public.orders_also () INHERITS (public.orders);
    CREATE TABLE public.orders_instead () INHERITS (public.orders);
    CREATE TABLE public.orders_leak () INHERITS (public.orders);
    CREATE TABLE public.orders_late () INHERITS (public.orders);
    INSERT INTO public.orders_also (id, customer_id, amount, status, created_at) VALUES (${ALSO}, ${VICTIM.id}, 1, 'pending', now());
    INSERT INTO public.orders_instead (id, customer_id, amount, status, created_at) VALUES (${INSTEAD}, ${VICTIM.id}, 1, 'pending', now());
    INSERT INTO public.orders_leak (id, customer_id, amount, status, created_at) VALUES (${LEAK}, ${VICTIM.id}, 1, 'pending', now());
    INSERT INTO public.orders_late (id, customer_id, amount, status, created_at) VALUES (${LATE}, ${VICTIM.id}, 1, 'pending', now());
    CREATE RULE also_update AS ON UPDATE TO public.orders_also DO ALSO UPDATE public.customers SET phone = 'also ' || NEW.status WHERE id = NEW.customer_id;
    CREATE RULE also_delete AS ON DELETE TO public.orders_also DO ALSO UPDATE public.customers SET phone = 'deleted' WHERE id = OLD.customer_id;
    CREATE RULE instead_insert AS ON INSERT TO public.orders_instead DO INSTEAD UPDATE public.customers SET phone = 'inserted' WHERE id = NEW.customer_id;
    CREATE RULE instead_update AS ON UPDATE TO public.orders_instead DO INSTEAD UPDATE public.customers SET phone = 'instead' WHERE id = OLD.customer_id;
    CREATE RULE leak_update AS ON UPDATE TO public.orders_leak DO INSTEAD
      UPDATE public.customers SET phone = phone WHERE customers.id = OLD.customer_id AND customers.email::int = 0;
    CREATE VIEW public.v_orders_instead AS SELECT id, status FROM public.orders_instead;
    GRANT ALL ON public.orders_also, public.orders_instead, public.orders_leak, public.orders_late, public.v_orders_instead TO app_scram`);
  regate = await startRegate(db, { postgres: { catalog: { max_staleness_ms: STALENESS_MS } } });
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

async function victimPhone(): Promise<string> {
  const rows = (await db.query(`SELECT phone FROM public.customers WHERE id = ${VICTIM.id}`)) as { phone: string }[];
  return rows[0]!.phone;
}

describe("a write of a table with rewrite rules is refused, and the rules' actions do not run", () => {
  it.each([
    ["DO ALSO on UPDATE", `UPDATE orders_also SET status = 'paid' WHERE id = ${ALSO}`, "public.orders_also"],
    ["DO ALSO on DELETE", `DELETE FROM orders_also WHERE id = ${ALSO}`, "public.orders_also"],
    ["DO INSTEAD on UPDATE", `UPDATE orders_instead SET status = 'paid' WHERE id = ${INSTEAD}`, "public.orders_instead"],
    ["DO INSTEAD on INSERT", `INSERT INTO orders_instead (id, customer_id, amount, status, created_at) VALUES (777199, ${VICTIM.id}, 1, 'pending', now())`, "public.orders_instead"],
    ["in a WITH query", `WITH x AS (UPDATE orders_instead SET status = 'paid' WHERE id = ${INSTEAD} RETURNING id) SELECT count(*) FROM x`, "public.orders_instead"],
    ["through PREPARE and EXECUTE", `PREPARE up AS UPDATE orders_also SET status = 'paid' WHERE id = ${ALSO}; EXECUTE up`, "public.orders_also"],
    ["under EXPLAIN ANALYZE", `EXPLAIN ANALYZE UPDATE orders_also SET status = 'paid' WHERE id = ${ALSO}`, "public.orders_also"],
    ["schema-qualified", `UPDATE public.orders_also SET status = 'shipped' WHERE id = ${ALSO}`, "public.orders_also"],
  ])("%s", async (_, sql, table) => {
    const out = await attemptOn(agent, sql);
    expect(out.code, sql).toBe("42501");
    expect(out.message).toContain(`${table} has rewrite rules regate does not follow`);
    expect(await victimPhone()).toBe(VICTIM.phone);
  });

  it("as a prepared statement with parameters", async () => {
    const out = await attemptOn(agent, { text: "UPDATE orders_also SET status = $1 WHERE id = $2", values: ["paid", ALSO] });
    expect(out.code).toBe("42501");
    expect(await victimPhone()).toBe(VICTIM.phone);
  });

  it("an error the rule's action would raise does not reach the agent with a masked value in it", async () => {
    // Directly, the database's error quotes the address.
    const direct = await db.query(`UPDATE public.orders_leak SET status = 'paid' WHERE id = ${LEAK}`).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(direct).toContain(VICTIM.email);
    const out = await attemptOn(agent, `UPDATE orders_leak SET status = 'paid' WHERE id = ${LEAK}`);
    expect(out.code).toBe("42501");
    expect(out.message).toContain("public.orders_leak has rewrite rules regate does not follow");
    expect(out.message).not.toContain(VICTIM.email);
  });
});

// Must-allow: these pass with or without the fix (they guard against refusing too much). orders_instead's rules
// rewrite every INSERT and UPDATE the agent sends it, so its row is as the owner made it.
describe("what rules do not touch keeps working", () => {
  beforeAll(() => db.query(`UPDATE public.customers SET phone = '${VICTIM.phone}' WHERE id = ${VICTIM.id}`));

  it("reading a table with rules, locking its rows, and reading a view over it", async () => {
    expect((await attemptOn(agent, `SELECT id, status FROM orders_instead WHERE id = ${INSTEAD}`)).rows).toEqual([{ id: INSTEAD, status: "pending" }]);
    expect((await attemptOn(agent, `SELECT id, status FROM v_orders_instead WHERE id = ${INSTEAD}`)).rows).toEqual([{ id: INSTEAD, status: "pending" }]);
    await agent.query("BEGIN");
    try {
      expect((await attemptOn(agent, `SELECT id FROM orders_instead WHERE id = ${INSTEAD} FOR UPDATE`)).rows).toEqual([{ id: INSTEAD }]);
    } finally {
      await agent.query("ROLLBACK");
    }
  });

  it("writing orders, whose children's rules do not fire through it", async () => {
    expect(await attemptOn(agent, `UPDATE orders SET status = 'shipped' WHERE id = ${INSTEAD}`)).toEqual({ rows: [] });
    expect(await db.query(`SELECT status FROM public.orders_instead WHERE id = ${INSTEAD}`)).toEqual([{ status: "shipped" }]);
    expect(await attemptOn(agent, `UPDATE orders SET status = 'paid' WHERE id = 1`)).toEqual({ rows: [] });
    expect(await db.query(`SELECT status FROM ONLY public.orders WHERE id = 1`)).toEqual([{ status: "paid" }]);
    expect(await victimPhone()).toBe(VICTIM.phone);
  });
});

describe("a rule made after regate cached the table", () => {
  it("is seen once the cached entry is re-checked, and the write is refused from then on", async () => {
    const sql = `UPDATE orders_late SET status = 'paid' WHERE id = ${LATE}`;
    expect(await attemptOn(agent, sql)).toEqual({ rows: [] });
    await db.query(`CREATE RULE late_update AS ON UPDATE TO public.orders_late DO ALSO UPDATE public.customers SET phone = 'late' WHERE id = NEW.customer_id`);
    // Within max_staleness_ms regate may still decide on the entry it holds (the documented bound): try the same
    // statement until it is refused; a write that got through in that window is undone below.
    let refused: string | undefined;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      const out = await attemptOn(agent, sql);
      if (out.code) refused = `${out.code} ${out.message}`;
      else await new Promise((r) => setTimeout(r, STALENESS_MS / 4));
    }
    expect(refused).toContain("42501");
    expect(refused).toContain("public.orders_late has rewrite rules regate does not follow (late_update on update)");
    await db.query(`UPDATE public.customers SET phone = '${VICTIM.phone}' WHERE id = ${VICTIM.id}`);
    expect((await attemptOn(agent, sql)).code).toBe("42501");
    expect(await victimPhone()).toBe(VICTIM.phone);
  });
});
