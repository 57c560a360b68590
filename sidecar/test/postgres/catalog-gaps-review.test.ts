// A second look at the three catalog gaps closed together (per-backend statistics accessors, WITH HOLD cursors over
// masked columns, descendants of a table named without ONLY), through regate with the example policy against a real
// PostgreSQL, judged by what the database did and by the bytes that reached the agent. Refusals must hold on every
// path that reaches a child's rows; statements that reach none must run as the database answers them:
//  - an INSERT or COPY FROM into an inheritance parent puts rows into that table alone (only a partitioned table
//    routes them), and COPY of a table TO copies its own rows alone; none can say ONLY, so a refusal that tells the
//    agent to say ONLY left it no way on;
//  - pg_get_serial_sequence('orders', 'id') inside setval (Django's sequence reset) reads the table's catalog entry,
//    not its rows;
//  - another session's temporary child of a public table is skipped by PostgreSQL for every other session.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptOn, connectClient, directJson, type Outcome } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, query, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

const STALENESS_MS = 300;
const SECRET = "secret-parcel-3f9";
const SECRET_EVENT = "secret-event-71";
// Customer 2 in testdata/demo/seed.sql; get_byte's error prints the SSN's digits as one number.
const SSN_DIGITS = "607595353";
const ERRS_WITH_SSN = "SELECT get_byte('\\x00'::bytea, replace(ssn, '-', '')::int) FROM ONLY customers WHERE id = 2";
const VALUE_ERROR = "SELECT 'review-literal-42'::int";

