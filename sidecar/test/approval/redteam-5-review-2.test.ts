// Review of the "definitions unsettled" refusal (redteam-5.test.ts): a statement needing approval after DDL
// earlier in its own open transaction is refused, as regate's catalog connection cannot see that DDL. The
// refusal went by the statement kind `ddl` only. The same change made by a statement whose effect regate
// cannot see (DO, CALL, or a function of the agent's own that runs ALTER TABLE) rode on the grant: the
// approved `DELETE FROM scratch`, re-run in the block, deleted the rows of a table made its child there. Any
// such statement now leaves the session's definitions unsettled until the block ends, as DDL does.
//
// Also found: DDL in an autocommit Query and a statement needing approval pipelined behind it. The DDL is
// committed before the statement runs, and the approval should be asked of the committed definitions
// (redteam-5.test.ts "DDL pipelined just ahead of the re-run"); but the refusal was decided on whether the
// DDL's ReadyForQuery had arrived yet: a slow DDL (or a loaded host) and the statement was refused as
// unsettled. It now waits for what was sent before it to be answered, then decides.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opaBuild } from "../policy/opa.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { query, Raw } from "../support/raw-pg.js";
import { api, client, startApprovingRegate } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;

/** Every DELETE needs approval (deferred, with a grant); everything else is allowed. */
function bundle(): string {
  const rego = `package regate

needs_approval if {
	some s in input.postgres.statements
	s.kind == "delete"
}

approval := {"approve": {"reason": "deletes need approval", "approvers": "dba-oncall", "timeout_seconds": 120, "mode": "defer", "grant_seconds": 120}} if needs_approval
else := {}

decision := object.union({"allow": true, "deny": [], "mask": []}, approval)
`;
  const path = join(mkdtempSync(join(tmpdir(), "regate-redteam-5-review-2-")), "bundle.tar.gz");
  writeFileSync(path, opaBuild({ revision: "redteam-5-review-2", rego }));
  return path;
}

const REQUESTED = /approval requested as (apr_[0-9a-f]{16})/;
const UNSETTLED = /cannot be approved now: its session changed definitions/;
const own = (sql: string) => db.query(`SET ROLE app_scram; ${sql}; RESET ROLE`);
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);
const count = async (table: string) => Number((await db.query(`SELECT count(*)::int AS n FROM ONLY ${table}`))[0]!.n);

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db, {}, bundle());
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function tables(prefix: string): Promise<{ scratch: string; ledger: string }> {
  const scratch = `public.${prefix}_scratch`;
  const ledger = `public.${prefix}_ledger`;
  await own(`CREATE TABLE ${scratch} (tag text, amount int); INSERT INTO ${scratch} VALUES ('old', 1), ('old', 2)`);
  await own(`CREATE TABLE ${ledger} (tag text, amount int); INSERT INTO ${ledger} VALUES ('old', 100), ('old', 200), ('old', 300)`);
  return { scratch, ledger };
}

async function grant(c: pg.Client, sql: string): Promise<string> {
  const e = await refusal(c.query(sql));
  const id = REQUESTED.exec(e?.message ?? "")?.[1];
  expect(id, e?.message).toBeDefined();
  const a = (await api(regate, `/approvals/${id}`)).body;
  expect((await api(regate, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "clears scratch rows" })).status).toBe(200);
  return id!;
}

describe("a table made a child in the re-run's block by a statement whose effect regate cannot see", () => {
  const ways: [string, (scratch: string, ledger: string, prefix: string) => Promise<string>][] = [
    ["DO", async (scratch, ledger) => `DO $$ BEGIN EXECUTE 'ALTER TABLE ${ledger} INHERIT ${scratch}'; END $$`],
    [
      "CALL of the agent's own procedure",
      async (scratch, ledger, prefix) => {
        await own(`CREATE PROCEDURE public.${prefix}_adopt() LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE ${ledger} INHERIT ${scratch}; END $$`);
        return `CALL public.${prefix}_adopt()`;
      },
    ],
    [
      "SELECT of the agent's own function",
      async (scratch, ledger, prefix) => {
        await own(`CREATE FUNCTION public.${prefix}_adopt() RETURNS int LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE ${ledger} INHERIT ${scratch}; RETURN 1; END $$`);
        return `SELECT ${prefix}_adopt()`;
      },
    ],
  ];
  it.each(ways.map(([name, make], i) => [name, make, `rt5r2_${i}`] as const))("%s: the re-run on the grant does not delete the child's rows", async (_name, make, prefix) => {
    const { scratch, ledger } = await tables(prefix);
    const change = await make(scratch, ledger, prefix);
    const { c } = await client(regate);
    try {
      const sql = `DELETE FROM ${scratch} WHERE tag = 'old'`;
      const id = await grant(c, sql);
      await c.query("BEGIN");
      await c.query(change);
      const e = await refusal(c.query(sql));
      // Committed whatever happened: a DELETE that ran shows in the rows left.
      await c.query("COMMIT").catch(() => undefined);
      await c.query("ROLLBACK").catch(() => undefined);
      expect(await count(ledger), "the approved DELETE deleted the ledger's rows").toBe(3);
      expect(e?.code, e?.message).toBe("42501");
      expect(e?.message).toMatch(UNSETTLED);
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toBeUndefined();
      // The session goes on.
      expect((await c.query("SELECT 1 AS ok")).rows).toEqual([{ ok: 1 }]);
    } finally {
      await c.end();
    }
  });

  it("must still spend the grant after a block that called only built-in functions", async () => {
    const { scratch, ledger } = await tables("rt5r2_builtin");
    const { c } = await client(regate);
    try {
      const sql = `DELETE FROM ${scratch} WHERE tag = 'old'`;
      await grant(c, sql);
      await c.query("BEGIN");
      await c.query("SELECT now(), random(), lower('X'), pg_catalog.md5('x')");
      expect((await c.query(sql)).rowCount).toBe(2);
      await c.query("COMMIT");
      expect(await count(ledger)).toBe(3);
    } finally {
      await c.end();
    }
  });
});

describe("DDL in an autocommit Query still running when a statement needing approval is pipelined behind it", () => {
  it("is committed by the time the statement runs: approval is asked, not refused as unsettled", async () => {
    const { scratch, ledger } = await tables("rt5r2_slow");
    const raw = await Raw.open(regate.url());
    try {
      // One Query, its own implicit transaction: committed at its ReadyForQuery, half a second from now.
      raw.send(query(`ALTER TABLE ${ledger} INHERIT ${scratch}; SELECT pg_sleep(0.5)`), query(`DELETE FROM ${scratch} WHERE tag = 'old'`));
      await raw.until((m) => m.filter((x) => x.type === "Z").length === 2);
      const errors = raw.messages.filter((m) => m.type === "E").map((m) => m.body.toString("latin1"));
      expect(errors).toHaveLength(1);
      expect(errors[0]).not.toMatch(UNSETTLED);
      expect(errors[0]).toMatch(REQUESTED);
      // The reviewer is told of the child the DELETE now reaches.
      const id = REQUESTED.exec(errors[0]!)![1]!;
      expect(((await api(regate, `/approvals/${id}`)).body.statement.notes ?? []).join("\n")).toContain(`(a child of ${scratch})`);
      expect(await count(ledger)).toBe(3);
    } finally {
      raw.close();
    }
  });
});
