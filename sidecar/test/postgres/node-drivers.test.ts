import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function withClient<T>(fn: (c: pg.Client) => Promise<T>, url = regate.url()): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function sqlstate(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

const orderCount = async () => Number((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n);

describe("node-postgres through regate", () => {
  it("returns allowed rows, simple and extended protocol", async () => {
    await withClient(async (c) => {
      const simple = await c.query("SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3");
      expect(simple.rows.map((r) => r.id)).toEqual([1, 2, 3]);
      const direct = await db.query("SELECT full_name FROM public.customers WHERE id = 2");
      const ext = await c.query("SELECT id, full_name FROM public.customers WHERE id = $1", [2]);
      expect(ext.rows).toEqual([{ id: 2, full_name: direct[0].full_name }]);
    });
  });

  it("denies with 42501, runs nothing, and the session continues", async () => {
    const before = await orderCount();
    await withClient(async (c) => {
      const err = await c.query("DELETE FROM public.orders").catch((e: pg.DatabaseError) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as pg.DatabaseError).code).toBe("42501");
      expect((err as pg.DatabaseError).message).toContain("DELETE without WHERE is not allowed");
      expect((err as pg.DatabaseError).detail).toMatch(/^decision_id [0-9a-f-]{36}$/);
      const next = await c.query("SELECT count(*)::int AS n FROM public.orders");
      expect(next.rows[0].n).toBe(before);
      // Extended protocol denial, then the same connection keeps working.
      expect(await sqlstate(c.query("SELECT * FROM internal.api_keys WHERE id = $1", [1]))).toBe("42501");
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    });
    expect(await orderCount()).toBe(before);
  });

  it("a denial in a multi-statement query runs none of it", async () => {
    const before = await orderCount();
    await withClient(async (c) => {
      expect(await sqlstate(c.query("UPDATE public.orders SET status = 'paid' WHERE id = 1; DELETE FROM public.orders"))).toBe("42501");
    });
    expect(await orderCount()).toBe(before);
  });

  it("a denial inside BEGIN fails the transaction; ROLLBACK recovers", async () => {
    await withClient(async (c) => {
      await c.query("BEGIN");
      await c.query("SELECT 1");
      expect(await sqlstate(c.query("DELETE FROM public.orders"))).toBe("42501");
      expect(await sqlstate(c.query("SELECT 1"))).toBe("25P02");
      await c.query("ROLLBACK");
      expect((await c.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
    });
  });

  it("rolls back a write done earlier in the transaction when a later statement is denied", async () => {
    const [before] = await db.query("SELECT status FROM public.orders WHERE id = 5");
    const other = before.status === "refunded" ? "paid" : "refunded";
    await withClient(async (c) => {
      await c.query("BEGIN");
      await c.query(`UPDATE public.orders SET status = '${other}' WHERE id = 5`);
      expect(await sqlstate(c.query("DELETE FROM public.orders"))).toBe("42501");
      expect(await sqlstate(c.query("COMMIT"))).toBeUndefined();
    });
    const [row] = await db.query("SELECT status FROM public.orders WHERE id = 5");
    expect(row.status).toBe(before.status);
  });

  it("masks PII in text and binary result formats", async () => {
    const [raw] = await db.query(
      "SELECT id, email, ssn, card_number FROM public.customers WHERE ssn IS NOT NULL AND card_number IS NOT NULL AND phone IS NOT NULL ORDER BY id LIMIT 1",
    );
    const id = raw.id as number;
    await withClient(async (c) => {
      const text = await c.query(`SELECT id, email, ssn, card_number FROM public.customers WHERE id = ${id}`);
      const row = text.rows[0];
      expect(row.email).not.toBe(raw.email);
      expect(row.email).toMatch(/@/);
      expect(row.ssn).toBe("****");
      expect(row.card_number).toMatch(/^\*+\d{4}$/);
      expect(row.card_number.slice(-4)).toBe(raw.card_number.slice(-4));
      const bin = await c.query({ text: "SELECT id, email, ssn FROM public.customers WHERE id = $1", values: [id], binary: true });
      expect(bin.rows[0].id).toBe(id);
      expect(bin.rows[0].ssn).toBe("****");
      expect(bin.rows[0].email).toBe(row.email);
      const derived = await c.query(`SELECT lower(email) AS e, email || '' AS f, substr(ssn, 1, 3) AS s FROM public.customers WHERE id = ${id}`);
      expect(derived.rows[0].e).not.toBe(raw.email.toLowerCase());
      expect(derived.rows[0].s).toBe("****");
      const star = await c.query(`SELECT * FROM public.customers WHERE id = ${id}`);
      expect(star.rows[0].ssn).toBe("****");
      expect(star.rows[0].full_name).toBeTruthy();
    });
    expect(regate.logs()).not.toContain(raw.ssn);
    expect(regate.logs()).not.toContain(raw.card_number);
  });

  it("refuses a write to payments with approval required", async () => {
    await withClient(async (c) => {
      const err = await c.query("UPDATE public.payments SET status = 'refunded' WHERE id = 1").catch((e: pg.DatabaseError) => e);
      expect((err as pg.DatabaseError).code).toBe("42501");
      expect((err as pg.DatabaseError).message).toContain("approval required");
    });
    const [row] = await db.query("SELECT status FROM public.payments WHERE id = 1");
    expect(row.status).not.toBe("refunded");
  });

  it("rejects a wrong agent token and never shows the upstream password", async () => {
    const err = await withClient(async () => undefined, regate.url(AGENT.user, "wrong")).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as pg.DatabaseError).code).toBe("28P01");
    expect(regate.logs()).not.toContain(db.users.scram.password);
    expect(regate.logs()).not.toContain(AGENT.token);
  });

  it("writes one OPA-shaped decision log per decision", async () => {
    await withClient((c) => c.query("SELECT id FROM public.orders WHERE id = 3"));
    const log = regate.decisions().find((d) => d.input?.postgres?.statements?.[0]?.sql === "SELECT id FROM public.orders WHERE id = 3");
    expect(log).toBeDefined();
    expect(log!.type).toBe("openpolicyagent.org/decision_logs");
    expect(log!.path).toBe("regate/decision");
    expect(log!.bundles.regate.revision).toBeTruthy();
    expect(log!.result.allow).toBe(true);
    expect(log!.metrics.timer_rego_query_eval_ns).toBeGreaterThan(0);
    expect(log!.input.session.principal.subject).toBe(AGENT.user);
  });
});

describe("postgres.js through regate", () => {
  it("pipelines prepared statements; a denied one fails alone", async () => {
    const sql = postgres(regate.url(), { max: 1, prepare: true, onnotice: () => undefined });
    try {
      const before = await orderCount();
      const results = await Promise.allSettled([
        sql`SELECT id FROM public.orders WHERE id = ${1}`,
        sql`SELECT id FROM public.orders WHERE id = ${2}`,
        sql`DELETE FROM public.orders WHERE ${true}`,
        sql`SELECT id FROM public.orders WHERE id = ${4}`,
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      expect((results[3] as PromiseFulfilledResult<{ id: number }[]>).value[0]!.id).toBe(4);
      expect(((results[2] as PromiseRejectedResult).reason as { code: string }).code).toBe("42501");
      expect(await orderCount()).toBe(before);
      for (let i = 0; i < 20; i++) expect((await sql`SELECT id FROM public.orders WHERE id = ${(i % 5) + 1}`)[0]!.id).toBe((i % 5) + 1);
    } finally {
      await sql.end();
    }
  });

  it("rolls back sql.begin when a statement inside is denied", async () => {
    const sql = postgres(regate.url(), { max: 1, onnotice: () => undefined });
    try {
      const err = await sql
        .begin(async (tx) => {
          await tx`UPDATE public.orders SET status = 'shipped' WHERE id = 7`;
          await tx`DELETE FROM public.orders`;
        })
        .catch((e: { code: string }) => e);
      expect((err as { code: string }).code).toBe("42501");
      const [row] = await db.query("SELECT status FROM public.orders WHERE id = 7");
      expect(row.status).not.toBe("shipped");
    } finally {
      await sql.end();
    }
  });

  it("forwards a cancel to the upstream", async () => {
    const sql = postgres(regate.url(), { max: 1 });
    try {
      const q = sql`SELECT pg_sleep(20)`;
      const started = Date.now();
      const outcome = q.catch((e: { code: string }) => e);
      // Cancel once the statement is really running upstream (a cancel before that is a no-op in PostgreSQL).
      while ((await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)' AND state = 'active'"))[0].n === 0) {
        await new Promise((r) => setTimeout(r, 50));
      }
      q.cancel();
      expect(((await outcome) as { code: string }).code).toBe("57014");
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
