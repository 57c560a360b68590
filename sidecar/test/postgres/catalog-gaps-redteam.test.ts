// Red team of three gaps docs/postgres-catalog.md listed, through regate with the example policy, judged by what
// the database did and by the bytes that reached the agent:
//  - per-backend statistics functions (pg_stat_get_backend_activity(int) and kin) show other sessions' query texts,
//    client addresses and wait states, as pg_stat_activity does, without any view;
//  - an error of a WITH HOLD cursor's query that arrives while no statement that read its columns is in flight
//    (the implicit transaction of the extended protocol ends in a later message);
//  - reading a parent table without ONLY returns the rows of its inheritance children and partitions, wherever the
//    database owner put them (internal.customers_secret INHERITS (public.customers)).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptOn, connectClient, directJson, type Outcome } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, query, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
/** Another session of the same upstream role (another agent, or the application), idle after a query with a literal. */
let other: pg.Client;

const STALENESS_MS = 300;
const OTHER_LITERAL = "other-session-literal-5c81e";
// Customer 2 in testdata/demo/seed.sql; get_byte's error prints the SSN's digits as one number.
const SSN_DIGITS = "607595353";
const ERRS_WITH_SSN = "SELECT get_byte('\\x00'::bytea, replace(ssn, '-', '')::int) FROM ONLY customers WHERE id = 2";
const SECRET_CHILD = { id: 9901, name: "Hidden Child Person", email: "hidden.child@example.org", note: "internal-note-77ad" };

beforeAll(async () => {
  db = await startPostgres();
  // Made by the database owner: a child of customers in the internal schema, a chain public -> internal under
  // orders, and partitioned tables whose partitions are in public only.
  await db.query(`
    CREATE TABLE internal.customers_secret (note text) INHERITS (public.customers);
    INSERT INTO internal.customers_secret (id, full_name, email, ssn, card_number, created_at, note)
      VALUES (${SECRET_CHILD.id}, '${SECRET_CHILD.name}', '${SECRET_CHILD.email}', '123-45-6789', '4111111111111111', now(), '${SECRET_CHILD.note}');
    CREATE TABLE public.shipments (id int NOT NULL, label text);
    CREATE TABLE public.shipments_archive () INHERITS (public.shipments);
    CREATE TABLE internal.shipments_secret () INHERITS (public.shipments_archive);
    INSERT INTO internal.shipments_secret VALUES (1, 'grandchild-secret-label');
    CREATE TABLE public.visits (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
    CREATE TABLE public.visits_2024 PARTITION OF public.visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    INSERT INTO public.visits VALUES (1, '2024-05-01');
    CREATE TABLE public.notes (id int NOT NULL, body text);
    INSERT INTO public.notes VALUES (1, 'plain note');
    CREATE VIEW public.customer_names AS SELECT id, full_name FROM public.customers;
    GRANT ALL ON internal.customers_secret, public.shipments, public.shipments_archive, internal.shipments_secret,
      public.visits, public.visits_2024, public.notes, public.customer_names TO app_scram`);
  regate = await startRegate(db, { postgres: { catalog: { max_staleness_ms: STALENESS_MS } } });
  agent = await connectClient(regate.url());
  other = await connectClient(db.url("app_scram"));
  await other.query(`SELECT '${OTHER_LITERAL}' AS x`);
}, 120_000);

