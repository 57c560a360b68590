// rows_changed_per_transaction (budget 5), a review of the dropped-attribute check (rows-changed.ts): a composite
// type made after the last table and then given to an older table's column (ALTER TABLE ... ADD COLUMN) has an OID
// above every table's, so a check bounded by the largest table OID of the base did not look at it, and its DROP
// ATTRIBUTE emptied that field of every row of the table, uncounted. And the check took a dropped attribute whose
// row version is newer than the transaction's ID (age(xmin) <= 0) for one this transaction wrote: a column another
// session dropped and committed meanwhile refused this transaction's next statement. Judged by what the database kept.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAllowAllBundle } from "../reliability/support/bundles.js";
import { connectClient, outcomeCode } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, { policy: { bundle: buildAllowAllBundle("rows-changed-review") }, postgres: { budgets: { rows_changed_per_transaction: 5 } } });
  // Every table first, the type last (no table is made after it before the cases run): its OID is above every table's.
  await db.query(`
    CREATE TABLE public.rcr_mine (id int, x int);
    ALTER TABLE public.rcr_mine OWNER TO ${db.users.scram.user};
    CREATE TABLE public.rcr_theirs (id int, y int, y2 int);
    CREATE TABLE public.rcr_own (id int, z int);
    INSERT INTO public.rcr_own VALUES (1, 1);
    ALTER TABLE public.rcr_own OWNER TO ${db.users.scram.user}`);
  await db.query(`
    CREATE TABLE public.rcr_rows (id int);
    INSERT INTO public.rcr_rows SELECT generate_series(1, 20);
    CREATE TYPE public.rcr_pair AS (a int, b text);
    ALTER TABLE public.rcr_rows ADD COLUMN p public.rcr_pair;
    UPDATE public.rcr_rows SET p = ROW(id, 'x')::public.rcr_pair;
    ALTER TYPE public.rcr_pair OWNER TO ${db.users.scram.user}`);
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

describe("rows_changed_per_transaction: dropped attributes, a review", () => {
  it("the type's OID is above every permanent table's (what the case is about)", async () => {
    const [r] = await db.query(
      "SELECT 'public.rcr_pair'::regtype::oid::int8 > (SELECT max(oid::int8) FROM pg_class WHERE relkind IN ('r', 'p') AND relpersistence <> 't') AS above",
    );
    expect(r.above).toBe(true);
  });

  for (const mode of ["autocommit", "block"] as const) {
    it(`${mode}: ALTER TYPE ... DROP ATTRIBUTE of it, which an older table's column holds → 0A000; every field kept`, async () => {
      const c = await connectClient(regate.url());
      try {
        const steps =
          mode === "autocommit"
            ? [await outcomeCode(c, "ALTER TYPE public.rcr_pair DROP ATTRIBUTE b"), await outcomeCode(c, "SELECT 1")]
            : [await outcomeCode(c, "BEGIN"), await outcomeCode(c, "ALTER TYPE public.rcr_pair DROP ATTRIBUTE b"), await outcomeCode(c, "COMMIT"), await outcomeCode(c, "SELECT 1")];
        expect(steps).toEqual(mode === "autocommit" ? ["0A000", "ok"] : ["ok", "0A000", "ok", "ok"]);
      } finally {
        await c.end();
      }
      expect((await db.query("SELECT count(*)::int AS n FROM public.rcr_rows WHERE (p).b = 'x'"))[0].n).toBe(20);
    });
  }

  it("a composite type made and trimmed in the same transaction is no refusal", async () => {
    const c = await connectClient(regate.url());
    try {
      const steps = [
        await outcomeCode(c, "BEGIN"),
        await outcomeCode(c, "CREATE TYPE public.rcr_scratch AS (a int, b text)"),
        await outcomeCode(c, "ALTER TYPE public.rcr_scratch DROP ATTRIBUTE b"),
        await outcomeCode(c, "ROLLBACK"),
      ];
      expect(steps).toEqual(["ok", "ok", "ok", "ok"]);
    } finally {
      await c.end();
    }
  });

  it("a column another session drops and commits meanwhile is no refusal of this transaction", async () => {
    const c = await connectClient(regate.url());
    try {
      // SET DEFAULT updates a pg_attribute row: the transaction's count of them moves, and the check runs.
      const steps = [await outcomeCode(c, "BEGIN"), await outcomeCode(c, "ALTER TABLE public.rcr_mine ALTER COLUMN x SET DEFAULT 0"), await outcomeCode(c, "SELECT 1")];
      await db.query("ALTER TABLE public.rcr_theirs DROP COLUMN y");
      steps.push(await outcomeCode(c, "INSERT INTO public.rcr_mine (id) VALUES (1)"), await outcomeCode(c, "COMMIT"));
      expect(steps).toEqual(["ok", "ok", "ok", "ok", "ok"]);
    } finally {
      await c.end();
    }
    expect(await db.query("SELECT id, x FROM public.rcr_mine")).toEqual([{ id: 1, x: 0 }]);
  });

  it("this transaction's own DROP COLUMN after another session's is still refused", async () => {
    const c = await connectClient(regate.url());
    try {
      const steps = [await outcomeCode(c, "BEGIN"), await outcomeCode(c, "ALTER TABLE public.rcr_mine ALTER COLUMN x SET DEFAULT 1"), await outcomeCode(c, "SELECT 1")];
      await db.query("ALTER TABLE public.rcr_theirs DROP COLUMN y2");
      steps.push(await outcomeCode(c, "SAVEPOINT s"), await outcomeCode(c, "ALTER TABLE public.rcr_own DROP COLUMN z"), await outcomeCode(c, "COMMIT"));
      expect(steps).toEqual(["ok", "ok", "ok", "ok", "0A000", "ok"]);
    } finally {
      await c.end();
    }
    expect(await db.query("SELECT id, z FROM public.rcr_own")).toEqual([{ id: 1, z: 1 }]);
  });
});
