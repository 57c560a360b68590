// One agent cannot flood reviewers: past approvals.max_pending_per_agent, a statement that needs approval is
// refused without creating an approval, and nothing runs. Real PostgreSQL, the pg driver, a policy built by opa.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { approvalBundle, client, REVIEWER, startApprovingRegate } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db, { max_pending_per_agent: 2 }, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, mode: "defer" }));
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);

describe("approvals.max_pending_per_agent", () => {
  it("refuses a third pending approval with 54000, creates none, runs nothing; after a reviewer answers one, a new one is accepted", async () => {
    const { c } = await client(regate);
    try {
      const update = (id: number) => failure(c.query(`UPDATE payments SET amount = amount + 1 WHERE id = ${id}`));
      const before = await amount(103);
      for (const id of [101, 102]) expect((await update(id))?.message).toMatch(/approval requested as apr_/);
      const third = await update(103);
      expect(third?.code).toBe("54000");
      expect(third?.message).toMatch(/2 approvals of this agent are pending \(at most 2\)/);
      expect(regate.app.approvals!.list("pending")).toHaveLength(2);
      // The session goes on, and the statement did not run.
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      expect(await amount(103)).toBe(before);
      // A re-run of a pending one is still answered as pending (not refused as a new approval).
      expect((await update(101))?.message).toMatch(/still pending as apr_/);

      const [first] = regate.app.approvals!.list("pending");
      await regate.app.approvals!.refuse(first!.id, { name: REVIEWER.name, groups: ["dba-oncall"] }, "no");
      expect((await update(103))?.message).toMatch(/approval requested as apr_/);
      expect(await amount(103)).toBe(before);
    } finally {
      await c.end();
    }
  });
});
