// rows_changed_per_transaction (budget 5) against what the server's counters cannot see: a table that existed before
// the transaction, truncated, rewritten or dropped by a function, DO block or trigger (TRUNCATE as a statement is
// refused before it runs). The counters give no signal for these, and a TRUNCATE even clears the rows already
// counted on that table; regate's count compares the tables' relfilenodes with those at the transaction's base.
// Judged by what the database kept (read directly, not through regate) and by the SQLSTATE the client got, in
// autocommit and in the client's block (whose COMMIT then rolls back), over the simple and the extended protocol.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildAllowAllBundle } from "../reliability/support/bundles.js";
import { connectClient, outcomeCode } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  // Code the database owner wrote, which regate never reads. Each takes one int, so it can be bound as a parameter.
  await db.query(`
    CREATE TABLE public.rtt_src (id int);
    CREATE FUNCTION public.rtt_truncate(int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN TRUNCATE public.rtt; RETURN $1; END $$;
    CREATE FUNCTION public.rtt_truncate_caught(int) RETURNS int LANGUAGE plpgsql AS $$
      BEGIN BEGIN TRUNCATE public.rtt; EXCEPTION WHEN others THEN RAISE NOTICE 'caught'; END; RETURN $1; END $$;
    CREATE FUNCTION public.rtt_drop(int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN DROP TABLE public.rtt; RETURN $1; END $$;
    CREATE FUNCTION public.rtt_retype(int) RETURNS int LANGUAGE plpgsql AS $$
      BEGIN ALTER TABLE public.rtt ALTER COLUMN v TYPE text USING ''; RETURN $1; END $$;
    CREATE FUNCTION public.rtt_drop_column(int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE public.rtt DROP COLUMN v; RETURN $1; END $$;
    CREATE FUNCTION public.rtt_drop_column_caught(int) RETURNS int LANGUAGE plpgsql AS $$
      BEGIN BEGIN ALTER TABLE public.rtt DROP COLUMN v; EXCEPTION WHEN others THEN RAISE NOTICE 'caught'; END; RETURN $1; END $$;
    CREATE FUNCTION public.rtt_drop_domain(int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN DROP DOMAIN public.rtt_word CASCADE; RETURN $1; END $$;
    CREATE TYPE public.rtt_pair AS (a int, b text);
    CREATE TABLE public.rtt_pairs (p public.rtt_pair);
    INSERT INTO public.rtt_pairs SELECT ROW(g, 'x')::public.rtt_pair FROM generate_series(1, 20) g;
    ALTER TYPE public.rtt_pair OWNER TO ${db.users.scram.user};
    CREATE TABLE public.rtt_old (a int, b int);
    ALTER TABLE public.rtt_old DROP COLUMN b;
    CREATE FUNCTION public.rtt_delete_truncate(int) RETURNS int LANGUAGE plpgsql AS $$
      BEGIN DELETE FROM public.rtt WHERE id <= 3; TRUNCATE public.rtt; RETURN $1; END $$;
    CREATE FUNCTION public.rtt_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN TRUNCATE public.rtt; RETURN NULL; END $$;
    CREATE TRIGGER rtt_trigger AFTER INSERT ON public.rtt_src FOR EACH ROW EXECUTE FUNCTION public.rtt_trigger();
    CREATE TABLE public.rtt_deferred (id int);
    CREATE CONSTRAINT TRIGGER rtt_deferred AFTER INSERT ON public.rtt_deferred DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.rtt_trigger();
    CREATE FUNCTION public.rtt_scratch(int) RETURNS int LANGUAGE plpgsql AS $$
      BEGIN CREATE TEMP TABLE rtt_tmp (id int); INSERT INTO rtt_tmp SELECT generate_series(1, 3); TRUNCATE rtt_tmp; DROP TABLE rtt_tmp; RETURN $1; END $$;
    CREATE TABLE public.bench_accounts (aid int PRIMARY KEY, abalance int NOT NULL);
    CREATE TABLE public.bench_tellers (tid int PRIMARY KEY, tbalance int NOT NULL);
    CREATE TABLE public.bench_branches (bid int PRIMARY KEY, bbalance int NOT NULL);
    CREATE TABLE public.bench_history (tid int, bid int, aid int, delta int, mtime timestamp);
    INSERT INTO public.bench_accounts SELECT g, 0 FROM generate_series(1, 100) g;
    INSERT INTO public.bench_tellers SELECT g, 0 FROM generate_series(1, 10) g;
    INSERT INTO public.bench_branches VALUES (1, 0)`);
  regate = await startRegate(db, { policy: { bundle: buildAllowAllBundle("rows-changed-tables") }, postgres: { budgets: { rows_changed_per_transaction: 5 } } });
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

