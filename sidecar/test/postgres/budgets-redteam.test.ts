// Red team of the budgets: a rogue agent tries to get more rows or bytes than its budget allows, to keep a
// write whose result was cut, or to run more statements a minute than allowed. Judged by what the agent's
// socket received and what the database kept; the must-allow cases beside them keep ordinary traffic working.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, query, Raw, sync } from "../support/raw-pg.js";
import { startRegate, AGENT, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
const SLOW = { user: "slow-agent", token: "slow-agent-token" };

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, {
    agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }, { subject: SLOW.user, groups: ["agents"], token: { value: SLOW.token } }] },
    postgres: { budgets: { rows_per_statement: 2, agents: { [SLOW.user]: { statements_per_minute: 3 } } } },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

type Message = { type: string; body: Buffer };
const seen = (ms: Message[]) => ms.map((m) => `${m.type}:${m.body.toString("latin1")}`).join("\n");
const sqlstates = (ms: Message[]) => ms.filter((m) => m.type === "E").map((m) => /\0C([0-9A-Z]{5})\0/.exec(`\0${m.body.toString("latin1")}`)?.[1]);
const kept = async (amount: string) => Number((await db.query(`SELECT count(*)::int AS n FROM orders WHERE amount = ${amount}`))[0].n);
let marks = 8000;
/** An amount no other test writes: what the database kept of one attempt is counted by it. */
const mark = () => `${++marks}.5`;
/** Three rows back: one more than the budget. */
const insert3 = (amount: string) => `INSERT INTO orders (customer_id, amount, status, created_at) SELECT 1, ${amount}, 'pending', now() FROM generate_series(1, 3) RETURNING id`;
const insert1 = (amount: string) => `INSERT INTO orders (customer_id, amount, status, created_at) VALUES (1, ${amount}, 'pending', now()) RETURNING id`;
const settle = () => new Promise((r) => setTimeout(r, 200));

async function exchange(parts: Buffer[], readies: number, agent = AGENT): Promise<Message[]> {
  const raw = await Raw.open(regate.url(agent.user, agent.token));
  try {
    raw.send(...parts);
    const got = await raw.readies(readies);
    await settle();
    return got;
  } finally {
    raw.close();
  }
}

describe("rows past the budget", () => {
  it("COPY TO STDOUT is cut like a SELECT: each CopyData is a row", async () => {
    // Before: 1000 and 5000 CopyData went out with rows_per_statement 2.
    for (const sql of ["COPY (SELECT g FROM generate_series(1, 1000) g) TO STDOUT", "COPY orders TO STDOUT (FORMAT csv)", "COPY orders TO STDOUT (FORMAT binary)"]) {
      const got = await exchange([query(sql)], 1);
      expect(got.filter((m) => m.type === "d").length, sql).toBeLessThanOrEqual(2);
      expect(sqlstates(got), sql).toEqual(["54000"]);
    }
  });

  it("must-allow: a COPY within the budget is whole", async () => {
    const got = await exchange([query("COPY (SELECT g FROM generate_series(1, 2) g) TO STDOUT")], 1);
    expect(got.map((m) => m.type).join("")).toBe("HddcCZ");
  });
});

describe("rows past the budget as notifications", () => {
  it("pg_notify over a table sends at most the budget's worth of payloads", async () => {
    // Before: one row came back ("500") and 500 notifications, each carrying a row, with rows_per_statement 2.
    const got = await exchange([query("LISTEN leak"), query("SELECT count(pg_notify('leak', g::text || repeat('y', 100))) FROM generate_series(1, 500) g")], 2);
    expect(got.filter((m) => m.type === "A").length).toBeLessThanOrEqual(2);
    expect(sqlstates(got)).toEqual(["54000"]);
  });

  it("must-allow: LISTEN and NOTIFY within the budget deliver the notification", async () => {
    const got = await exchange([query("LISTEN ok"), query("NOTIFY ok, 'hello'")], 2);
    expect(sqlstates(got)).toEqual([]);
    expect(seen(got.filter((m) => m.type === "A"))).toContain("hello");
  });
});

