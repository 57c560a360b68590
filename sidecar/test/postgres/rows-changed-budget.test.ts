// rows_changed_per_transaction: a bound on the rows one transaction inserts, updates or deletes, as PostgreSQL
// counts them (pg_stat_xact_user_tables), so that a DELETE or UPDATE whose WHERE restricts nothing in practice
// (`id > -1`, `id IN (SELECT id FROM t)`), a writable CTE, a function, a trigger or a cascade cannot change a
// whole table. Judged by what the database holds afterwards (read directly, not through regate) and by the
// SQLSTATE the client got; the policy allows everything, so every refusal here is the budget's.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clientGate } from "../clients/run.js";
import { opaBuild } from "../policy/opa.js";
import { connectClient, outcomeCode } from "../support/attempt.js";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, msg, parse, query, Raw, step, sync } from "../support/raw-pg.js";
import { startRegate, AGENT, type TestRegate } from "../support/regate.js";

const BOUND = 5;
const ROWS = 20;
const BULK = { user: "bulk-agent", token: "bulk-agent-token-91c2" };

let db: TestPostgres;
let bounded: TestRegate; // rows_changed_per_transaction: 5 (50 for BULK)
let unbounded: TestRegate; // the budget off

beforeAll(async () => {
  // Prepared transactions on: PREPARE TRANSACTION is a way to end a transaction behind a write.
  db = await startPostgres({ settings: { max_prepared_transactions: "4" } });
  await db.query(`
    CREATE TABLE public.rc_items (id int PRIMARY KEY, v int NOT NULL);
    CREATE TABLE public.rc_parent (id int PRIMARY KEY);
    CREATE TABLE public.rc_child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES public.rc_parent ON DELETE CASCADE);
    CREATE TABLE public.rc_trigger_src (id int);
    -- Code the database owner wrote, which regate never reads.
    CREATE FUNCTION public.rc_purge() RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE n bigint; BEGIN DELETE FROM public.rc_items; GET DIAGNOSTICS n = ROW_COUNT; RETURN n; END $$;
    CREATE FUNCTION public.rc_purge_sql() RETURNS void LANGUAGE sql AS $$ DELETE FROM public.rc_items $$;
    CREATE FUNCTION public.rc_purge_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN DELETE FROM public.rc_items; RETURN NEW; END $$;
    CREATE TRIGGER rc_purge AFTER INSERT ON public.rc_trigger_src FOR EACH ROW EXECUTE FUNCTION public.rc_purge_trigger();
    -- Code that says it changes nothing, or that a SELECT runs without naming it; each deletes every item.
    CREATE FUNCTION public.rc_stable() RETURNS bigint STABLE LANGUAGE plpgsql AS $$ BEGIN RETURN public.rc_purge(); END $$;
    CREATE FUNCTION public.rc_immutable() RETURNS bigint IMMUTABLE LANGUAGE sql AS $$ SELECT public.rc_purge() $$;
    CREATE FUNCTION public.rc_op(a int, b int) RETURNS bigint LANGUAGE sql AS $$ SELECT public.rc_purge() $$;
    CREATE OPERATOR public.### (leftarg = int, rightarg = int, function = public.rc_op);
    CREATE PROCEDURE public.rc_purge_commit() LANGUAGE plpgsql AS $$ BEGIN DELETE FROM public.rc_items; COMMIT; END $$;
    GRANT CREATE ON SCHEMA public TO ${db.users.scram.user};
    CREATE DOMAIN public.rc_dom AS int CHECK (public.rc_purge() >= 0);
    CREATE TYPE public.rc_t AS (x int);
    CREATE FUNCTION public.rc_cast(int) RETURNS public.rc_t LANGUAGE plpgsql AS $$ BEGIN PERFORM public.rc_purge(); RETURN ROW($1)::public.rc_t; END $$;
    CREATE CAST (int AS public.rc_t) WITH FUNCTION public.rc_cast(int);
    CREATE VIEW public.rc_view AS SELECT public.rc_purge() AS n;
    CREATE TABLE public.rc_rls (id int);
    INSERT INTO public.rc_rls VALUES (1);
    ALTER TABLE public.rc_rls ENABLE ROW LEVEL SECURITY;
    CREATE POLICY rc_purge ON public.rc_rls USING (public.rc_purge() >= 0);
    GRANT ALL ON public.rc_items, public.rc_parent, public.rc_child, public.rc_trigger_src, public.rc_view, public.rc_rls TO ${db.users.scram.user};
    GRANT EXECUTE ON FUNCTION public.rc_purge(), public.rc_purge_sql() TO ${db.users.scram.user}`);
  // A policy that allows everything: DELETE without WHERE, any table, any function.
  const allowAll = join(mkdtempSync(join(tmpdir(), "regate-rows-changed-")), "bundle.tar.gz");
  writeFileSync(allowAll, opaBuild({ revision: "allow-all" }));
  const tokens = [
    { subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } },
    { subject: BULK.user, groups: ["agents"], token: { value: BULK.token } },
  ];
  bounded = await startRegate(db, {
    policy: { bundle: allowAll, watch_interval_ms: 0 },
    agents: { tokens },
    postgres: { budgets: { rows_changed_per_transaction: BOUND, agents: { [BULK.user]: { rows_changed_per_transaction: 50 } } } },
  });
  unbounded = await startRegate(db, { policy: { bundle: allowAll, watch_interval_ms: 0 }, agents: { tokens } });
}, 120_000);