beforeAll(async () => {
  db = await startPostgres();
  // Made by the database owner: a plain parent with a child in internal (and views over it), orders with an archive
  // child in internal, a partitioned table with one partition in internal, an odd-named schema, a foreign-table
  // child, and a chain seven levels deep whose last level is in internal.
  await db.query(`
    CREATE TABLE public.parcels (id int NOT NULL, label text);
    INSERT INTO public.parcels VALUES (1, 'public-parcel');
    CREATE TABLE internal.parcels_secret () INHERITS (public.parcels);
    INSERT INTO internal.parcels_secret VALUES (2, '${SECRET}');
    CREATE VIEW public.parcel_view AS SELECT id, label FROM public.parcels;
    CREATE VIEW public.parcel_sb WITH (security_barrier) AS SELECT id, label FROM public.parcels WHERE id > 0;
    CREATE TABLE internal.orders_archive () INHERITS (public.orders);
    INSERT INTO internal.orders_archive (id, customer_id, amount, status, created_at) VALUES (990001, 1, 9900.99, 'refunded', now());
    CREATE TABLE public.events (id int NOT NULL, at date NOT NULL, label text) PARTITION BY RANGE (at);
    CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE internal.events_2019 PARTITION OF public.events FOR VALUES FROM ('2019-01-01') TO ('2020-01-01');
    INSERT INTO public.events VALUES (1, '2024-02-02', 'pub-event'), (2, '2019-02-02', '${SECRET_EVENT}');
    CREATE TABLE public.plainp (id int NOT NULL, label text);
    INSERT INTO public.plainp VALUES (1, 'plain');
    CREATE SCHEMA "Odd ""Sch""";
    CREATE TABLE public.oddp (id int);
    CREATE TABLE "Odd ""Sch"""."Kid X" () INHERITS (public.oddp);
    CREATE FOREIGN DATA WRAPPER nohandler;
    CREATE SERVER nos FOREIGN DATA WRAPPER nohandler;
    CREATE TABLE public.ftp (id int);
    CREATE FOREIGN TABLE internal.ft_kid () INHERITS (public.ftp) SERVER nos;
    CREATE TABLE public.d0 (id int, label text);
    CREATE TABLE public.d1 () INHERITS (public.d0);
    CREATE TABLE public.d2 () INHERITS (public.d1);
    CREATE TABLE public.d3 () INHERITS (public.d2);
    CREATE TABLE public.d4 () INHERITS (public.d3);
    CREATE TABLE public.d5 () INHERITS (public.d4);
    CREATE TABLE public.d6 () INHERITS (public.d5);
    CREATE TABLE internal.d7 () INHERITS (public.d6);
    INSERT INTO internal.d7 VALUES (7, 'deep-secret');
    CREATE TABLE public.tparent (id int, label text);
    INSERT INTO public.tparent VALUES (1, 'tparent-row');
    CREATE TABLE public.reuse_t (id int, label text);
    INSERT INTO public.reuse_t VALUES (1, 'reuse-row');
    CREATE TABLE public.reuse_p (k int NOT NULL, label text) PARTITION BY LIST (k);
    CREATE TABLE public.reuse_p1 PARTITION OF public.reuse_p FOR VALUES IN (1);
    INSERT INTO public.reuse_p VALUES (1, 'reuse-p-row');
    CREATE TABLE internal.reuse_p2 (k int NOT NULL, label text);
    INSERT INTO internal.reuse_p2 VALUES (2, 'attached-secret');
    GRANT ALL ON ALL TABLES IN SCHEMA public, internal TO app_scram;
    GRANT USAGE ON SCHEMA "Odd ""Sch""" TO app_scram;
    GRANT ALL ON ALL TABLES IN SCHEMA "Odd ""Sch""" TO app_scram`);
  regate = await startRegate(db, { postgres: { catalog: { max_staleness_ms: STALENESS_MS } } });
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

const attempt = (sql: string | pg.QueryConfig, client = agent): Promise<Outcome> => attemptOn(client, sql);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The same statement as the upstream role, straight to the database. */
const direct = (sql: string): Promise<string> => directJson(db.url("app_scram"), sql);

/** Every byte the agent got for `parts`, up to the `idle`th ReadyForQuery that leaves the session idle, as text. */
async function rawRun(idle: number, ...parts: Buffer[]): Promise<string> {
  const raw = await Raw.open(regate.url());
  try {
    raw.send(...parts);
    await raw.until((m) => m.filter((x) => x.type === "Z" && x.body[0] === 0x49).length >= idle);
    return raw.messages.map((m) => `${m.type}:${m.body.toString("latin1")}`).join("\n");
  } finally {
    raw.close();
  }
}

function expectRefused(out: Outcome, sql: string, child: RegExp): void {
  expect(out.code, `${sql}: ${JSON.stringify(out)}`).toBe("42501");
  expect(out.message, sql).toMatch(child);
}

describe("every way of naming a parent without ONLY reaches its child: refused, nothing of it reaches the agent", () => {
  const reading: [string, RegExp][] = [
    ["SELECT label FROM public.parcels*", /internal\.parcels_secret/],
    ["TABLE public.parcels", /internal\.parcels_secret/],
    ["WITH c AS (SELECT label FROM public.parcels) SELECT * FROM c", /internal\.parcels_secret/],
    ["SELECT (SELECT string_agg(label, ',') FROM public.parcels) AS x", /internal\.parcels_secret/],
    ["SELECT x.label FROM (VALUES (1)) v(i), LATERAL (SELECT label FROM public.parcels WHERE id >= v.i) x", /internal\.parcels_secret/],
    ["SELECT label FROM public.plainp UNION ALL SELECT label FROM public.parcels", /internal\.parcels_secret/],
    ["SELECT label FROM public.parcel_view", /internal\.parcels_secret/],
    ["SELECT label FROM public.parcel_sb", /internal\.parcels_secret/],
    ["SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM public.parcels WHERE label LIKE 'secret%')", /internal\.parcels_secret/],
    ["UPDATE public.orders SET status = status FROM public.parcels p WHERE p.id = orders.id", /internal\.parcels_secret/],
    ["DELETE FROM public.orders USING public.parcels p WHERE p.id = orders.id AND false", /internal\.parcels_secret/],
    ["MERGE INTO public.parcels t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET label = t.label", /internal\.parcels_secret/],
    ["COPY (SELECT * FROM public.parcels) TO STDOUT", /internal\.parcels_secret/],
    ["SELECT count(*) FROM public.oddp", /Odd "Sch"\.Kid X/],
    ["SELECT count(*) FROM public.ftp", /internal\.ft_kid/],
    ["SELECT label FROM public.d0", /internal\.d7/],
    ["SELECT label FROM public.d3", /internal\.d7/],
    ["SELECT label FROM public.events", /internal\.events_2019/],
    ["UPDATE public.orders SET status = status WHERE id = 990001", /internal\.orders_archive/],
    ["DELETE FROM public.orders WHERE id = 990001", /internal\.orders_archive/],
    ["SELECT status FROM public.orders WHERE id = 990001", /internal\.orders_archive/],
    // A partitioned table routes what is put into it: this row would land in internal.events_2019.
    ["INSERT INTO public.events VALUES (3, '2019-03-03', 'x')", /internal\.events_2019/],
    ["COPY public.events FROM STDIN", /internal\.events_2019/],
  ];
  it.each(reading)("%s", async (sql, child) => {
    const out = await attempt(sql);
    expectRefused(out, sql, child);
    for (const secret of [SECRET, SECRET_EVENT, "deep-secret", "9900.99"]) expect(JSON.stringify(out)).not.toContain(secret);
  });

  it("the database does return the child's rows for those reads (the refusals are not idle)", async () => {
    expect(await direct("SELECT label FROM public.parcels*")).toContain(SECRET);
    expect(await direct("TABLE public.parcels")).toContain(SECRET);
    expect(await direct("SELECT label FROM public.parcel_sb")).toContain(SECRET);
    expect(await direct("SELECT label FROM public.d0")).toContain("deep-secret");
    expect(await direct("SELECT label FROM public.events")).toContain(SECRET_EVENT);
  });
});

describe("statements that reach no child's rows run as the database answers them", () => {
  it("an INSERT into a parent by plain inheritance puts its row there alone: allowed, and the child is untouched", async () => {
    const out = await attempt("INSERT INTO public.orders (customer_id, amount, status, created_at) VALUES (1, 4242.42, 'pending', now()) RETURNING amount");
    expect(out, JSON.stringify(out)).toEqual({ rows: [{ amount: "4242.42" }] });
    expect(await direct("SELECT count(*) AS n FROM ONLY public.orders WHERE amount = 4242.42")).toBe('[{"n":"1"}]');
    expect(await direct("SELECT count(*) AS n FROM internal.orders_archive")).toBe('[{"n":"1"}]');
  });

  it("an INSERT … ON CONFLICT into such a parent: allowed", async () => {
    const out = await attempt("INSERT INTO public.orders (id, customer_id, amount, status, created_at) VALUES (1, 1, 1, 'pending', now()) ON CONFLICT (id) DO NOTHING");
    expect(out, JSON.stringify(out)).toEqual({ rows: [] });
  });

  it("UPDATE ONLY and SELECT FROM ONLY the parent: allowed", async () => {
    expect(await attempt("UPDATE ONLY public.orders SET status = status WHERE id = 1")).toEqual({ rows: [] });
    expect(await attempt("SELECT id FROM ONLY public.parcels")).toEqual({ rows: [{ id: 1 }] });
  });

  it("COPY of a parent by plain inheritance TO STDOUT copies its own rows alone: allowed, byte for byte", async () => {
    const text = await rawRun(1, query("COPY public.parcels TO STDOUT"));
    expect(text).toContain("d:1\tpublic-parcel\n");
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("E:");
    const cols = await rawRun(1, query("COPY public.orders (id) TO STDOUT"));
    expect(cols).toContain("d:1\n");
    expect(cols).not.toContain("990001");
    expect(cols).not.toContain("E:");
  });

  it("setval(pg_get_serial_sequence('public.orders', 'id'), …) (Django's sequence reset): allowed", async () => {
    const out = await attempt("SELECT setval(pg_get_serial_sequence('public.orders', 'id'), (SELECT max(id) FROM ONLY public.orders)) > 0 AS ok");
    expect(out, JSON.stringify(out)).toEqual({ rows: [{ ok: true }] });
  });

  it("psql's \\d+ queries on a parent with children, pg_partition_tree and regclass names: allowed", async () => {
    const children = await attempt(
      "SELECT c.oid::pg_catalog.regclass::text AS c, c.relkind, i.inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i WHERE c.oid = i.inhrelid AND i.inhparent = 'public.events'::regclass ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text",
    );
    expect(children.code, JSON.stringify(children)).toBeUndefined();
    expect(children.rows!.map((r) => r["c"])).toEqual(["events_2024", "internal.events_2019"]);
    expect((await attempt("SELECT count(*)::int AS n FROM pg_partition_tree('public.events')")).rows).toEqual([{ n: 3 }]);
    expect((await attempt("SELECT pg_catalog.pg_get_partkeydef('public.events'::regclass) AS k")).rows).toEqual([{ k: "RANGE (at)" }]);
  });

  it("another session's temporary child of a public table: PostgreSQL skips it for this session, and so does regate", async () => {
    // The table's owner (a child needs its parent's owner), in a session of its own that stays open.
    const app = await connectClient(db.url());
    try {
      await app.query("CREATE TEMP TABLE tkid () INHERITS (public.tparent); INSERT INTO tkid VALUES (2, 'temp-child-row')");
      expect((await app.query("SELECT label FROM public.tparent ORDER BY id")).rows).toEqual([{ label: "tparent-row" }, { label: "temp-child-row" }]);
      expect(await direct("SELECT label FROM public.tparent")).toBe('[{"label":"tparent-row"}]');
      const out = await attempt("SELECT label FROM public.tparent");
      expect(out, JSON.stringify(out)).toEqual({ rows: [{ label: "tparent-row" }] });
    } finally {
      await app.end();
    }
  });
});

describe("a child attached or detached by another connection while the agent's prepared statement is cached", () => {
  it("plain inheritance: the named statement is refused within the staleness bound, and allowed again after NO INHERIT", async () => {
    const q = (v: number): pg.QueryConfig => ({ name: "review-reuse-t", text: "SELECT label FROM public.reuse_t WHERE id >= $1", values: [v] });
    for (let i = 0; i < 3; i++) expect(await attempt(q(0))).toEqual({ rows: [{ label: "reuse-row" }] });
    await db.query("CREATE TABLE internal.reuse_kid () INHERITS (public.reuse_t); INSERT INTO internal.reuse_kid VALUES (2, 'reuse-kid-secret'); GRANT ALL ON internal.reuse_kid TO app_scram");
    await sleep(STALENESS_MS * 2 + 200);
    const out = await attempt(q(0));
    expectRefused(out, "reuse_t", /internal\.reuse_kid/);
    expect(JSON.stringify(out)).not.toContain("reuse-kid-secret");
    await db.query("ALTER TABLE internal.reuse_kid NO INHERIT public.reuse_t");
    await sleep(STALENESS_MS * 2 + 200);
    expect(await attempt(q(0))).toEqual({ rows: [{ label: "reuse-row" }] });
  });

  it("partitions: ATTACH PARTITION of an internal table is seen, DETACH too", async () => {
    const q: pg.QueryConfig = { name: "review-reuse-p", text: "SELECT label FROM public.reuse_p WHERE k > $1 ORDER BY k", values: [0] };
    for (let i = 0; i < 3; i++) expect(await attempt(q)).toEqual({ rows: [{ label: "reuse-p-row" }] });
    await db.query("ALTER TABLE public.reuse_p ATTACH PARTITION internal.reuse_p2 FOR VALUES IN (2)");
    await sleep(STALENESS_MS * 2 + 200);
    const out = await attempt(q);
    expectRefused(out, "reuse_p", /internal\.reuse_p2/);
    expect(JSON.stringify(out)).not.toContain("attached-secret");
    await db.query("ALTER TABLE public.reuse_p DETACH PARTITION internal.reuse_p2");
    await sleep(STALENESS_MS * 2 + 200);
    expect(await attempt(q)).toEqual({ rows: [{ label: "reuse-p-row" }] });
  });
});

describe("a very wide partition tree does not stall regate", () => {
  it("2,000 partitions under public: read as the database answers, in bounded time, while another session goes on", async () => {
    await db.query(`
      CREATE TABLE public.wide (id int NOT NULL, v text) PARTITION BY RANGE (id);
      DO $$ BEGIN
        FOR i IN 0..1999 LOOP
          EXECUTE format('CREATE TABLE public.wide_%s PARTITION OF public.wide FOR VALUES FROM (%s) TO (%s)', i, i * 10, i * 10 + 10);
        END LOOP;
      END $$;
      INSERT INTO public.wide VALUES (5, 'five'), (19995, 'last');
      GRANT ALL ON ALL TABLES IN SCHEMA public TO app_scram`);
    const other = await connectClient(regate.url());
    try {
      const started = Date.now();
      const [wide, ping] = await Promise.all([attempt("SELECT v FROM public.wide ORDER BY id"), (async () => {
        const t0 = Date.now();
        await other.query("SELECT 1");
        return Date.now() - t0;
      })()]);
      const took = Date.now() - started;
      expect(wide, JSON.stringify(wide).slice(0, 300)).toEqual({ rows: [{ v: "five" }, { v: "last" }] });
      expect(took).toBeLessThan(5_000);
      expect(ping).toBeLessThan(2_000);
      const t1 = Date.now();
      for (let i = 0; i < 20; i++) await attempt(`SELECT v FROM public.wide WHERE id = ${i}`);
      expect(Date.now() - t1).toBeLessThan(5_000);
    } finally {
      await other.end();
    }
  }, 120_000);
});

describe("WITH HOLD cursors over masked columns: screened until idle, and no longer", () => {
  it("after the batch that kept the cursor ends, an unrelated error's text comes through unscreened", async () => {
    const text = await rawRun(2, parse(`DECLARE h CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}`), bind(), execute(), sync(), query(VALUE_ERROR));
    expect(text).not.toContain(SSN_DIGITS);
    expect(text).toContain('invalid input syntax for type integer: "review-literal-42"');
  });

  it("inside an explicit block: an error before COMMIT is screened; after ROLLBACK the next one is not", async () => {
    const raw = await Raw.open(regate.url());
    try {
      raw.send(query("BEGIN"), query("DECLARE k CURSOR WITH HOLD FOR SELECT ssn FROM ONLY customers WHERE id = 2"), query(VALUE_ERROR), query("ROLLBACK"), query(VALUE_ERROR));
      await raw.until((m) => m.filter((x) => x.type === "Z").length === 5);
      const errors = raw.messages.filter((m) => m.type === "E").map((m) => m.body.toString("latin1"));
      expect(errors).toHaveLength(2);
      expect(errors[0]).not.toContain("review-literal-42");
      expect(errors[1]).toContain('invalid input syntax for type integer: "review-literal-42"');
    } finally {
      raw.close();
    }
  });

  it("CLOSE of the cursor before COMMIT: the COMMIT runs nothing of it", async () => {
    const text = await rawRun(2, query(`BEGIN; DECLARE h CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}; CLOSE h; COMMIT`), query(VALUE_ERROR));
    expect(text).not.toContain(SSN_DIGITS);
    expect(text).toContain('invalid input syntax for type integer: "review-literal-42"');
  });

  const simple = [
    `DECLARE h CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}; SELECT 1`,
    `BEGIN; DECLARE h CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}; COMMIT`,
    `DECLARE h CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}`,
  ];
  it.each(simple)("simple Query %s: no value reaches the agent", async (sql) => {
    const text = await rawRun(1, query(sql));
    expect(text).toContain("2202E");
    expect(text).not.toContain(SSN_DIGITS);
  });

  it("a DECLARE in one Query and COMMIT in the next, pipelined: screened", async () => {
    const text = await rawRun(1, query("BEGIN"), query(`DECLARE h CURSOR WITH HOLD FOR ${ERRS_WITH_SSN}`), query("COMMIT"));
    expect(text).toContain("2202E");
    expect(text).not.toContain(SSN_DIGITS);
  });
});

describe("statistics accessors beyond pg_stat_get_backend_*: as PostgreSQL 18 answers the upstream role", () => {
  // What each gives a role without pg_read_all_stats: numbers, or nothing of another session's text.
  const harmless = [
    "SELECT count(*) >= 0 AS ok FROM pg_stat_get_progress_info('VACUUM')",
    "SELECT pg_blocking_pids(pg_backend_pid()) = '{}' AS ok",
    "SELECT pg_safe_snapshot_blocking_pids(pg_backend_pid()) = '{}' AS ok",
    "SELECT count(*) = 1 AS ok FROM pg_stat_get_wal_receiver() WHERE conninfo IS NULL",
    "SELECT count(*) = 1 AS ok FROM pg_stat_get_replication_slot('none')",
    "SELECT pg_backend_pid() > 0 AS ok",
    "SELECT current_database() IS NOT NULL AND current_user IS NOT NULL AND inet_server_port() IS NOT NULL AS ok",
  ];
  it.each(harmless)("%s: allowed", async (sql) => {
    expect(await attempt(sql)).toEqual({ rows: [{ ok: true }] });
  });

  const refused = ["SELECT * FROM pg_stat_get_subscription(NULL)", "SELECT * FROM pg_stat_get_wal_senders()", "SELECT * FROM pg_prepared_xacts"];
  it.each(refused)("%s: refused as exposing", async (sql) => {
    const out = await attempt(sql);
    expect(out.code, JSON.stringify(out)).toBe("42501");
  });

  it("pg_get_backend_memory_contexts(): the server's own permission error, unchanged", async () => {
    expect(await attempt("SELECT * FROM pg_get_backend_memory_contexts()")).toEqual({ code: "42501", message: "permission denied for function pg_get_backend_memory_contexts" });
  });
});
