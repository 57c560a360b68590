import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bind, dataRowValues, execute, parse, query, Raw, sync, withRaw } from "../support/raw-pg.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// Review of the WHERE CURRENT OF lineage (masking-redteam-4.test.ts), through regate with the example policy.
//
// Found:
// - A statement parsed on one cursor was refused at Bind once the session's cursors changed, but only once
//   regate had seen the server confirm the change. A client that pipelines `CLOSE cur; DECLARE cur <masked>;
//   FETCH cur` and the Bind of that statement without waiting had the Bind judged on the old cursor's facts,
//   and `RETURNING id` gave the masked value in clear. The Bind of such a statement now waits, as a Query and a
//   Parse do, for every DECLARE, CLOSE or PREPARE sent before it to be answered.
// - The pre-check of WHERE CURRENT OF (current-of.ts) was a backtracking regex, quadratic in a text with many
//   CURRENTs and no OF after them: a 64 KiB Parse (the default max_statement_bytes) of `current` repeated held
//   the event loop, every session's, for a quarter of a second. Now a linear search.

const X = `(SELECT split_part(ssn, '-', 1)::int FROM customers WHERE id = 2)`;

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

/** The text of every DataRow's first value among the replies, and the SQLSTATEs. */
function seen(replies: { type: string; body: Buffer }[]): { values: string[]; errors: string[] } {
  const values = replies.filter((m) => m.type === "D").map((m) => dataRowValues(m.body)[0]?.toString("utf8") ?? "NULL");
  const errors = replies.filter((m) => m.type === "E").map((m) => /C([0-9A-Z]{5})\0/.exec(m.body.toString("latin1"))![1]!);
  return { values, errors };
}

describe("WHERE CURRENT OF, the cursor redefined in a message pipelined before the Bind", () => {
  const update = `UPDATE orders SET status = status WHERE CURRENT OF cur RETURNING id`;

  async function attack(url: string): Promise<{ values: string[]; errors: string[] }> {
    return withRaw(url, async (raw: Raw) => {
      raw.send(query(`BEGIN; DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id > 600 ORDER BY id FOR UPDATE; FETCH cur`));
      await raw.readies(1);
      // Parsed while `cur` is a cursor over ids: its facts are taken on that cursor.
      raw.send(parse(update, "at_cursor"), sync());
      await raw.readies(1);
      // Not waiting between the Query and the Bind.
      raw.send(query(`CLOSE cur; DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id = ${X} FOR UPDATE; FETCH cur`), bind("at_cursor"), execute(), sync());
      const replies = await raw.readies(2);
      raw.send(query("ROLLBACK"));
      await raw.readies(1);
      return seen(replies);
    });
  }

  it("straight to the database, the RETURNING names the masked value", async () => {
    expect((await attack(db.url())).values).toEqual(["607", "607"]);
  });

  it("through regate, it is not sent in clear", async () => {
    const got = await attack(regate.url());
    expect(got.values).not.toContain("607");
    expect(got.errors).toEqual(["0A000"]);
  });

  /** The cursor redefined by Binds of prepared statements earlier in the same batch as the Bind of `update`. */
  async function inBatch(url: string): Promise<{ values: string[]; errors: string[] }> {
    return withRaw(url, async (raw: Raw) => {
      raw.send(query(`BEGIN; DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id > 600 ORDER BY id FOR UPDATE; FETCH cur`));
      await raw.readies(1);
      raw.send(parse(update, "at_cursor"), parse("CLOSE cur", "close_cur"), parse(`DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id = ${X} FOR UPDATE`, "declare_cur"), parse("MOVE NEXT IN cur", "move_cur"), sync());
      await raw.readies(1);
      raw.send(bind("close_cur"), execute(), bind("declare_cur"), execute(), bind("move_cur"), execute(), bind("at_cursor"), execute(), sync());
      const replies = await raw.readies(1);
      raw.send(query("ROLLBACK"));
      await raw.readies(1);
      return seen(replies);
    });
  }

  it("in one batch, straight to the database, the RETURNING names the masked value", async () => {
    expect((await inBatch(db.url())).values).toEqual(["607"]);
  });

  it("in one batch, through regate, it is not sent in clear", async () => {
    const got = await inBatch(regate.url());
    expect(got.values).toEqual([]);
    expect(got.errors).toEqual(["0A000"]);
  });

  it("must stay allowed: the same pipeline on the same cursor", async () => {
    const got = await withRaw(regate.url(), async (raw: Raw) => {
      raw.send(query(`BEGIN; DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id > 600 ORDER BY id FOR UPDATE; FETCH cur`));
      await raw.readies(1);
      raw.send(parse(update, "at_cursor"), sync());
      await raw.readies(1);
      raw.send(query(`FETCH cur`), bind("at_cursor"), execute(), sync());
      const replies = await raw.readies(2);
      raw.send(query("ROLLBACK"));
      await raw.readies(1);
      return seen(replies);
    });
    expect(got).toEqual({ values: ["602", "602"], errors: [] });
  });
});

describe("the WHERE CURRENT OF pre-check is linear in the text", () => {
  /** Milliseconds regate takes to answer `sql` sent as a Parse (extended protocol) and as a Query. */
  async function timed(c: pg.Client, sql: string, extended: boolean, name: string): Promise<number> {
    const start = process.hrtime.bigint();
    await c.query(extended ? { name, text: sql } : sql);
    return Number(process.hrtime.bigint() - start) / 1e6;
  }

  it("a Parse full of CURRENT costs about what the same Query does", async () => {
    // Valid SQL: one statement, its text a comment of CURRENTs without an OF after them.
    const sql = `SELECT 1 -- ${"current ".repeat(7_000)}`;
    const c = new pg.Client({ connectionString: regate.url() });
    await c.connect();
    try {
      // Warm both paths, then take the best of three of each: a ratio from the same run, not a time bound.
      await timed(c, sql, false, "");
      await timed(c, sql, true, "warm");
      const q: number[] = [];
      const p: number[] = [];
      for (let i = 0; i < 3; i++) {
        q.push(await timed(c, `${sql} ${i}`, false, ""));
        p.push(await timed(c, `${sql} ${i}`, true, `p${i}`));
      }
      expect(Math.min(...p) / Math.max(1, Math.min(...q))).toBeLessThan(5);
    } finally {
      await c.end();
    }
  });
});