describe("a write whose result is cut does not commit, whatever ends the transaction behind it", () => {
  for (const end of ["COMMIT", "END", "COMMIT AND CHAIN"]) {
    it(`${end} in the same extended batch as an autocommit write regate wraps`, async () => {
      // Before: the server ran the COMMIT inside regate's BEGIN before the cut was acted on; the rows were
      // kept and the agent was told "the statement was rolled back".
      const amount = mark();
      const got = await exchange([parse(insert3(amount)), bind(), execute(), parse(end), bind(), execute(), sync()], 1);
      expect(sqlstates(got)).toEqual(["54000"]);
      expect(await kept(amount)).toBe(0);
    });

    it(`${end} in the same extended batch, inside the agent's block opened by a pipelined BEGIN`, async () => {
      // Before: regate took the session for idle (the BEGIN not yet answered), wrapped the write, and the
      // COMMIT committed it; the agent was told it was rolled back.
      const amount = mark();
      const got = await exchange([query("BEGIN"), parse(insert3(amount)), bind(), execute(), parse(end), bind(), execute(), sync()], 2);
      expect(sqlstates(got)).toEqual(["54000"]);
      expect(await kept(amount)).toBe(0);
    });

    it(`${end} in the same Query as the write is refused before anything runs`, async () => {
      // Before: the Query ran whole; the rows were kept.
      const amount = mark();
      const got = await exchange([query("BEGIN"), query(`${insert3(amount)}; ${end}`), query("ROLLBACK")], 3);
      expect(sqlstates(got)).toEqual(["0A000"]);
      expect(seen(got)).toContain("separate statements");
      expect(await kept(amount)).toBe(0);
    });
  }

  it("a Query of several statements in autocommit is wrapped as a whole and rolled back when cut", async () => {
    // Before: not wrapped (more than one statement); the write committed.
    const amount = mark();
    const got = await exchange([query(`${insert3(amount)}; SELECT 1`)], 1);
    expect(sqlstates(got)).toEqual(["54000"]);
    expect(seen(got)).toContain("rolled back");
    expect(await kept(amount)).toBe(0);
  });

  it.each([
    ["a writable CTE", (a: string) => [query(`WITH w AS (${insert3(a)}) SELECT id FROM w`)]],
    ["EXECUTE of an SQL PREPARE", (a: string) => [query(`PREPARE ins${a.replace(".", "_")} AS ${insert3(a)}`), query(`EXECUTE ins${a.replace(".", "_")}`)]],
    ["an extended batch of two writes", (a: string) => [parse(insert1(a)), bind(), execute(), parse(insert3(a)), bind(), execute(), sync()]],
  ])("%s in autocommit is rolled back when cut", async (_name, parts) => {
    const amount = mark();
    const sent = parts(amount);
    const got = await exchange(sent, sent.filter((m) => m[0] === 0x51).length || 1);
    expect(sqlstates(got)).toEqual(["54000"]);
    expect(await kept(amount)).toBe(0);
  });

  it("a write pipelined behind BEGIN stays in the agent's block: the agent's ROLLBACK undoes it", async () => {
    // Before: regate took the session for idle, wrapped the write and sent its own COMMIT after the batch,
    // committing the agent's block; the agent's ROLLBACK then undid nothing.
    const amount = mark();
    const got = await exchange([query("BEGIN"), parse(insert1(amount)), bind(), execute(), sync(), query("ROLLBACK")], 3);
    expect(sqlstates(got)).toEqual([]);
    expect(got.filter((m) => m.type === "Z").map((m) => m.body.toString("latin1"))).toEqual(["T", "T", "I"]);
    expect(await kept(amount)).toBe(0);
  });
});

describe("must-allow: writes within the budget, pipelined as drivers do", () => {
  it("an extended batch of a write and COMMIT in the agent's block commits and returns its rows", async () => {
    const amount = mark();
    const got = await exchange([query("BEGIN"), parse(insert1(amount)), bind(), execute(), parse("COMMIT"), bind(), execute(), sync()], 2);
    expect(sqlstates(got)).toEqual([]);
    expect(got.filter((m) => m.type === "D").length).toBe(1);
    expect(await kept(amount)).toBe(1);
  });

  it("a Query of a write and a SELECT in autocommit commits", async () => {
    const amount = mark();
    const got = await exchange([query(`${insert1(amount)}; SELECT 1`)], 1);
    expect(sqlstates(got)).toEqual([]);
    expect(await kept(amount)).toBe(1);
  });

  it("node-postgres: a transaction with a RETURNING write and a pipelined COMMIT", async () => {
    const amount = mark();
    const c = new pg.Client({ connectionString: regate.url() });
    await c.connect();
    try {
      const results = await Promise.all([c.query("BEGIN"), c.query(insert1(amount)), c.query("SELECT $1::int AS n", [5]), c.query("COMMIT")]);
      expect(results[1]!.rowCount).toBe(1);
      expect(results[2]!.rows).toEqual([{ n: 5 }]);
    } finally {
      await c.end();
    }
    expect(await kept(amount)).toBe(1);
  });
});

describe("statements_per_minute", () => {
  it("counts every statement of a Query: six in one Query are refused under a limit of three, and none runs", async () => {
    // Before: one Query counted once whatever it carried: all six ran.
    const amount = mark();
    const got = await exchange([query(`SELECT 1; SELECT 2; SELECT 3; SELECT 4; SELECT 5; ${insert1(amount).replace("RETURNING id", "")}`)], 1, SLOW);
    expect(sqlstates(got)).toEqual(["54000"]);
    expect(seen(got)).toContain("statements_per_minute (3)");
    expect(await kept(amount)).toBe(0);
    // Within the limit, a Query of three is one message that uses all three.
    const ok = await exchange([query("SELECT WHERE false; SELECT WHERE false; SELECT WHERE false"), query("SELECT 4")], 2, SLOW);
    expect(ok.filter((m) => m.type === "C").length).toBe(3);
    expect(sqlstates(ok)).toEqual(["54000"]);
  });
});