afterAll(async () => {
  await unbounded?.stop();
  await bounded?.stop();
  await db?.stop();
});

beforeEach(async () => {
  // A prepared transaction left by a failed test would hold its locks on the items for good.
  for (const { gid } of await db.query("SELECT gid FROM pg_prepared_xacts")) await db.query(`ROLLBACK PREPARED '${gid}'`);
  await db.query(`
    DROP TABLE IF EXISTS public.rc_new;
    DELETE FROM public.rc_items; DELETE FROM public.rc_child; DELETE FROM public.rc_parent; DELETE FROM public.rc_trigger_src;
    INSERT INTO public.rc_items SELECT g, g * 10 FROM generate_series(1, ${ROWS}) g;
    INSERT INTO public.rc_parent SELECT g FROM generate_series(1, 4) g;
    INSERT INTO public.rc_child SELECT p * 100 + c, p FROM generate_series(1, 4) p, generate_series(1, 5) c`);
});

/** Every item, as a digest: a refused write must leave it exactly as it was. */
const items = async (): Promise<string> => (await db.query("SELECT count(*) || ':' || coalesce(md5(string_agg(id || '=' || v, ',' ORDER BY id)), '') AS t FROM public.rc_items"))[0]!.t as string;
const count = async (table: string): Promise<number> => Number((await db.query(`SELECT count(*)::int AS n FROM public.${table}`))[0]!.n);

/** What a statement changes run directly, as PostgreSQL counts it inside the transaction (then rolled back). */
async function directChanges(sql: string, params: unknown[] = []): Promise<number> {
  // As the role regate logs in as: row-level security applies to it, not to the tables' owner.
  const c = await connectClient(db.url(db.users.scram.user));
  try {
    await c.query("BEGIN");
    await c.query(sql, params);
    const r = await c.query("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::int AS n FROM pg_stat_xact_user_tables");
    return r.rows[0].n as number;
  } finally {
    await c.query("ROLLBACK").catch(() => undefined);
    await c.end();
  }
}

async function agent(r: TestRegate = bounded, who = AGENT): Promise<pg.Client> {
  return connectClient(r.url(who.user, who.token));
}

async function failure(c: pg.Client, sql: string, params?: unknown[]): Promise<pg.DatabaseError | undefined> {
  return c.query(sql, params).then(
    () => undefined,
    (e: pg.DatabaseError) => e,
  );
}