beforeEach(async () => {
  // Made again for each case: one that was not refused may have dropped it or changed its column. Owned by
  // regate's upstream role, so the agent may DROP and ALTER it.
  await db.query(`DROP TABLE IF EXISTS public.rtt, public.rtt_new, public.rtt_words; DROP DOMAIN IF EXISTS public.rtt_word; DELETE FROM public.rtt_src; DELETE FROM public.rtt_deferred;
    CREATE TABLE public.rtt (id int PRIMARY KEY, v text NOT NULL); INSERT INTO public.rtt SELECT g, 'x' FROM generate_series(1, 20) g;
    CREATE DOMAIN public.rtt_word AS text; ALTER DOMAIN public.rtt_word OWNER TO ${db.users.scram.user};
    CREATE TABLE public.rtt_words (id int, w public.rtt_word); INSERT INTO public.rtt_words SELECT g, 'x' FROM generate_series(1, 20) g;
    ALTER TABLE public.rtt OWNER TO ${db.users.scram.user}`);
});

/** What the database kept of rtt: "dropped", "column dropped", or its rows still 'x' and its column's type. */
async function kept(): Promise<string> {
  if ((await db.query("SELECT to_regclass('public.rtt') IS NULL AS gone"))[0].gone) return "dropped";
  const columns = "SELECT count(*)::int AS n FROM pg_attribute WHERE NOT attisdropped AND attnum > 0 AND (attrelid, attname) IN (('public.rtt'::regclass, 'v'), ('public.rtt_words'::regclass, 'w'))";
  if ((await db.query(columns))[0].n !== 2) return "column dropped";
  const r = (await db.query("SELECT count(*)::int AS n, (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.rtt'::regclass AND attname = 'v') AS t FROM public.rtt WHERE v = 'x'"))[0];
  return `${r.n} ${r.t}`;
}
const INTACT = "20 text";

type Mode = "autocommit, simple" | "autocommit, extended" | "block, simple" | "block, extended";
const MODES: Mode[] = ["autocommit, simple", "autocommit, extended", "block, simple", "block, extended"];

/** `sql` with $1 bound to 1 in the extended protocol (node-postgres with parameters), or with 1 in its text in the simple one. */
function statement(sql: string, mode: Mode): string | pg.QueryConfig {
  if (mode.endsWith("simple")) return sql.replaceAll("$1", "1");
  return { text: sql, values: sql.includes("$1") ? [1] : [], queryMode: "extended" };
}

/** Runs `sql` as `mode` says: the SQLSTATE it got, and in a block the COMMIT's outcome after it and the session's after that. */
async function attempt(sql: string, mode: Mode): Promise<string[]> {
  const c = await connectClient(regate.url());
  try {
    if (!mode.startsWith("block")) return [await outcomeCode(c, statement(sql, mode)), await outcomeCode(c, "SELECT 1")];
    // A COMMIT of a failed block is the server's ROLLBACK: no error, nothing kept.
    return [await outcomeCode(c, "BEGIN"), await outcomeCode(c, statement(sql, mode)), await outcomeCode(c, "COMMIT"), await outcomeCode(c, "SELECT 1")];
  } finally {
    await c.end();
  }
}
const refused = (mode: Mode) => (mode.startsWith("block") ? ["ok", "0A000", "ok", "ok"] : ["0A000", "ok"]);
const allowed = (mode: Mode) => (mode.startsWith("block") ? ["ok", "ok", "ok", "ok"] : ["ok", "ok"]);