afterAll(async () => {
  await other?.end().catch(() => undefined);
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

const attempt = (sql: string): Promise<Outcome> => attemptOn(agent, sql);

/** The same statement as the upstream role, straight to the database. */
const direct = (sql: string): Promise<string> => directJson(db.url("app_scram"), sql);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("per-backend statistics functions are data sources: other sessions' statements, addresses, wait states", () => {
  const exposing: [string, string | null][] = [
    ["SELECT pg_stat_get_backend_activity(s) FROM pg_stat_get_backend_idset() s", OTHER_LITERAL],
    ["SELECT pg_catalog.pg_stat_get_backend_activity(s) AS q FROM pg_catalog.pg_stat_get_backend_idset() s", OTHER_LITERAL],
    ["SELECT q FROM pg_stat_get_backend_idset() s, pg_stat_get_backend_activity(s) q", OTHER_LITERAL],
    ["SELECT string_agg(pg_stat_get_backend_activity(s), ',') FROM generate_series(1, 200) s", OTHER_LITERAL],
    ["SELECT pg_stat_get_backend_wait_event(s), pg_stat_get_backend_wait_event_type(s) FROM pg_stat_get_backend_idset() s", null],
    ["SELECT pg_stat_get_backend_client_addr(s) FROM pg_stat_get_backend_idset() s", null],
    ["SELECT * FROM pg_stat_get_backend_io(pg_backend_pid())", null],
  ];
  it.each(exposing)("%s: refused, none of it reaches the agent", async (sql, literal) => {
    if (literal) expect(await direct(sql)).toContain(literal);
    const out = await attempt(sql);
    expect(out.code, sql).toBe("42501");
    expect(out.message, JSON.stringify(out)).toMatch(/would expose data regate cannot see/);
    expect(JSON.stringify(out)).not.toContain(OTHER_LITERAL);
  });

  const harmless = [
    "SELECT pg_backend_pid() > 0 AS ok",
    "SELECT count(*) > 0 AS ok FROM pg_stat_get_backend_idset() s WHERE pg_stat_get_backend_pid(s) > 0",
    "SELECT count(*) > 0 AS ok FROM pg_stat_get_backend_idset() s WHERE pg_stat_get_backend_start(s) IS NOT NULL AND pg_stat_get_backend_dbid(s) IS NOT NULL",
    "SELECT count(*) >= 0 AS ok FROM pg_stat_user_tables WHERE relname = 'customers'",
    "SELECT count(*) > 0 AS ok FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
  ];
  it.each(harmless)("%s: allowed, as the database answers", async (sql) => {
    const got = await attempt(sql);
    expect(got, JSON.stringify(got)).toEqual({ rows: [{ ok: true }] });
  });
});

describe("an error of a WITH HOLD cursor's query with no statement that read it in flight", () => {
  const declare = `DECLARE h CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}`;

  /** Every byte the agent got, as text. */
  async function run(...parts: Buffer[]): Promise<string> {
    const raw = await Raw.open(regate.url());
    try {
      raw.send(...parts);
      // Up to the Sync's ReadyForQuery, idle: a Query inside the batch has one of its own.
      await raw.until((m) => m.at(-1)?.type === "Z" && m.at(-1)!.body[0] === 0x49);
      return raw.messages.map((m) => `${m.type}:${m.body.toString("latin1")}`).join("\n");
    } finally {
      raw.close();
    }
  }

  it("the batch's Sync commits and runs the query: screened", async () => {
    const text = await run(parse(declare), bind(), execute(), sync());
    expect(text).toContain("2202E");
    expect(text).not.toContain(SSN_DIGITS);
  });

  it("a simple Query inside the extended batch: whatever the server does, no value reaches the agent", async () => {
    // PostgreSQL 18 does not end the implicit transaction at such a Query (it reports "T"); nothing quotes the SSN.
    const text = await run(parse(declare), bind(), execute(), query("SELECT 1 AS one"), sync());
    expect(text).not.toContain(SSN_DIGITS);
  });

  it("an extended COMMIT in the same batch: screened", async () => {
    const text = await run(parse(declare), bind(), execute(), parse("COMMIT"), bind(), execute(), sync());
    expect(text).toContain("2202E");
    expect(text).not.toContain(SSN_DIGITS);
  });

  it("a WITH HOLD cursor over unmasked columns keeps the server's text", async () => {
    const text = await run(parse("DECLARE k CURSOR WITH HOLD FOR SELECT 1/(id - id) FROM orders WHERE id = 1"), bind(), execute(), parse("COMMIT"), bind(), execute(), sync());
    expect(text).toContain("division by zero");
  });
});

describe("reading a parent without ONLY reads its descendants, wherever they are", () => {
  it("a child of customers in internal: refused, with ONLY as the way on; ONLY is allowed", async () => {
    expect(await direct(`SELECT full_name FROM public.customers WHERE id = ${SECRET_CHILD.id}`)).toContain(SECRET_CHILD.name);
    for (const sql of [
      `SELECT full_name FROM customers WHERE id = ${SECRET_CHILD.id}`,
      `SELECT full_name FROM public.customers WHERE id = ${SECRET_CHILD.id}`,
      `SELECT count(*) FROM public.customers`,
      `SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = ${SECRET_CHILD.id}`,
      `SELECT full_name FROM customer_names WHERE id = ${SECRET_CHILD.id}`,
      `UPDATE public.customers SET full_name = full_name WHERE id = ${SECRET_CHILD.id}`,
    ]) {
      const out = await attempt(sql);
      expect(out.code, sql).toBe("42501");
      expect(out.message, sql).toMatch(/internal\.customers_secret/);
      expect(JSON.stringify(out)).not.toContain(SECRET_CHILD.name);
    }
    const only = await attempt(`SELECT id, full_name FROM ONLY public.customers WHERE id IN (1, ${SECRET_CHILD.id}) ORDER BY id`);
    expect(only.code).toBeUndefined();
    expect(only.rows!.map((r) => r["id"])).toEqual([1]);
  });

  it("the refusal names the child and says to use ONLY", async () => {
    const out = await attempt(`SELECT id FROM public.customers WHERE id = 1`);
    expect(out.code).toBe("42501");
    expect(out.message).toContain("reading public.customers without ONLY reads internal.customers_secret too");
    expect(out.message).toContain("name it FROM ONLY public.customers");
  });

  it("a grandchild in internal under a public child: refused through both", async () => {
    for (const sql of ["SELECT label FROM public.shipments", "SELECT label FROM public.shipments_archive"]) {
      const out = await attempt(sql);
      expect(out.code, sql).toBe("42501");
      expect(out.message, sql).toMatch(/internal\.shipments_secret/);
      expect(JSON.stringify(out)).not.toContain("grandchild-secret-label");
    }
  });

  it("partitions all in allowed schemas: read as the database answers", async () => {
    expect(await attempt("SELECT id FROM public.visits")).toEqual({ rows: [{ id: 1 }] });
    expect(await attempt("SELECT id FROM ONLY public.shipments")).toEqual({ rows: [] });
  });

  it("a child attached later by another connection is seen within the staleness bound, and its removal too", async () => {
    expect(await attempt("SELECT body FROM public.notes")).toEqual({ rows: [{ body: "plain note" }] });
    await db.query("CREATE TABLE internal.notes_secret () INHERITS (public.notes); INSERT INTO internal.notes_secret VALUES (2, 'late-secret-note'); GRANT ALL ON internal.notes_secret TO app_scram");
    await sleep(STALENESS_MS * 2 + 200);
    const out = await attempt("SELECT body FROM public.notes");
    expect(out.code).toBe("42501");
    expect(JSON.stringify(out)).not.toContain("late-secret-note");
    await db.query("ALTER TABLE internal.notes_secret NO INHERIT public.notes");
    await sleep(STALENESS_MS * 2 + 200);
    expect(await attempt("SELECT body FROM public.notes")).toEqual({ rows: [{ body: "plain note" }] });
  });
});
