// When a defer-mode grant is spent: by the re-run regate releases to the server, whatever that re-run's
// batch or transaction does next (docs/approvals.md, "Grants"). regate cannot tell that a rolled-back
// statement had no effect (rows it returned, sequences, work outside the transaction), so a grant is never
// given back: one approval is never two executions. Real PostgreSQL, the pg driver and raw protocol.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, Raw, sync } from "../support/raw-pg.js";
import type { TestRegate } from "../support/regate.js";
import { api, approvalBundle, client, startApprovingRegate } from "./support.js";

let db: TestPostgres;
let defer: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  defer = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: ["dba-oncall"], timeout_seconds: 120, mode: "defer", grant_seconds: 60 }, "grant-use"));
}, 120_000);

afterAll(async () => {
  await defer?.stop();
  await db?.stop();
});

const REQUESTED = /approval requested as (apr_[0-9a-f]{16})/;
const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);

/** Asks for approval of `sql` (refused at once, defer mode) and approves it: a grant for one identical re-run. */
async function granted(sql: string): Promise<string> {
  const { c } = await client(defer);
  try {
    const e = await refusal(c.query(sql));
    const id = REQUESTED.exec(e?.message ?? "")?.[1];
    expect(id, e?.message).toBeDefined();
    const a = (await api(defer, `/approvals/${id}`)).body;
    expect((await api(defer, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "ok" })).status).toBe(200);
    return id!;
  } finally {
    await c.end();
  }
}

/** The identical statement run again after its grant was spent: a new approval is asked, nothing runs. */
async function asksAnew(sql: string, spent: string): Promise<void> {
  const { c } = await client(defer);
  try {
    const e = await refusal(c.query(sql));
    expect(e?.code).toBe("42501");
    const id = REQUESTED.exec(e?.message ?? "")?.[1];
    expect(id).toBeDefined();
    expect(id).not.toBe(spent);
  } finally {
    await c.end();
  }
}

describe("defer-mode grants spent on rolled-back work", () => {
  it("a re-run in a block the client rolls back: the UPDATE ran and was undone, the grant is spent, the next re-run asks anew", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 41";
    const before = await amount(41);
    const id = await granted(sql);
    const { c } = await client(defer);
    try {
      await c.query("BEGIN");
      expect((await c.query(sql)).rowCount).toBe(1);
      await c.query("ROLLBACK");
    } finally {
      await c.end();
    }
    expect(await amount(41)).toBe(before);
    expect((await api(defer, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
    await asksAnew(sql, id);
    expect(await amount(41)).toBe(before);
  });

  it("a re-run whose extended batch fails after it: the server rolls the batch back, the grant is spent", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 42";
    const before = await amount(42);
    const id = await granted(sql);
    const raw = await Raw.open(defer.url());
    try {
      raw.send(parse(sql), bind(), execute(), parse("SELECT 1/0"), bind(), execute(), sync());
      const got = await raw.readies(1);
      // The UPDATE ran (CommandComplete), then the division failed (planned at Bind) and the implicit transaction rolled back.
      expect(got.map((m) => m.type)).toEqual(["1", "2", "C", "1", "E", "Z"]);
    } finally {
      raw.close();
    }
    expect(await amount(42)).toBe(before);
    expect((await api(defer, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
    await asksAnew(sql, id);
    expect(await amount(42)).toBe(before);
  });

  it("a committed re-run spends it: the second identical run asks anew and the UPDATE applied once", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 43";
    const before = await amount(43);
    const id = await granted(sql);
    const { c } = await client(defer);
    try {
      expect((await c.query(sql)).rowCount).toBe(1);
    } finally {
      await c.end();
    }
    await asksAnew(sql, id);
    expect(await amount(43)).toBe(before + 1);
  });

  it("two connections re-run it at the same moment: exactly one runs, the other asks anew", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 44";
    const before = await amount(44);
    const id = await granted(sql);
    const a = await client(defer);
    const b = await client(defer);
    try {
      const run = (c: pg.Client) => c.query(sql).then((r) => r.rowCount, (e: Error) => e);
      const [ra, rb] = await Promise.all([run(a.c), run(b.c)]);
      const outcomes = [ra, rb].map((r) => (r === 1 ? "ran" : REQUESTED.test((r as Error | undefined)?.message ?? "") ? "asked anew" : String(r)));
      expect(outcomes.sort()).toEqual(["asked anew", "ran"]);
    } finally {
      await a.c.end();
      await b.c.end();
    }
    expect(await amount(44)).toBe(before + 1);
    expect((await api(defer, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
  });
});