const ATTACKS: [string, string][] = [
  ["a plpgsql function that TRUNCATEs", "SELECT public.rtt_truncate($1)"],
  ["a DO block that TRUNCATEs", "DO $$ BEGIN TRUNCATE public.rtt; END $$"],
  ["an AFTER INSERT trigger that TRUNCATEs, fired by a one-row INSERT", "INSERT INTO public.rtt_src VALUES ($1)"],
  ["a function that TRUNCATEs in an EXCEPTION block (a subtransaction it releases)", "SELECT public.rtt_truncate_caught($1)"],
  ["a function that DROPs the table", "SELECT public.rtt_drop($1)"],
  ["a function that rewrites the table (ALTER COLUMN TYPE ... USING '')", "SELECT public.rtt_retype($1)"],
  ["a function that DELETEs 3 rows (counted) then TRUNCATEs the table (its counters cleared)", "SELECT public.rtt_delete_truncate($1)"],
  ["a DROP TABLE statement", "DROP TABLE public.rtt"],
  ["a function that drops a column (no new storage: the column is only marked dropped)", "SELECT public.rtt_drop_column($1)"],
  ["a function that drops a column in an EXCEPTION block (a subtransaction it releases)", "SELECT public.rtt_drop_column_caught($1)"],
  ["an ALTER TABLE DROP COLUMN statement", "ALTER TABLE public.rtt DROP COLUMN v"],
  ["a function that drops a domain CASCADE, which drops the column of that type", "SELECT public.rtt_drop_domain($1)"],
];

describe("rows_changed_per_transaction: tables truncated, rewritten or dropped where no statement says so", () => {
  for (const [what, sql] of ATTACKS) {
    for (const mode of MODES) {
      it(`${mode}: ${what} → 0A000; every row kept`, async () => {
        expect(await attempt(sql, mode)).toEqual(refused(mode));
        expect(await kept()).toBe(INTACT);
      });
    }
  }

  // Fired at COMMIT, after the count that follows the INSERT: regate fires deferred triggers before its last count.
  for (const mode of MODES) {
    it(`${mode}: a deferred constraint trigger that TRUNCATEs at COMMIT → 0A000; every row kept`, async () => {
      const c = await connectClient(regate.url());
      const insert = statement("INSERT INTO public.rtt_deferred VALUES ($1)", mode);
      try {
        if (mode.startsWith("block")) {
          // A Query's COMMIT whose count failed is answered with that error and ReadyForQuery alone: the server's
          // "ROLLBACK" tag after it made node-postgres take the connection for broken.
          const steps = [await outcomeCode(c, "BEGIN"), await outcomeCode(c, insert), await outcomeCode(c, statement("COMMIT", mode)), await outcomeCode(c, "SELECT 1")];
          // An extended batch's COMMIT is skipped instead, and the block is left failed until the client rolls back.
          expect(steps).toEqual(["ok", "ok", "0A000", mode === "block, simple" ? "ok" : "25P02"]);
        } else {
          expect([await outcomeCode(c, insert), await outcomeCode(c, "SELECT 1")]).toEqual(["0A000", "ok"]);
        }
      } finally {
        await c.end();
      }
      expect(await kept()).toBe(INTACT);
    });
  }

  // A composite type's field lives in other tables' rows: dropping it empties that field of every row.
  for (const mode of MODES) {
    it(`${mode}: ALTER TYPE ... DROP ATTRIBUTE of a composite type a table's column holds → 0A000; every field kept`, async () => {
      expect(await attempt("ALTER TYPE public.rtt_pair DROP ATTRIBUTE b", mode)).toEqual(refused(mode));
      expect((await db.query("SELECT count(*)::int AS n FROM public.rtt_pairs WHERE (p).b = 'x'"))[0].n).toBe(20);
    });
  }

  it("the message says why and what to do instead", async () => {
    const c = await connectClient(regate.url());
    const e = await c.query("SELECT public.rtt_truncate(1)").then(() => undefined, (err: pg.DatabaseError) => err);
    await c.end();
    expect(e?.code).toBe("0A000");
    expect(e?.message).toMatch(/existed before this transaction and was truncated, rewritten .*, dropped or had a column dropped/);
    expect(e?.hint).toMatch(/DELETE the rows instead/);
  });

  // The base read fails when the block is already failed; saved by ROLLBACK TO SAVEPOINT, the block goes on with no
  // tables to compare with: regate cannot rule a TRUNCATE out, so it refuses.
  it("no base (its read failed in a failed block, then ROLLBACK TO SAVEPOINT): a function that TRUNCATEs → 0A000; every row kept", async () => {
    const c = await connectClient(regate.url());
    try {
      expect(await outcomeCode(c, "BEGIN")).toBe("ok");
      expect(await outcomeCode(c, "SAVEPOINT s")).toBe("ok");
      expect(await outcomeCode(c, "SET statement_timeout = 'soon'")).toBe("22023");
      expect(await outcomeCode(c, "SELECT public.rtt_truncate(1)")).toBe("25P02");
      expect(await outcomeCode(c, "ROLLBACK TO SAVEPOINT s")).toBe("ok");
      expect(await outcomeCode(c, "SELECT public.rtt_truncate(1)")).toBe("0A000");
      expect(await outcomeCode(c, "COMMIT")).toBe("ok");
    } finally {
      await c.end();
    }
    expect(await kept()).toBe(INTACT);
  });
});

