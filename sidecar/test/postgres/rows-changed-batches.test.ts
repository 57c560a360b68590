// rows_changed_per_transaction over the raw protocol: batches no common driver sends, judged by every reply and
// by what the database kept. Transaction control inside an extended batch changes the server's status with no
// ReadyForQuery to say so; a BEGIN there opens the client's block (regate must count in it, not wrap the batch
// in a transaction whose COMMIT would end that block), and a COMMIT after a change would commit rows regate
// counts only at the Sync.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAllowAllBundle } from "../reliability/support/bundles.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, errorCodes, execute, parse, query, Raw, readyStatuses, step, sync, withRaw } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  await db.query("CREATE TABLE public.rcb (id int PRIMARY KEY, v text NOT NULL)");
  // A deferred constraint trigger, as the database owner may have made one: it fires at COMMIT, after the writes.
  await db.query(`CREATE TABLE public.rcd (id int);
    CREATE FUNCTION public.rcd_purge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM public.rcb; RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER rcd_purge AFTER INSERT ON public.rcd DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.rcd_purge()`);
  regate = await startRegate(db, { policy: { bundle: buildAllowAllBundle("rows-changed-batches") }, postgres: { budgets: { rows_changed_per_transaction: 5 } } });
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function reset(): Promise<void> {
  await db.query("TRUNCATE public.rcb; INSERT INTO public.rcb SELECT g, 'x' FROM generate_series(1, 20) g");
}

const kept = async () => Number((await db.query("SELECT count(*)::int AS n FROM public.rcb"))[0].n);
const changed = async () => Number((await db.query("SELECT count(*)::int AS n FROM public.rcb WHERE v <> 'x'"))[0].n);
const codes = errorCodes;
const statuses = readyStatuses;
const session = <T>(use: (raw: Raw) => Promise<T>): Promise<T> => withRaw(regate.url(), use);

