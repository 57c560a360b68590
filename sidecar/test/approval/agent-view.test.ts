// An agent asks about its own approvals: SELECT * FROM regate.approvals, answered by regate itself (the
// server has no such table), showing only that agent's approvals; real PostgreSQL, pg driver and psql.
import { execFile } from "node:child_process";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, type TestRegate } from "../support/regate.js";
import { api, approvalBundle, client, startApprovingRegate } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;
const OTHER = { user: "other-agent", token: "other-agent-token-0b1d" };
let mine: string;
let theirs: string;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: [], timeout_seconds: 120, mode: "defer" }), {
    agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }, { subject: OTHER.user, groups: ["agents"], token: { value: OTHER.token } }] },
  });
  const ask = async (url: string, sql: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const e = (await c.query(sql).catch((x: Error) => x)) as Error;
      return /approval requested as (apr_[0-9a-f]{16})/.exec(e.message)![1]!;
    } finally {
      await c.end();
    }
  };
  mine = await ask(regate.url(), "UPDATE payments SET amount = amount + 1 WHERE id = 51");
  theirs = await ask(regate.url(OTHER.user, OTHER.token), "UPDATE payments SET amount = amount + 1 WHERE id = 52");
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

describe("SELECT * FROM regate.approvals", () => {
  it("lists only the agent's own approvals, with their status, reason, statement and times", async () => {
    const { c } = await client(regate);
    try {
      const r = await c.query("SELECT * FROM regate.approvals");
      expect(r.fields.map((f) => f.name)).toEqual(["id", "status", "reason", "statement", "requested_at", "expires_at", "decided_at", "comment", "grant_expires_at", "used_at"]);
      expect(r.rows).toEqual([
        { id: mine, status: "pending", reason: "payments writes need approval", statement: "UPDATE payments SET amount = amount + 1 WHERE id = 51", requested_at: expect.any(String), expires_at: expect.any(String), decided_at: null, comment: null, grant_expires_at: null, used_at: null },
      ]);
      expect(r.rowCount).toBe(1);
      expect((await c.query(`SELECT * FROM regate.approvals WHERE id = '${theirs}'`)).rows).toEqual([]);
      expect((await c.query(`select * from regate.approvals where id = '${mine}';`)).rows.map((x) => x.id)).toEqual([mine]);
      // The other agent sees its own, not this one's.
      const other = new pg.Client({ connectionString: regate.url(OTHER.user, OTHER.token) });
      await other.connect();
      try {
        expect((await other.query("SELECT * FROM regate.approvals")).rows.map((x) => x.id)).toEqual([theirs]);
      } finally {
        await other.end();
      }
    } finally {
      await c.end();
    }
  });

  it("follows the approval: approved by a reviewer, then used by the re-run", async () => {
    const { c } = await client(regate);
    try {
      const a = (await api(regate, `/approvals/${mine}`)).body;
      await api(regate, `/approvals/${mine}/approve`, { sha256: a.sha256, comment: "go" });
      let row = (await c.query(`SELECT * FROM regate.approvals WHERE id = '${mine}'`)).rows[0];
      expect(row).toMatchObject({ status: "approved", comment: "go", decided_at: expect.any(String), grant_expires_at: expect.any(String), used_at: null });
      await c.query("UPDATE payments SET amount = amount + 1 WHERE id = 51");
      row = (await c.query(`SELECT * FROM regate.approvals WHERE id = '${mine}'`)).rows[0];
      expect(row.used_at).toEqual(expect.any(String));
    } finally {
      await c.end();
    }
  });

  it("inside a transaction block: answered, and the block goes on to COMMIT", async () => {
    const { c } = await client(regate);
    try {
      await c.query("BEGIN");
      await c.query("SELECT 1");
      expect((await c.query("SELECT * FROM regate.approvals")).rows.length).toBeGreaterThan(0);
      expect((await c.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
      await c.query("COMMIT");
    } finally {
      await c.end();
    }
  });

  it("pipelined between other simple queries (postgres.js, one connection) the answer keeps its place", async () => {
    const sql = postgres(regate.url(), { max: 1, onnotice: () => {} });
    try {
      const [a, b, c, d] = await Promise.all([
        sql.unsafe("SELECT 'before' AS x").simple(),
        sql.unsafe("SELECT * FROM regate.approvals").simple(),
        sql.unsafe("SELECT 'after' AS x").simple(),
        sql.unsafe(`SELECT * FROM regate.approvals WHERE id = '${mine}'`).simple(),
      ]);
      expect([...a]).toEqual([{ x: "before" }]);
      expect([...b].map((r) => r["id"])).toEqual([mine]);
      expect([...c]).toEqual([{ x: "after" }]);
      expect([...d].map((r) => r["id"])).toEqual([mine]);
    } finally {
      await sql.end();
    }
  });

  it("extended protocol: pg with a parameter, postgres.js prepared statements; only the agent's own", async () => {
    const { c } = await client(regate);
    try {
      const r = await c.query("SELECT * FROM regate.approvals WHERE id = $1", [mine]);
      expect(r.fields.map((f) => f.name)).toEqual(["id", "status", "reason", "statement", "requested_at", "expires_at", "decided_at", "comment", "grant_expires_at", "used_at"]);
      expect(r.rows.map((x) => x.id)).toEqual([mine]);
      expect((await c.query("SELECT * FROM regate.approvals WHERE id = $1", [theirs])).rows).toEqual([]);
      expect((await c.query({ text: "SELECT * FROM regate.approvals", values: [] })).rows.map((x) => x.id)).toEqual([mine]);
      expect((await c.query({ name: "mine", text: `SELECT * FROM regate.approvals WHERE id = '${mine}'` })).rows.map((x) => x.id)).toEqual([mine]);
      expect((await c.query({ name: "mine", text: `SELECT * FROM regate.approvals WHERE id = '${mine}'` })).rowCount).toBe(1);
    } finally {
      await c.end();
    }
    const sql = postgres(regate.url(OTHER.user, OTHER.token), { max: 1, prepare: true, onnotice: () => {} });
    try {
      expect([...(await sql`SELECT * FROM regate.approvals WHERE id = ${theirs}`)].map((x) => x["status"])).toEqual(["pending"]);
      expect([...(await sql`SELECT * FROM regate.approvals WHERE id = ${mine}`)]).toEqual([]);
      expect([...(await sql`SELECT * FROM regate.approvals`)].map((x) => x["id"])).toEqual([theirs]);
    } finally {
      await sql.end();
    }
  });

  it("other shapes are refused clearly (0A000) in both protocols, and the session goes on", async () => {
    const { c } = await client(regate);
    try {
      const e1 = (await c.query("SELECT id FROM regate.approvals").catch((x: pg.DatabaseError) => x)) as pg.DatabaseError;
      expect(e1.code).toBe("0A000");
      expect(e1.message).toMatch(/^regate refused this statement: regate\.approvals answers only SELECT \* FROM regate\.approvals \[WHERE id = 'apr_…'\]/);
      const e2 = (await c.query("SELECT id FROM regate.approvals WHERE id = $1", [mine]).catch((x: pg.DatabaseError) => x)) as pg.DatabaseError;
      expect(e2.code).toBe("0A000");
      expect(e2.message).toMatch(/regate\.approvals answers only SELECT \* FROM regate\.approvals \[WHERE id = 'apr_…'\] \(or WHERE id = \$1\)/);
      expect((await c.query("SELECT 3 AS three")).rows).toEqual([{ three: 3 }]);
    } finally {
      await c.end();
    }
  });

  it("psql -c prints the agent's rows", async () => {
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile("psql", [regate.url(OTHER.user, OTHER.token), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", "SELECT * FROM regate.approvals"], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
    });
    expect(out.stderr).toBe("");
    expect(out.stdout.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`^${theirs}\\|pending\\|payments writes need approval\\|UPDATE payments SET amount = amount \\+ 1 WHERE id = 52\\|`))]);
  });
});