/** Sessions left inside a transaction by regate (nothing may be: a wrap always ends). */
const idleInTransaction = async () =>
  Number((await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"))[0].n);

type Message = { type: string; body: Buffer };
const sqlstates = (ms: Message[]) => ms.filter((m) => m.type === "E").map((m) => /\0C([0-9A-Z]{5})\0/.exec(`\0${m.body.toString("latin1")}`)?.[1]);
const statuses = (ms: Message[]) => ms.filter((m) => m.type === "Z").map((m) => m.body.toString("latin1"));
const errorText = (ms: Message[]) => ms.filter((m) => m.type === "E").map((m) => m.body.toString("utf8")).join("\n");

// Each changes every item (or, for the cascade, 12 rows) when run directly; each is more than the bound.
const overBound: [string, string, unknown[]][] = [
  ["DELETE WHERE id > -1 (simple)", "DELETE FROM public.rc_items WHERE id > -1", []],
  ["DELETE WHERE id > a parameter bound to -1 (extended)", "DELETE FROM public.rc_items WHERE id > $1", [-1]],
  ["DELETE WHERE id IN (SELECT id FROM itself)", "DELETE FROM public.rc_items WHERE id IN (SELECT id FROM public.rc_items)", []],
  ["UPDATE of every row (extended)", "UPDATE public.rc_items SET v = v + 1 WHERE id > $1", [-1]],
  ["INSERT ... SELECT generate_series(1, 10)", "INSERT INTO public.rc_items SELECT 1000 + g, 0 FROM generate_series(1, 10) g", []],
  ["INSERT ... SELECT generate_series (extended)", "INSERT INTO public.rc_items SELECT 1000 + g, 0 FROM generate_series(1, $1::int) g", [10]],
  ["a data-modifying CTE", "WITH d AS (DELETE FROM public.rc_items RETURNING 1) SELECT count(*) FROM d", []],
  ["a plpgsql function that deletes", "SELECT public.rc_purge()", []],
  ["an SQL function that deletes (extended)", "SELECT public.rc_purge_sql() WHERE $1::int = 1", [1]],
  ["a trigger that deletes from another table", "INSERT INTO public.rc_trigger_src VALUES (1)", []],
  ["EXPLAIN ANALYZE of a DELETE", "EXPLAIN ANALYZE DELETE FROM public.rc_items WHERE id > -1", []],
  ["MERGE ... WHEN MATCHED THEN DELETE", "MERGE INTO public.rc_items i USING public.rc_items s ON i.id = s.id WHEN MATCHED THEN DELETE", []],
  ["PREPARE and EXECUTE of a DELETE in one Query", "PREPARE rc_del AS DELETE FROM public.rc_items WHERE id > -1; EXECUTE rc_del; DEALLOCATE rc_del", []],
];

describe("autocommit: a write past the bound is rolled back with 54000; the session goes on", () => {
  it.each(overBound)("%s", async (_name, sql, params) => {
    // What PostgreSQL counts for it directly: past the bound (so regate's count is the server's, not the tag's).
    expect(await directChanges(sql, params)).toBeGreaterThan(BOUND);
    const before = await items();
    const triggers = await count("rc_trigger_src");
    const c = await agent();
    try {
      const err = await failure(c, sql, params);
      expect(err?.code).toBe("54000");
      expect(err?.message).toContain("rows_changed_per_transaction");
      expect(err?.message).toContain("rolled back");
      expect(await items()).toBe(before);
      expect(await count("rc_trigger_src")).toBe(triggers);
      // The session goes on, in autocommit: a write within the bound commits.
      expect((await c.query("DELETE FROM public.rc_items WHERE id IN (1, 2, 3)")).rowCount).toBe(3);
      expect(await count("rc_items")).toBe(ROWS - 3);
      expect(await idleInTransaction()).toBe(0);
    } finally {
      await c.end();
    }
  });

  it("ON DELETE CASCADE children count: 2 parents with 5 children each are 12 rows", async () => {
    const sql = "DELETE FROM public.rc_parent WHERE id IN (1, 2)";
    expect(await directChanges(sql)).toBe(12);
    const c = await agent();
    try {
      const err = await failure(c, sql);
      expect(err?.code).toBe("54000");
      expect(err?.message).toContain("rows_changed_per_transaction");
      expect(await count("rc_parent")).toBe(4);
      expect(await count("rc_child")).toBe(20);
      // One parent without children is one row: committed.
      await db.query("INSERT INTO public.rc_parent VALUES (9)");
      expect((await c.query("DELETE FROM public.rc_parent WHERE id = 9")).rowCount).toBe(1);
      expect(await count("rc_parent")).toBe(4);
    } finally {
      await c.end();
    }
  });

  it("PREPARE of a DELETE, then EXECUTE past the bound → 54000; EXECUTE within it commits", async () => {
    const before = await items();
    const c = await agent();
    try {
      // PREPARE itself changes nothing: it is not refused.
      expect((await failure(c, "PREPARE rc_del2 (int) AS DELETE FROM public.rc_items WHERE id > $1"))?.message).toBeUndefined();
      const err = await failure(c, "EXECUTE rc_del2(-1)");
      expect(err?.code).toBe("54000");
      expect(await items()).toBe(before);
      expect((await c.query("EXECUTE rc_del2(17)")).rowCount).toBe(3);
      expect(await count("rc_items")).toBe(ROWS - 3);
    } finally {
      await c.end();
    }
  });

  it("CREATE TABLE AS of 10 rows → 54000; the table is not made", async () => {
    const sql = "CREATE TABLE public.rc_new AS SELECT g FROM generate_series(1, 10) g";
    expect(await directChanges(sql)).toBe(10);
    const c = await agent();
    try {
      expect((await failure(c, sql))?.code).toBe("54000");
      expect((await db.query("SELECT to_regclass('public.rc_new') AS t"))[0].t).toBeNull();
    } finally {
      await c.end();
    }
  });

  it("COPY FROM STDIN of 10 rows → 54000; nothing kept", async () => {
    const before = await items();
    const raw = await Raw.open(bounded.url());
    try {
      raw.send(query("COPY public.rc_items FROM STDIN"));
      await raw.until((ms) => ms.some((m) => m.type === "G"));
      const data = Array.from({ length: 10 }, (_, i) => msg("d", Buffer.from(`${1001 + i}\t0\n`)));
      raw.send(...data, msg("c", Buffer.alloc(0)));
      const got = await raw.readies(1);
      expect(sqlstates(got)).toEqual(["54000"]);
      expect(statuses(got)).toEqual(["I"]);
    } finally {
      raw.close();
    }
    expect(await items()).toBe(before);
  });

  it.each([
    ["CALL of a procedure that deletes and commits", "CALL public.rc_purge_commit()"],
    ["DO that deletes and commits", "DO $$ BEGIN DELETE FROM public.rc_items; COMMIT; END $$"],
  ])("%s cannot commit behind the count; nothing kept", async (_name, sql) => {
    const before = await items();
    const c = await agent();
    try {
      // Inside regate's wrap the server refuses the COMMIT (invalid transaction termination).
      expect((await failure(c, sql))?.code).toBe("2D000");
      expect(await items()).toBe(before);
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
    expect(await idleInTransaction()).toBe(0);
  });

  it("raw protocol: the refused wrap ends idle (Z 'I'), and the next Query runs", async () => {
    const before = await items();
    const raw = await Raw.open(bounded.url());
    try {
      raw.send(query("DELETE FROM public.rc_items WHERE id > -1"), query("SELECT count(*) FROM public.rc_items"));
      const got = await raw.readies(2);
      expect(sqlstates(got)).toEqual(["54000"]);
      expect(statuses(got)).toEqual(["I", "I"]);
      expect(got.filter((m) => m.type === "D").map((m) => m.body.subarray(6).toString("latin1"))).toEqual([String(ROWS)]);
      // An extended batch of two writes, each within the bound, together past it.
      raw.send(...step("DELETE FROM public.rc_items WHERE id <= 3"), ...step("DELETE FROM public.rc_items WHERE id BETWEEN 4 AND 6"), sync());
      const batch = await raw.readies(1);
      expect(sqlstates(batch)).toEqual(["54000"]);
      expect(statuses(batch)).toEqual(["I"]);
    } finally {
      raw.close();
    }
    expect(await items()).toBe(before);
  });
});

// Each deletes every item when run directly, yet reads as a SELECT of nothing that writes: a function declared
// STABLE or IMMUTABLE that calls a volatile one (PostgreSQL checks only the function's own statements), an
// operator, a domain's CHECK, a cast, a view and a row-level security policy that call one. The count is the server's, so it must see them.
const hidden: [string, string][] = [
  ["a STABLE function calling a volatile one", "SELECT public.rc_stable()"],
  ["an IMMUTABLE SQL function calling a volatile one", "SELECT public.rc_immutable()"],
  ["an operator whose function deletes", "SELECT 1 OPERATOR(public.###) 2"],
  ["a domain whose CHECK calls a deleting function", "SELECT 1::public.rc_dom"],
  ["a cast whose function deletes", "SELECT 1::public.rc_t"],
  ["a view whose column calls a deleting function", "SELECT * FROM public.rc_view"],
  ["a row-level security policy calling a deleting function", "SELECT * FROM public.rc_rls"],
];

describe("code a SELECT runs without saying so still counts", () => {
  it.each(hidden)("autocommit: %s → 54000; nothing kept", async (_name, sql) => {
    expect(await directChanges(sql)).toBe(ROWS);
    const before = await items();
    const c = await agent();
    try {
      const err = await failure(c, sql);
      expect(await items()).toBe(before);
      expect(err?.code).toBe("54000");
    } finally {
      await c.end();
    }
  });

  it.each(hidden)("in a block: %s, then COMMIT → nothing kept", async (_name, sql) => {
    const before = await items();
    const c = await agent();
    try {
      await c.query("BEGIN");
      await failure(c, sql);
      // A write within the bound after it: its count is the transaction's, not just its own.
      await failure(c, "DELETE FROM public.rc_items WHERE id = 100");
      await c.query("COMMIT");
    } finally {
      await c.end();
    }
    expect(await items()).toBe(before);
  });
});

describe("inside the client's block: past the bound the block fails", () => {
  it("BEGIN; 3 rows; 3 more (6 > 5) → 54000; then 25P02 until ROLLBACK; nothing kept", async () => {
    const before = await items();
    const c = await agent();
    try {
      await c.query("BEGIN");
      expect((await c.query("DELETE FROM public.rc_items WHERE id IN (1, 2, 3)")).rowCount).toBe(3);
      const err = await failure(c, "DELETE FROM public.rc_items WHERE id IN (4, 5, 6)");
      expect(err?.code).toBe("54000");
      expect(err?.message).toContain("rows_changed_per_transaction");
      expect(err?.message).toContain("ROLLBACK");
      expect((await failure(c, "SELECT 1"))?.code).toBe("25P02");
      // COMMIT of a failed block is a rollback too.
      expect((await c.query("COMMIT")).command).toBe("ROLLBACK");
      expect(await items()).toBe(before);
      expect((await c.query("SELECT count(*)::int AS n FROM public.rc_items")).rows).toEqual([{ n: ROWS }]);
    } finally {
      await c.end();
    }
  });

  it("extended protocol in a block: parameterized writes, then ROLLBACK; nothing kept", async () => {
    const before = await items();
    const c = await agent();
    try {
      await c.query("BEGIN");
      expect((await c.query("UPDATE public.rc_items SET v = 0 WHERE id <= $1", [4])).rowCount).toBe(4);
      const err = await failure(c, "INSERT INTO public.rc_items SELECT 1000 + g, 0 FROM generate_series(1, $1::int) g", [2]);
      expect(err?.code).toBe("54000");
      expect((await failure(c, "SELECT $1::int", [1]))?.code).toBe("25P02");
      await c.query("ROLLBACK");
      expect(await items()).toBe(before);
      expect((await c.query("SELECT $1::int AS n", [7])).rows).toEqual([{ n: 7 }]);
    } finally {
      await c.end();
    }
  });

  it("a function called in a block counts what it deleted", async () => {
    const before = await items();
    const c = await agent();
    try {
      await c.query("BEGIN");
      expect((await failure(c, "SELECT public.rc_purge()"))?.code).toBe("54000");
      await c.query("ROLLBACK");
    } finally {
      await c.end();
    }
    expect(await items()).toBe(before);
  });

  it("raw protocol: the block's ReadyForQuery says failed (E) after the cut, idle after ROLLBACK", async () => {
    const before = await items();
    const raw = await Raw.open(bounded.url());
    try {
      raw.send(query("BEGIN"), query("DELETE FROM public.rc_items WHERE id > 14"), query("SELECT 1"), query("ROLLBACK"), query("SELECT 2"));
      const got = await raw.readies(5);
      expect(sqlstates(got)).toEqual(["54000", "25P02"]);
      expect(statuses(got)).toEqual(["T", "E", "E", "I", "I"]);
    } finally {
      raw.close();
    }
    expect(await items()).toBe(before);
  });

  it("one Query of two writes in a block (3 + 3) → 54000; nothing kept", async () => {
    const before = await items();
    const raw = await Raw.open(bounded.url());
    try {
      raw.send(query("BEGIN"), query("DELETE FROM public.rc_items WHERE id <= 3; DELETE FROM public.rc_items WHERE id BETWEEN 4 AND 6"), query("COMMIT"));
      const got = await raw.readies(3);
      expect(sqlstates(got)).toEqual(["54000"]);
      expect(statuses(got)).toEqual(["T", "E", "I"]);
    } finally {
      raw.close();
    }
    expect(await items()).toBe(before);
  });

  it("a block opened by BEGIN inside the extended batch of its first write (as pgjdbc does) → 54000; COMMIT keeps nothing", async () => {
    const before = await items();
    const raw = await Raw.open(bounded.url());
    try {
      raw.send(...step("BEGIN"), ...step("DELETE FROM public.rc_items WHERE id > -1"), sync(), query("COMMIT"));
      const got = await raw.readies(2);
      expect(sqlstates(got)).toEqual(["54000"]);
      expect(statuses(got)).toEqual(["E", "I"]);
      // The same with the bound crossed by the block's second batch.
      raw.send(...step("BEGIN"), ...step("DELETE FROM public.rc_items WHERE id <= 3"), sync(), ...step("DELETE FROM public.rc_items WHERE id BETWEEN 4 AND 6"), sync(), query("COMMIT"));
      const second = await raw.readies(3);
      expect(sqlstates(second)).toEqual(["54000"]);
      expect(statuses(second)).toEqual(["T", "E", "I"]);
    } finally {
      raw.close();
    }
    expect(await items()).toBe(before);
  });

  it("must-allow: a block of 5 changes in several statements commits", async () => {
    const c = await agent();
    try {
      await c.query("BEGIN");
      await c.query("DELETE FROM public.rc_items WHERE id IN (1, 2)");
      await c.query("UPDATE public.rc_items SET v = -1 WHERE id = $1", [3]);
      await c.query("INSERT INTO public.rc_items VALUES (101, 0), (102, 0)");
      await c.query("COMMIT");
    } finally {
      await c.end();
    }
    expect(await count("rc_items")).toBe(ROWS);
    expect((await db.query("SELECT v FROM public.rc_items WHERE id = 3"))[0].v).toBe(-1);
    expect(Number((await db.query("SELECT count(*) AS n FROM public.rc_items WHERE id IN (1, 2)"))[0].n)).toBe(0);
  });

  it("must-allow: node-postgres pipelines BEGIN, writes and COMMIT; committed", async () => {
    const c = await agent();
    try {
      const r = await Promise.all([c.query("BEGIN"), c.query("DELETE FROM public.rc_items WHERE id = $1", [1]), c.query("DELETE FROM public.rc_items WHERE id IN (2, 3) RETURNING id"), c.query("COMMIT")]);
      expect(r[2].rows.map((x: { id: number }) => x.id).sort()).toEqual([2, 3]);
    } finally {
      await c.end();
    }
    expect(await count("rc_items")).toBe(ROWS - 3);
  });
});

describe("what cannot be counted is refused before it runs while the budget is set", () => {
  it("TRUNCATE → 0A000; nothing emptied; the session goes on", async () => {
    const before = await items();
    const c = await agent();
    try {
      const err = await failure(c, "TRUNCATE public.rc_items");
      expect(err?.code).toBe("0A000");
      expect(err?.message).toContain("rows_changed_per_transaction");
      expect(await items()).toBe(before);
      expect((await failure(c, "TRUNCATE public.rc_child, public.rc_parent"))?.code).toBe("0A000");
      expect(await count("rc_child")).toBe(20);
      expect((await c.query("SELECT count(*)::int AS n FROM public.rc_items")).rows).toEqual([{ n: ROWS }]);
    } finally {
      await c.end();
    }
    expect(bounded.logs()).toContain("TRUNCATE empties tables");
  });

  it.each([
    ["DELETE …; COMMIT", "DELETE FROM public.rc_items WHERE id = 1; COMMIT"],
    ["BEGIN; DELETE …", "BEGIN; DELETE FROM public.rc_items WHERE id = 1"],
    ["BEGIN; DELETE …; COMMIT", "BEGIN; DELETE FROM public.rc_items WHERE id > -1; COMMIT"],
    ["BEGIN; DELETE …; PREPARE TRANSACTION", "BEGIN; DELETE FROM public.rc_items WHERE id > -1; PREPARE TRANSACTION 'rc_q'"],
  ])("one Query mixing a write with transaction control (%s) → 0A000; nothing kept", async (_name, sql) => {
    const before = await items();
    const c = await agent();
    try {
      const err = await failure(c, sql);
      expect(err?.code).toBe("0A000");
      expect(err?.message).toContain("rows_changed_per_transaction");
      expect(await items()).toBe(before);
      // The session is usable and not left in a block.
      expect((await c.query("DELETE FROM public.rc_items WHERE id = 1")).rowCount).toBe(1);
      expect(await count("rc_items")).toBe(ROWS - 1);
    } finally {
      await c.end();
    }
  });

  it("in a block, a write and PREPARE TRANSACTION in one Query → 0A000; nothing prepared", async () => {
    const before = await items();
    const raw = await Raw.open(bounded.url());
    try {
      raw.send(query("BEGIN"), query("DELETE FROM public.rc_items WHERE id > -1; PREPARE TRANSACTION 'rc_p'"), query("ROLLBACK"));
      const got = await raw.readies(3);
      expect(sqlstates(got)).toEqual(["0A000"]);
    } finally {
      raw.close();
    }
    expect(await db.query("SELECT gid FROM pg_prepared_xacts")).toEqual([]);
    expect(await items()).toBe(before);
  });

  it("in a block, an extended batch of a write past the bound and PREPARE TRANSACTION → refused; nothing prepared", async () => {
    const before = await items();
    const raw = await Raw.open(bounded.url());
    try {
      raw.send(query("BEGIN"), ...step("DELETE FROM public.rc_items WHERE id > -1"), ...step("PREPARE TRANSACTION 'rc_b'"), sync(), query("ROLLBACK"));
      const got = await raw.readies(3);
      expect(sqlstates(got)).toEqual(["0A000"]);
    } finally {
      raw.close();
    }
    expect(await db.query("SELECT gid FROM pg_prepared_xacts")).toEqual([]);
    expect(await items()).toBe(before);
  });

  it.each(["COMMIT", "END", "ROLLBACK", "COMMIT AND CHAIN"])("an extended batch with a write then %s before Sync → refused; nothing kept", async (end) => {
    const before = await items();
    const raw = await Raw.open(bounded.url());
    try {
      raw.send(parse("DELETE FROM public.rc_items WHERE id > -1"), bind(), execute(), parse(end), bind(), execute(), sync());
      const got = await raw.readies(1);
      expect(sqlstates(got)).toEqual(["0A000"]);
      expect(errorText(got)).toContain("rows_changed_per_transaction");
      expect(statuses(got)).toEqual(["I"]);
      // The same in the client's own block.
      raw.send(query("BEGIN"), parse("DELETE FROM public.rc_items WHERE id = 1"), bind(), execute(), parse(end), bind(), execute(), sync(), query("ROLLBACK"));
      const inBlock = await raw.readies(3);
      expect(sqlstates(inBlock)).toEqual(["0A000"]);
      expect(await items()).toBe(before);
      // The session goes on.
      raw.send(query("DELETE FROM public.rc_items WHERE id = 2"));
      const next = await raw.readies(1);
      expect(sqlstates(next)).toEqual([]);
      expect(statuses(next)).toEqual(["I"]);
    } finally {
      raw.close();
    }
    expect(await count("rc_items")).toBe(ROWS - 1);
  });

  it("must-allow: a write then COMMIT in separate batches of a block commits", async () => {
    const raw = await Raw.open(bounded.url());
    try {
      raw.send(query("BEGIN"), parse("DELETE FROM public.rc_items WHERE id = 1"), bind(), execute(), sync(), ...step("COMMIT"), sync());
      const got = await raw.readies(3);
      expect(sqlstates(got)).toEqual([]);
      expect(statuses(got)).toEqual(["T", "T", "I"]);
    } finally {
      raw.close();
    }
    expect(await count("rc_items")).toBe(ROWS - 1);
  });
});

describe("must-allow under the budget", () => {
  it("SELECTs are unaffected: every row and value, simple and extended, in and out of a block", async () => {
    const c = await agent();
    try {
      const all = await c.query("SELECT id, v FROM public.rc_items ORDER BY id");
      expect(all.rows).toEqual(Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, v: (i + 1) * 10 })));
      expect(all.command).toBe("SELECT");
      expect((await c.query("SELECT g FROM generate_series(1, 1000) g")).rowCount).toBe(1000);
      expect((await c.query("SELECT v FROM public.rc_items WHERE id = $1", [7])).rows).toEqual([{ v: 70 }]);
      await c.query("BEGIN");
      expect((await c.query("SELECT count(*)::int AS n FROM public.rc_items")).rows).toEqual([{ n: ROWS }]);
      await c.query("COMMIT");
    } finally {
      await c.end();
    }
  });

  it.each([
    ["DELETE of exactly 5", "DELETE FROM public.rc_items WHERE id <= $1", [5], ROWS - 5],
    ["INSERT of exactly 5", "INSERT INTO public.rc_items SELECT 1000 + g, 0 FROM generate_series(1, $1::int) g", [5], ROWS + 5],
    ["a CTE deleting exactly 5", "WITH d AS (DELETE FROM public.rc_items WHERE id > 15 RETURNING 1) SELECT count(*) FROM d", [], ROWS - 5],
  ])("%s commits with its result", async (_name, sql, params, after) => {
    const c = await agent();
    try {
      await c.query(sql, params);
    } finally {
      await c.end();
    }
    expect(await count("rc_items")).toBe(after);
  });

  it("writes within the bound, one after another in one session, each commit (the count is per transaction)", async () => {
    const c = await agent();
    try {
      for (let i = 0; i < 5; i++) {
        expect(await outcomeCode(c, `DELETE FROM public.rc_items WHERE id IN (${i * 4 + 1}, ${i * 4 + 2}, ${i * 4 + 3}, ${i * 4 + 4})`)).toBe("ok");
      }
    } finally {
      await c.end();
    }
    expect(await count("rc_items")).toBe(0);
  });

  it("a per-agent bound (50) lets its agent delete every row", async () => {
    const c = await agent(bounded, BULK);
    try {
      expect((await c.query("DELETE FROM public.rc_items WHERE id > -1")).rowCount).toBe(ROWS);
    } finally {
      await c.end();
    }
    expect(await count("rc_items")).toBe(0);
  });

  it("with the budget off, nothing of this happens: every row deleted, TRUNCATE and DELETE; COMMIT run", async () => {
    const c = await agent(unbounded);
    try {
      expect((await c.query("DELETE FROM public.rc_items WHERE id > $1", [10])).rowCount).toBe(10);
      expect(await count("rc_items")).toBe(10);
      await c.query("DELETE FROM public.rc_items WHERE id = 1; COMMIT");
      expect(await count("rc_items")).toBe(9);
      await c.query("SELECT public.rc_purge()");
      expect(await count("rc_items")).toBe(0);
      await c.query("TRUNCATE public.rc_child");
      expect(await count("rc_child")).toBe(0);
    } finally {
      await c.end();
    }
  });
});

describe("other clients", () => {
  const psql = clientGate("psql");
  it.skipIf(psql.skip)(psql.title("psql: the DELETE of every row is refused, the next command in the session runs"), async () => {
    psql.require();
    const r = await exec("psql", [bounded.url(), "-X", "-v", "ON_ERROR_STOP=0", "-At", "-c", "DELETE FROM public.rc_items WHERE id > -1", "-c", "SELECT count(*) FROM public.rc_items"]);
    expect(r.stderr).toContain("rows_changed_per_transaction");
    expect(r.stdout.trim().split("\n").at(-1)).toBe(String(ROWS));
    expect(await count("rc_items")).toBe(ROWS);
  });
});
