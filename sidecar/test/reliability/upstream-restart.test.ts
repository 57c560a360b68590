// Fault: the upstream PostgreSQL restarts (fast shutdown: every backend is cut) while agents are in the middle
// of a query and of a transaction. Judged by the clients' view (a clear error, no hang) and by the database
// (the open transaction left nothing behind, the committed one is all there), and regate serves new sessions
// once the server is back.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
const clients: pg.Client[] = [];

async function agent(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined); // the hang-up is asserted on the query, not as an unhandled event
  await c.connect();
  clients.push(c);
  return c;
}

/** `p`, or a rejection saying what hung: a hang must fail here, not at the test's timeout. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("upstream restart", () => {
  it("mid-query and mid-transaction: clear errors, nothing half-applied, new sessions work after", async () => {
    const marker = `restart-${Date.now()}`;
    const committed = await agent();
    await committed.query("INSERT INTO public.orders (customer_id, amount, status, created_at) VALUES (1, 1.00, 'pending', now())");
    await committed.query(`UPDATE public.orders SET status = 'paid' WHERE id = (SELECT max(id) FROM public.orders) AND status = 'pending'`);
    const before = Number((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n);

    const inQuery = await agent();
    const inTx = await agent();
    const idle = await agent();
    await inTx.query("BEGIN");
    await inTx.query(`INSERT INTO public.orders (customer_id, amount, status, created_at) VALUES (1, 77.70, 'pending', now())`);
    await inTx.query(`UPDATE public.orders SET status = 'cancelled' WHERE id = 1`);
    const running = rejection(inQuery.query(`SELECT pg_sleep(30), '${marker}' AS m`));
    // The sleep is running upstream before the server goes down.
    for (let i = 0; i < 100; i++) {
      const rows = await db.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active'", [`%${marker}%`]);
      if (rows.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const t0 = Date.now();
    await db.restart();

    const queryErr = await running;
    expect(Date.now() - t0).toBeLessThan(20_000);
    // The server's own FATAL (57P01 admin_shutdown) reaches the agent, or the connection ends: both say why.
    expect(queryErr.code === "57P01" || /terminat|shut ?down|Connection/i.test(queryErr.message)).toBe(true);
    const commitErr = await rejection(inTx.query("COMMIT"));
    expect(commitErr.message).toMatch(/terminat|shut ?down|Connection|not queryable/i);
    const idleErr = await rejection(idle.query("SELECT 1"));
    expect(idleErr.message).toMatch(/terminat|shut ?down|Connection|not queryable/i);

    // Nothing of the open transaction is left; the committed writes are all there.
    expect(Number((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n)).toBe(before);
    expect((await db.query("SELECT count(*)::int AS n FROM public.orders WHERE amount = 77.70"))[0].n).toBe(0);
    expect((await db.query("SELECT status FROM public.orders WHERE id = 1"))[0].status).not.toBe("cancelled");

    // New sessions through the same regate work, and the policy still holds.
    const fresh = await agent();
    // Regression: the catalog's own upstream connection, closed by the restart, was reused and every
    // statement that needed a catalog lookup waited for ever.
    await expect(within(10_000, "first query after restart", fresh.query("SELECT count(*)::int AS n FROM public.orders"))).resolves.toMatchObject({ rows: [{ n: before }] });
    const refused = await rejection(within(10_000, "refusal after restart", fresh.query("SELECT * FROM internal.api_keys")));
    expect(refused.code).toBe("42501");
    expect(regate.logs()).not.toMatch(/"level":(50|60)|"level":"(error|fatal)"/);
    expect(regate.logs()).not.toMatch(/TypeError|RangeError|"code":"INTERNAL"/);
  }, 90_000);

  it("one backend terminated mid-query: only that session ends, the others carry on", async () => {
    const victim = await agent();
    const other = await agent();
    const pid = Number((await victim.query("SELECT pg_backend_pid() AS pid")).rows[0].pid);
    const running = rejection(victim.query("SELECT pg_sleep(30)"));
    await new Promise((r) => setTimeout(r, 300));
    await db.query("SELECT pg_terminate_backend($1)", [pid]);
    const err = await running;
    expect(err.code === "57P01" || /terminat/i.test(err.message)).toBe(true);
    await expect(other.query("SELECT 7 AS n")).resolves.toMatchObject({ rows: [{ n: 7 }] });
    const again = await agent();
    await expect(again.query("SELECT 8 AS n")).resolves.toMatchObject({ rows: [{ n: 8 }] });
  }, 60_000);
});
