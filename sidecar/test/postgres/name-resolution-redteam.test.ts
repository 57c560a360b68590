// Names regate's analysis reads one way and the server another. A view's body comes from pg_get_viewdef on
// regate's catalog connection, which leaves a name bare when that connection's search_path finds it; a
// search_path default of the upstream role (ALTER ROLE … SET search_path = internal, public) made
// `public.recent_orders AS SELECT … FROM internal.orders` print `FROM orders`, which regate then read as
// public.orders: the agent got internal.orders' rows. And a name a call looks up when it runs (`nextval('s'::text)`,
// pg_get_serial_sequence) was resolved under the path before the same statement's set_config(): `SELECT
// set_config('search_path', 'internal, public', false), setval('orders_id_seq'::text, 1)` was judged a write to
// public.orders' sequence and reset internal.orders_id_seq. Judged by the bytes the agent got and by what the
// database did.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { attemptOn, connectClient } from "../support/attempt.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
const SECRET = "internal-order-note-5c1e";

beforeAll(async () => {
  db = await startPostgres();
  // Set up by the database owner: internal.orders shares its name with public.orders, a view in public reads
  // it, and the upstream role (regate's, so its catalog connection's too) searches internal first.
  await db.query(`CREATE TABLE internal.orders (id serial, status text);
    INSERT INTO internal.orders VALUES (1, '${SECRET}');
    SELECT setval('internal.orders_id_seq', 900000);
    CREATE VIEW public.recent_orders AS SELECT id, status FROM internal.orders;
    CREATE VIEW public.order_statuses AS SELECT id, status FROM public.orders;
    GRANT USAGE ON SCHEMA internal TO app_scram;
    GRANT SELECT ON internal.orders, public.recent_orders, public.order_statuses TO app_scram;
    GRANT ALL ON internal.orders_id_seq TO app_scram;
    ALTER ROLE app_scram SET search_path = internal, public`);
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
  // The agent's own session started on the role's path; it chooses public alone, as it may.
  await agent.query("SET search_path = public");
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("a view's body is read with the names the server stored", () => {
  it.each([
    ["SELECT id, status FROM public.recent_orders"],
    ["SELECT * FROM recent_orders"],
    ["SELECT count(*) FROM recent_orders WHERE status <> ''"],
  ])("a view over internal.* is refused as internal.*, whatever the role's search_path: %s", async (sql) => {
    const out = await attemptOn(agent, sql);
    expect(JSON.stringify(out)).not.toContain(SECRET);
    expect(out.code).toBe("42501");
    expect(out.message).toContain("internal.* is never accessible");
  });

  it("a view over public.orders stays readable", async () => {
    const out = await attemptOn(agent, "SELECT id, status FROM order_statuses WHERE id = 1");
    expect(out.rows).toEqual([{ id: 1, status: expect.any(String) }]);
    expect(out.rows?.[0]?.status).not.toBe(SECRET);
  });
});

/** A fresh agent session on public alone (the role's default lists internal first). */
async function onPublic(): Promise<pg.Client> {
  const c = await connectClient(regate.url());
  await c.query("SET search_path = public");
  return c;
}

const internalSequence = async (): Promise<string> => (await db.query("SELECT last_value::text AS v FROM internal.orders_id_seq"))[0].v;

describe("a name looked up when the statement runs, beside its own set_config() of search_path", () => {
  it.each([
    ["SELECT set_config('search_path', 'internal, public', false) AS p, nextval('orders_id_seq'::text)"],
    ["SELECT set_config('search_path', 'internal, public', false) AS p, setval('orders_id_seq'::text, 1)"],
    ["SELECT set_config('search_path', 'internal, public', true) AS p, setval('orders_id_seq'::varchar::regclass, 1)"],
    ["SELECT set_config('search_path', 'internal, public', false) AS p, pg_sequence_last_value('orders_id_seq'::text::regclass)"],
    ["SELECT set_config('search_path', 'internal, public', false) AS p, setval(pg_get_serial_sequence('orders', 'id'), 7)"],
    ["SELECT nextval('orders_id_seq'::name) FROM (SELECT set_config('search_path', 'internal, public', false)) x"],
  ])("is refused, and internal.* is not touched: %s", async (sql) => {
    const before = await internalSequence();
    const c = await onPublic();
    try {
      const out = await attemptOn(c, sql);
      expect(out.code).toBe("42501");
      expect(out.message).toContain("send the set_config() as a statement of its own");
      expect(await internalSequence()).toBe(before);
      // The session goes on, on the path it had.
      expect((await c.query("SHOW search_path")).rows).toEqual([{ search_path: "public" }]);
    } finally {
      await c.end();
    }
  });

  it.each([
    // Looked up when the statement is parsed, before set_config() runs: public.orders' sequence, as analysed.
    ["SELECT set_config('search_path', 'public', false) AS p, nextval('orders_id_seq')"],
    ["SELECT set_config('search_path', 'internal, public', false) AS p, nextval('orders_id_seq'::regclass)"],
    // Named with its schema: no path decides it.
    ["SELECT set_config('search_path', 'public', false) AS p, nextval('public.orders_id_seq'::text)"],
    // No set_config(): the path is the one regate tracks.
    ["SELECT nextval('orders_id_seq'::text)"],
    ["SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))"],
  ])("stays allowed: %s", async (sql) => {
    const before = await internalSequence();
    const c = await onPublic();
    try {
      const out = await attemptOn(c, sql);
      expect(out.code).toBeUndefined();
      expect(out.rows).toHaveLength(1);
      expect(await internalSequence()).toBe(before);
    } finally {
      await c.end();
    }
  });
});
