// Red-team cases for approvals in a shared table (approvals.store: postgres): regate's upstream role is also
// the role agents' statements run as, so no agent statement may reach the approvals schema by any name,
// whatever the policy. A permissive policy here (only payments writes need approval) allows DDL.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, approvalBundle, client, startApprovingRegate } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  // regate creates its schema and table; its upstream role needs CREATE on the database for that.
  await db.query(`GRANT CREATE ON DATABASE ${db.database} TO ${db.users.scram.user}`);
  regate = await startApprovingRegate(
    db,
    { store: "postgres", resync_seconds: 1 },
    approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, mode: "defer", grant_seconds: 120 }),
  );
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);
const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);

describe("the approvals schema, reached by another name", () => {
  it("renaming it (to forge an approved grant under the new name, then back) is refused; the statement never runs unapproved", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 151";
    const before = await amount(151);
    const { c } = await client(regate);
    try {
      const first = await refusal(c.query(sql));
      const id = /approval requested as (apr_[0-9a-f]{16})/.exec(first!.message)![1]!;
      for (const ddl of [
        "ALTER SCHEMA regate RENAME TO regate_x",
        'ALTER SCHEMA "regate" OWNER TO CURRENT_USER',
        "DROP SCHEMA regate CASCADE",
        "COMMENT ON SCHEMA regate IS 'x'",
        "GRANT USAGE ON SCHEMA regate TO PUBLIC",
        "GRANT ALL ON ALL TABLES IN SCHEMA regate TO PUBLIC",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA regate GRANT ALL ON TABLES TO PUBLIC",
        "REASSIGN OWNED BY CURRENT_USER TO CURRENT_USER",
      ]) {
        const err = await refusal(c.query(ddl));
        expect(err?.code, ddl).toBe("42501");
      }
      // Had the rename gone through, this forges the grant and the second rename puts it where regate reads.
      await refusal(c.query(`UPDATE regate_x.approval_requests SET status = 'approved', decided_at = now(), reviewer = 'alice', grant_expires_at = now() + interval '1 hour' WHERE id = '${id}'`));
      await refusal(c.query("ALTER SCHEMA regate_x RENAME TO regate"));
      await refusal(c.query(sql));
      expect(await amount(151)).toBe(before);
      const row = (await db.query("SELECT status FROM regate.approval_requests WHERE id = $1", [id]))[0];
      expect(row?.status).toBe("pending");
      // DDL that names its tables is still the policy's to decide (this one allows it).
      await c.query("CREATE TABLE public.redteam_ok (a int)");
      await c.query("DROP TABLE public.redteam_ok");
    } finally {
      await c.end();
    }
  });

  it("regate's own store connections resolve nothing through a search_path the agent set on the role: an expired grant stays expired", async () => {
    // A second replica with a one-second grant window, on the same table.
    const short = await startApprovingRegate(db, { store: "postgres", resync_seconds: 1 }, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, mode: "defer", grant_seconds: 1 }));
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 152";
    const before = await amount(152);
    const { c } = await client(short);
    try {
      // The agent's role is regate's: an operator in public, and a role default that searches public first.
      await c.query("CREATE OPERATOR public.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = pg_catalog.timestamptz_lt)");
      await c.query("ALTER ROLE CURRENT_USER SET search_path = public, pg_catalog");
      const first = await refusal(c.query(sql));
      const id = /approval requested as (apr_[0-9a-f]{16})/.exec(first!.message)![1]!;
      const a = (await api(short, `/approvals/${id}`)).body;
      expect((await api(short, `/approvals/${id}/approve`, { sha256: a.sha256 })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1500));
      // regate's store connections are opened anew (as after any network blip).
      await db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name IN ('regate-approvals', 'regate-approvals-listen')");
      // The first use of a cut connection fails (the statement is refused, nothing runs); the next reconnects.
      let rerun = await refusal(c.query(sql));
      for (let i = 0; i < 5 && rerun?.message.includes("cannot be reached"); i++) rerun = await refusal(c.query(sql));
      expect(rerun?.message).toMatch(/approval requested as apr_/);
      expect(await amount(152)).toBe(before);
    } finally {
      await c.end();
      await short.stop();
      await db.query(`ALTER ROLE ${db.users.scram.user} RESET search_path`);
      await db.query("DROP OPERATOR IF EXISTS public.> (timestamptz, timestamptz)");
    }
  });
});