describe("rows_changed_per_transaction: must-allow beside the tables' check", () => {
  const scratch: [string, string, () => Promise<string>][] = [
    ["a function that creates a TEMP table, inserts 3 rows, TRUNCATEs and drops it", "SELECT public.rtt_scratch($1)", kept],
    [
      "a DO block that creates a table, inserts 3 rows into it and TRUNCATEs it",
      "DO $$ BEGIN CREATE TABLE public.rtt_new (id int); INSERT INTO public.rtt_new SELECT generate_series(1, 3); TRUNCATE public.rtt_new; INSERT INTO public.rtt_new VALUES (1); END $$",
      async () => `${await kept()} / ${(await db.query("SELECT count(*)::int AS n FROM public.rtt_new"))[0].n}`,
    ],
    ["a DELETE of 2 rows and an UPDATE of 3", "WITH d AS (DELETE FROM public.rtt WHERE id > $1 + 17 RETURNING id) UPDATE public.rtt SET v = 'y' WHERE id <= 3", async () => kept()],
    ["CREATE INDEX on an existing table (its storage kept)", "CREATE INDEX rtt_v ON public.rtt (v)", kept],
    ["ALTER TABLE ADD COLUMN, nullable without a default (its storage kept)", "ALTER TABLE public.rtt ADD COLUMN extra int", kept],
    ["ALTER COLUMN SET DEFAULT on an existing table (its column's catalog row updated, nothing dropped)", "ALTER TABLE public.rtt ALTER COLUMN v SET DEFAULT 'y'", kept],
    [
      "a DO block that creates a table, then drops a column of it",
      "DO $$ BEGIN CREATE TABLE public.rtt_new (id int, gone int); INSERT INTO public.rtt_new VALUES (1, 1); ALTER TABLE public.rtt_new DROP COLUMN gone; END $$",
      async () => `${await kept()} / ${(await db.query("SELECT count(*)::int AS n FROM public.rtt_new"))[0].n}`,
    ],
  ];
  const expected = ["20 text", "20 text / 1", "15 text", "20 text", "20 text", "20 text", "20 text / 1"];
  scratch.forEach(([what, sql, judge], i) => {
    for (const mode of MODES) {
      it(`${mode}: ${what} commits`, async () => {
        expect(await attempt(sql, mode)).toEqual(allowed(mode));
        expect(await judge()).toBe(expected[i]);
      });
    }
  });

  it("a block that creates a table, inserts 2 rows, then TRUNCATEs it in a later subtransaction, commits", async () => {
    const c = await connectClient(regate.url());
    try {
      for (const sql of ["BEGIN", "CREATE TABLE public.rtt_new (id int)", "INSERT INTO public.rtt_new VALUES (1), (2)", "SAVEPOINT s", "DO $$ BEGIN TRUNCATE public.rtt_new; END $$", "RELEASE s", "INSERT INTO public.rtt_new VALUES (3)", "COMMIT"]) {
        expect([sql, await outcomeCode(c, sql)]).toEqual([sql, "ok"]);
      }
    } finally {
      await c.end();
    }
    expect((await db.query("SELECT count(*)::int AS n FROM public.rtt_new"))[0].n).toBe(1);
  });

  it("a session's own TEMP table from an earlier transaction, TRUNCATEd by a function and a column of it dropped, commits", async () => {
    const c = await connectClient(regate.url());
    try {
      expect(await outcomeCode(c, "CREATE TEMP TABLE rtt_mine AS SELECT generate_series(1, 3) AS id")).toBe("ok");
      expect(await outcomeCode(c, "DO $$ BEGIN TRUNCATE pg_temp.rtt_mine; END $$")).toBe("ok");
      expect(await outcomeCode(c, "ALTER TABLE pg_temp.rtt_mine ADD COLUMN x int")).toBe("ok");
      expect(await outcomeCode(c, "ALTER TABLE pg_temp.rtt_mine DROP COLUMN x")).toBe("ok");
      expect((await c.query("SELECT count(*)::int AS n FROM pg_temp.rtt_mine")).rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });

  it("pgbench-like transactions (4 rows each, extended protocol with parameters) commit, 10 in a row", async () => {
    const c = await connectClient(regate.url());
    try {
      for (let i = 1; i <= 10; i++) {
        await c.query("BEGIN");
        await c.query("UPDATE public.bench_accounts SET abalance = abalance + $1 WHERE aid = $2", [i, i]);
        await c.query("SELECT abalance FROM public.bench_accounts WHERE aid = $1", [i]);
        await c.query("UPDATE public.bench_tellers SET tbalance = tbalance + $1 WHERE tid = $2", [i, i]);
        await c.query("UPDATE public.bench_branches SET bbalance = bbalance + $1 WHERE bid = $2", [i, 1]);
        await c.query("INSERT INTO public.bench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)", [i, 1, i, i]);
        await c.query("END");
      }
    } finally {
      await c.end();
    }
    expect((await db.query("SELECT bbalance FROM public.bench_branches"))[0].bbalance).toBe(55);
    expect((await db.query("SELECT count(*)::int AS n FROM public.bench_history"))[0].n).toBe(10);
  });
});

// Large objects keep their data in pg_catalog's pg_largeobject, one row per 2 kB page: lo_unlink and lo_truncate
// delete those rows as a DELETE would, and are counted with the tables' rows.
describe("rows_changed_per_transaction: large objects", () => {
  let lo = 0;
  beforeEach(async () => {
    if (lo) await db.query(`SELECT lo_unlink(${lo}) FROM pg_largeobject_metadata WHERE oid = ${lo}`);
    // 20 pages of 2 kB, owned by the agent's role.
    lo = (await db.query("SELECT lo_from_bytea(0, convert_to(repeat('x', 40960), 'UTF8'))::int AS lo"))[0].lo;
    await db.query(`ALTER LARGE OBJECT ${lo} OWNER TO ${db.users.scram.user}`);
  });
  const stored = async () => (await db.query(`SELECT coalesce(sum(length(data)), 0)::int AS n FROM pg_largeobject WHERE loid = ${lo}`))[0].n;

  for (const mode of MODES) {
    it(`${mode}: lo_unlink of a 20-page large object → 54000; its data kept`, async () => {
      const outcome = await attempt(`SELECT lo_unlink(${lo} + $1 - 1)`, mode);
      expect(outcome).toEqual(mode.startsWith("block") ? ["ok", "54000", "ok", "ok"] : ["54000", "ok"]);
      expect(await stored()).toBe(40960);
    });
  }

  it("lo_truncate of it to nothing → 54000; its data kept", async () => {
    expect(await attempt(`SELECT lo_truncate(lo_open(${lo}, 131072), 0)`, "autocommit, simple")).toEqual(["54000", "ok"]);
    expect(await stored()).toBe(40960);
  });

  it("lo_put over its first page (1 row) commits", async () => {
    expect(await attempt(`SELECT lo_put(${lo}, 0, '\\x79'::bytea)`, "autocommit, simple")).toEqual(["ok", "ok"]);
    expect(await stored()).toBe(40960);
    expect((await db.query(`SELECT convert_from(lo_get(${lo}, 0, 2), 'UTF8') AS s`))[0].s).toBe("yx");
  });
});