describe("rows_changed_per_transaction, raw protocol", () => {
  // pgbench -M prepared: a statement parsed once, then Bind, Execute and Sync in one write. The base is asked in the
  // same batch as the count, and the count was written before the base was answered: every such batch was
  // refused (the tables "could not be read"), where before the tables' check it counted from 0.
  it("a prepared UPDATE bound again and again, in autocommit and in a block, commits each time", async () => {
    await reset();
    await session(async (raw) => {
      raw.send(parse("UPDATE public.rcb SET v = 'p' WHERE id = 1", "u"), sync());
      expect(codes(await raw.readies(1))).toEqual([]);
      const got: string[] = [];
      const run = async (...parts: Buffer[]) => {
        raw.send(...parts);
        const replies = await raw.readies(1);
        got.push(`${codes(replies).join(",") || "ok"} ${statuses(replies).join("")}`);
      };
      for (let i = 0; i < 3; i++) await run(bind("u"), execute(), sync());
      await run(query("BEGIN"));
      for (let i = 0; i < 3; i++) await run(bind("u"), execute(), sync());
      await run(query("COMMIT"));
      expect(got).toEqual(["ok I", "ok I", "ok I", "ok T", "ok T", "ok T", "ok T", "ok I"]);
    });
    expect(await changed()).toBe(1);
  });

  it("a BEGIN executed in the batch of the first change opens the client's block: the change is counted in it and the block stays open", async () => {
    await reset();
    await session(async (raw) => {
      raw.send(...step("BEGIN"), ...step("UPDATE public.rcb SET v = 'a' WHERE id <= 3"), sync());
      const first = await raw.readies(1);
      expect(codes(first)).toEqual([]);
      expect(statuses(first)).toEqual(["T"]);
      // Still the client's block: 3 more rows cross the budget and abort it, and nothing of it commits.
      raw.send(query("UPDATE public.rcb SET v = 'b' WHERE id > 3 AND id <= 6"));
      const second = await raw.readies(1);
      expect(codes(second)).toEqual(["54000"]);
      expect(statuses(second)).toEqual(["E"]);
      raw.send(query("ROLLBACK"));
      expect(statuses(await raw.readies(1))).toEqual(["I"]);
    });
    expect(await changed()).toBe(0);
  });

  it("a block opened in a batch commits at the client's COMMIT when within the budget", async () => {
    await reset();
    await session(async (raw) => {
      raw.send(...step("BEGIN"), ...step("UPDATE public.rcb SET v = 'a' WHERE id <= 3"), sync());
      expect(statuses(await raw.readies(1))).toEqual(["T"]);
      raw.send(query("COMMIT"));
      const done = await raw.readies(1);
      expect(codes(done)).toEqual([]);
      expect(statuses(done)).toEqual(["I"]);
    });
    expect(await changed()).toBe(3);
  });

  it.each([
    ["a COMMIT after a change, before the Sync", [...step("UPDATE public.rcb SET v = 'a' WHERE id <= 3"), ...step("COMMIT")], "I"],
    // The client's own BEGIN made the batch a block: the refusal fails it, as any error would.
    ["BEGIN, a change, then COMMIT, before the Sync", [...step("BEGIN"), ...step("UPDATE public.rcb SET v = 'a' WHERE id <= 3"), ...step("COMMIT")], "E"],
    ["a change after a COMMIT, before the Sync", [...step("SELECT 1"), ...step("COMMIT"), ...step("UPDATE public.rcb SET v = 'a' WHERE id > 1")], "I"],
  ])("%s is refused and nothing commits; the session goes on", async (_name, batch, status) => {
    await reset();
    await session(async (raw) => {
      raw.send(...batch, sync());
      const got = await raw.readies(1);
      expect(codes(got)).toEqual(["0A000"]);
      expect(statuses(got)).toEqual([status]);
      if (status === "E") {
        raw.send(query("ROLLBACK"));
        await raw.readies(1);
      }
      raw.send(query("SELECT 1"));
      expect(codes(await raw.readies(1))).toEqual([]);
    });
    expect(await changed()).toBe(0);
  });

  it("a Query inside an unsynced batch that changed rows is refused, and the batch's change is rolled back", async () => {
    await reset();
    await session(async (raw) => {
      raw.send(...step("UPDATE public.rcb SET v = 'a' WHERE id <= 2"), query("UPDATE public.rcb SET v = 'q' WHERE id = 3"), sync());
      const got = await raw.readies(2);
      expect(codes(got)).toContain("0A000");
    });
    expect(await changed()).toBe(0);
  });

  it("a change over the budget with a Query pipelined behind it: the change is rolled back, the next Query runs", async () => {
    await reset();
    await session(async (raw) => {
      raw.send(query("UPDATE public.rcb SET v = 'a' WHERE id > -1"), query("UPDATE public.rcb SET v = 'b' WHERE id = 1"));
      const got = await raw.readies(2);
      expect(codes(got)).toEqual(["54000"]);
      expect(statuses(got)).toEqual(["I", "I"]);
    });
    expect(await db.query("SELECT v, count(*)::int AS n FROM public.rcb GROUP BY v ORDER BY v")).toEqual([{ v: "b", n: 1 }, { v: "x", n: 19 }]);
  });

  it("the count is not fooled by rows the session changed in earlier transactions (the server's unflushed counters)", async () => {
    await reset();
    await session(async (raw) => {
      // 4 + 4 + 4 rows in three transactions, in quick succession: each within the budget on its own.
      for (const [lo, hi] of [[1, 4], [5, 8], [9, 12]]) {
        raw.send(query(`UPDATE public.rcb SET v = 'a' WHERE id BETWEEN ${lo} AND ${hi}`));
        expect(codes(await raw.readies(1))).toEqual([]);
      }
    });
    expect(await changed()).toBe(12);
  });

  describe("deferred constraint triggers, which fire at COMMIT", () => {
    it("autocommit: regate's wrap fires them before its count; past the bound it rolls back", async () => {
      await reset();
      await session(async (raw) => {
        raw.send(query("INSERT INTO public.rcd VALUES (1)"));
        const got = await raw.readies(1);
        expect(codes(got)).toEqual(["54000"]);
        expect(statuses(got)).toEqual(["I"]);
      });
      expect(await kept()).toBe(20);
    });

    it("a client's block: counted before its COMMIT, which then rolls back", async () => {
      await reset();
      await session(async (raw) => {
        raw.send(query("BEGIN"), query("INSERT INTO public.rcd VALUES (1)"));
        expect(codes(await raw.readies(2))).toEqual([]);
        raw.send(query("COMMIT"));
        const got = await raw.readies(1);
        expect(codes(got)).toEqual(["54000"]);
        expect(statuses(got)).toEqual(["I"]);
      });
      expect(await kept()).toBe(20);
    });

    it("a client's block committed in an extended batch: the COMMIT is skipped and the block left failed", async () => {
      await reset();
      await session(async (raw) => {
        raw.send(query("BEGIN"), query("INSERT INTO public.rcd VALUES (1)"));
        await raw.readies(2);
        raw.send(...step("COMMIT"), sync());
        const got = await raw.readies(1);
        expect(codes(got)).toEqual(["54000"]);
        expect(statuses(got)).toEqual(["E"]);
        raw.send(query("ROLLBACK"));
        expect(statuses(await raw.readies(1))).toEqual(["I"]);
      });
      expect(await kept()).toBe(20);
    });
  });
});
