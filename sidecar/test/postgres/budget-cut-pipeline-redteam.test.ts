// A budget cut cancels its statement upstream. A cancel request names a connection, not a statement: when the
// agent pipelined another statement behind the cut one and the server had already finished the cut one, the
// cancel landed on the next (`canceling statement due to user request` for a statement within every budget;
// a write pipelined behind a cut SELECT was not kept). Judged by what the agent received and what the database kept.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, query, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
const A = { user: "piped", token: "piped-agent-token-4b7d" };

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, {
    agents: { tokens: [{ subject: A.user, groups: ["agents"], token: { value: A.token } }] },
    postgres: { budgets: { rows_per_statement: 3 } },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

type Message = { type: string; body: Buffer };
const sqlstates = (ms: Message[]) => ms.filter((m) => m.type === "E").map((m) => /\0C([0-9A-Z]{5})\0/.exec(`\0${m.body.toString("latin1")}`)?.[1]);
const tags = (ms: Message[]) => ms.filter((m) => m.type === "C").map((m) => m.body.toString("latin1").replace(/\0$/, ""));
const CUT = "SELECT g FROM generate_series(1, 10) g";

async function exchange(parts: Buffer[], readies: number): Promise<Message[]> {
  const raw = await Raw.open(regate.url(A.user, A.token));
  try {
    raw.send(...parts);
    return await raw.readies(readies);
  } finally {
    raw.close();
  }
}

describe("a cut's cancel and the statements pipelined behind it", () => {
  it("a Query pipelined behind a cut one runs whole", async () => {
    // Before: the second Query was answered 57014.
    const got = await exchange([query(CUT), query("SELECT 1 AS one FROM pg_sleep(0.3)")], 2);
    expect(sqlstates(got)).toEqual(["54000"]);
    expect(tags(got)).toEqual(["SELECT 1"]);
  });

  it("a write pipelined behind a cut SELECT is kept", async () => {
    const amount = "7331.25";
    const got = await exchange([query(CUT), query(`INSERT INTO orders (customer_id, amount, status, created_at) SELECT 1, ${amount}, 'pending', now() FROM pg_sleep(0.3)`)], 2);
    expect(sqlstates(got)).toEqual(["54000"]);
    expect(tags(got)).toEqual(["INSERT 0 1"]);
    expect((await db.query(`SELECT count(*)::int AS n FROM orders WHERE amount = ${amount}`))[0].n).toBe(1);
  });

  it("an extended batch after the cut one's Sync runs whole", async () => {
    const got = await exchange([parse(CUT), bind(), execute(), sync(), parse("SELECT 1 AS one FROM pg_sleep(0.3)"), bind(), execute(), sync()], 2);
    expect(sqlstates(got)).toEqual(["54000"]);
    expect(tags(got)).toEqual(["SELECT 1"]);
  });

  it("still: a cut statement alone is cancelled upstream, not run to its end", async () => {
    const got = await exchange([query("SELECT g, repeat('x', 1000) FROM generate_series(1, 1000000) g")], 1);
    expect(sqlstates(got)).toEqual(["54000"]);
    expect(got.find((m) => m.type === "E")!.body.toString("utf8")).toContain("cancelled");
  });
});
