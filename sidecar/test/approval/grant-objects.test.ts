// A grant is for what the reviewer approved, not for its text alone: between the approval and the re-run, the
// same text can come to mean other objects (a function or view replaced, a temporary view or a table of an
// earlier schema of the search_path shadowing the approved relation, a relation dropped and another put under
// its name). Such a re-run does not spend the grant; it asks anew. Real PostgreSQL, real regate, the pg driver;
// judged by what the server returned or changed.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opaBuild } from "../policy/opa.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, client, heldId, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;
let policy: string;

/** Every SELECT, DELETE, EXECUTE or FETCH needs approval (deferred; held when its text says `held`); DDL is allowed. */
function bundle(): string {
  const rego = `package regate

needs_approval if {
	some s in input.postgres.statements
	s.kind in {"select", "delete", "execute", "fetch"}
}

mode := "hold" if {
	some s in input.postgres.statements
	contains(s.sql, "held")
} else := "defer"

approval := {"approve": {"reason": "reads need approval", "approvers": "dba-oncall", "timeout_seconds": 120, "hold_max_seconds": 30, "mode": mode, "grant_seconds": 120}} if needs_approval
else := {}

decision := object.union({"allow": true, "deny": [], "mask": []}, approval)
`;
  const path = join(mkdtempSync(join(tmpdir(), "regate-grant-objects-")), "bundle.tar.gz");
  writeFileSync(path, opaBuild({ revision: "grant-objects", rego }));
  return path;
}

const SECRET = "sk_live_grant_objects_7f3a";
const REQUESTED = /approval requested as (apr_[0-9a-f]{16})/;
/** Made as the role regate connects as, so that the agent may replace or drop what it made. */
const own = (sql: string) => db.query(`SET ROLE app_scram; ${sql}; RESET ROLE`);
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);

beforeAll(async () => {
  db = await startPostgres();
  await db.query(`INSERT INTO internal.api_keys (owner, secret) VALUES ('ops', '${SECRET}')`);
  await db.query("CREATE SCHEMA app_scram AUTHORIZATION app_scram");
  // regate creates its approvals schema and table (approvals.store: postgres) as its upstream role.
  await db.query("GRANT CREATE ON DATABASE regate_test TO app_scram");
  policy = bundle();
  regate = await startApprovingRegate(db, {}, policy);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

/** Asks for approval of `sql` on `c` (refused at once, defer mode) and approves it: a grant for one identical re-run. */
async function grant(on: TestRegate, c: pg.Client, sql: string): Promise<string> {
  const e = await refusal(c.query(sql));
  const id = REQUESTED.exec(e?.message ?? "")?.[1];
  expect(id, e?.message).toBeDefined();
  const a = (await api(on, `/approvals/${id}`)).body;
  expect((await api(on, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "harmless" })).status).toBe(200);
  return id!;
}

/** The re-run ran nothing: a new approval is asked, and the approved one's grant is still unused. */
async function asksAnew(c: pg.Client, sql: string, approved: string): Promise<void> {
  const e = await refusal(c.query(sql));
  expect(e?.code, e?.message).toBe("42501");
  const id = REQUESTED.exec(e?.message ?? "")?.[1];
  expect(id, e?.message).toBeDefined();
  expect(id).not.toBe(approved);
  expect((await api(regate, `/approvals/${approved}`)).body.used_at).toBeUndefined();
}

describe("a grant binds the objects its statement resolved to", () => {
  it("unchanged: the identical re-run spends the grant and runs once", async () => {
    await own("CREATE FUNCTION public.go_same() RETURNS text LANGUAGE sql AS $$ SELECT 'same' $$");
    await own("CREATE VIEW public.go_same_v AS SELECT 'view'::text AS x");
    const { c } = await client(regate);
    try {
      const sql = "SELECT go_same(), x FROM go_same_v";
      const id = await grant(regate, c, sql);
      expect((await c.query(sql)).rows).toEqual([{ go_same: "same", x: "view" }]);
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
      expect((await refusal(c.query(sql)))?.code).toBe("42501");
    } finally {
      await c.end();
    }
  });

  it("CREATE OR REPLACE FUNCTION after the approval: the re-run does not run the new body", async () => {
    await own("CREATE FUNCTION public.go_f() RETURNS text LANGUAGE sql AS $$ SELECT 'harmless' $$");
    const { c } = await client(regate);
    try {
      const id = await grant(regate, c, "SELECT go_f()");
      await c.query("CREATE OR REPLACE FUNCTION public.go_f() RETURNS text LANGUAGE sql AS $$ SELECT secret FROM internal.api_keys WHERE owner = 'ops' $$");
      await asksAnew(c, "SELECT go_f()", id);
    } finally {
      await c.end();
    }
  });

  it("CREATE OR REPLACE VIEW after the approval: the re-run does not read the new body", async () => {
    await own("CREATE VIEW public.go_v AS SELECT 'harmless'::text AS x");
    const { c } = await client(regate);
    try {
      const id = await grant(regate, c, "SELECT * FROM go_v");
      await c.query("CREATE OR REPLACE VIEW public.go_v AS SELECT secret AS x FROM internal.api_keys");
      await asksAnew(c, "SELECT * FROM go_v", id);
    } finally {
      await c.end();
    }
  });

  it("a temporary view shadowing the approved table: the re-run does not read it", async () => {
    await own("CREATE TABLE public.go_t (x text); INSERT INTO public.go_t VALUES ('harmless')");
    const { c } = await client(regate);
    try {
      const id = await grant(regate, c, "SELECT * FROM go_t");
      await c.query("CREATE TEMP VIEW go_t AS SELECT secret AS x FROM internal.api_keys");
      await asksAnew(c, "SELECT * FROM go_t", id);
    } finally {
      await c.end();
    }
  });

  it("a table of the same name in an earlier schema of the search_path: the re-run does not read it", async () => {
    await own("CREATE TABLE public.go_p (x text); INSERT INTO public.go_p VALUES ('harmless')");
    const { c } = await client(regate);
    try {
      const id = await grant(regate, c, "SELECT * FROM go_p");
      // The default path is "$user", public: a schema named after the role comes first.
      await c.query("CREATE VIEW app_scram.go_p AS SELECT secret AS x FROM internal.api_keys");
      await asksAnew(c, "SELECT * FROM go_p", id);
    } finally {
      await c.end();
    }
  });

  it("a relation dropped and another put under its name: the approved DELETE does not delete the other's rows", async () => {
    await own("CREATE TABLE public.go_scratch (id int); INSERT INTO public.go_scratch VALUES (1)");
    await own("CREATE TABLE public.go_ledger (id int); INSERT INTO public.go_ledger SELECT g FROM generate_series(1, 5) g");
    const { c } = await client(regate);
    try {
      const id = await grant(regate, c, "DELETE FROM go_scratch");
      await c.query("DROP TABLE public.go_scratch");
      await c.query("ALTER TABLE public.go_ledger RENAME TO go_scratch");
      await asksAnew(c, "DELETE FROM go_scratch", id);
      expect((await db.query("SELECT count(*)::int AS n FROM public.go_scratch"))[0].n).toBe(5);
    } finally {
      await c.end();
    }
  });

  it("a prepared statement prepared again under its name: the approved EXECUTE does not run the new one", async () => {
    await own("CREATE TABLE public.go_e (id int); INSERT INTO public.go_e SELECT g FROM generate_series(1, 3) g");
    const { c } = await client(regate);
    try {
      await c.query("PREPARE go_p AS SELECT id FROM go_e");
      const id = await grant(regate, c, "EXECUTE go_p");
      await c.query("DEALLOCATE go_p");
      await c.query("PREPARE go_p AS DELETE FROM go_e RETURNING id");
      await asksAnew(c, "EXECUTE go_p", id);
      expect((await db.query("SELECT count(*)::int AS n FROM public.go_e"))[0].n).toBe(3);
    } finally {
      await c.end();
    }
  });

  it("unchanged: EXECUTE of the same prepared statement spends the grant", async () => {
    await own("CREATE TABLE public.go_e2 (id int); INSERT INTO public.go_e2 VALUES (7)");
    const { c } = await client(regate);
    try {
      await c.query("PREPARE go_q AS SELECT id FROM go_e2");
      const id = await grant(regate, c, "EXECUTE go_q");
      expect((await c.query("EXECUTE go_q")).rows).toEqual([{ id: 7 }]);
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
    } finally {
      await c.end();
    }
  });

  it("a cursor declared again under its name: the approved FETCH does not read the new one", async () => {
    await own("CREATE TABLE public.go_c (x text); INSERT INTO public.go_c VALUES ('harmless')");
    const { c } = await client(regate);
    try {
      await c.query("DECLARE go_cur CURSOR WITH HOLD FOR SELECT x FROM go_c");
      const id = await grant(regate, c, "FETCH ALL FROM go_cur");
      await c.query("CLOSE go_cur");
      await c.query("DECLARE go_cur CURSOR WITH HOLD FOR SELECT x || x AS x FROM go_c");
      await asksAnew(c, "FETCH ALL FROM go_cur", id);
    } finally {
      await c.end();
    }
  });

  it("held, and the view replaced by another connection before the reviewer approves: the held statement does not run", async () => {
    await own("CREATE VIEW public.go_hv AS SELECT 'harmless'::text AS x");
    const { c, notices } = await client(regate);
    try {
      const run = refusal(c.query("SELECT * FROM go_hv /* held */"));
      const id = await until(() => heldId(notices));
      const a = (await api(regate, `/approvals/${id}`)).body;
      await own("CREATE OR REPLACE VIEW public.go_hv AS SELECT secret AS x FROM internal.api_keys");
      await api(regate, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "harmless" });
      const e = await run;
      expect(e?.message, "the held statement ran").toMatch(/was for other objects than the held statement names now/);
      expect(await db.query("SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
    } finally {
      await c.end();
    }
  });

  it("the review names a shadowing or temporary relation by its schema", async () => {
    await own("CREATE TABLE public.go_shown (x text); CREATE TABLE app_scram.go_shown (x text); CREATE TABLE public.go_shown_t (x text)");
    const { c } = await client(regate);
    try {
      await c.query("CREATE TEMP TABLE go_shown_t (x text)");
      const notesOf = async (sql: string) => {
        const e = await refusal(c.query(sql));
        const id = REQUESTED.exec(e?.message ?? "")?.[1];
        expect(id, e?.message).toBeDefined();
        return ((await api(regate, `/approvals/${id}`)).body.statement.notes ?? []).join("\n");
      };
      expect(await notesOf("SELECT * FROM go_shown")).toContain("table app_scram.go_shown (before public.go_shown)");
      expect(await notesOf("SELECT * FROM go_shown_t")).toMatch(/temporary table pg_temp_[0-9]+\.go_shown_t \(before public\.go_shown_t\)/);
    } finally {
      await c.end();
    }
  });
});

describe("grants in the shared store (approvals.store: postgres) across a restart", () => {
  it("the identical re-run with nothing changed spends the grant given before the restart", async () => {
    await own("CREATE FUNCTION public.go_r() RETURNS text LANGUAGE sql AS $$ SELECT 'restart' $$");
    const first = await startApprovingRegate(db, { store: "postgres" }, policy);
    let id: string;
    const one = await client(first);
    try {
      id = await grant(first, one.c, "SELECT go_r()");
    } finally {
      await one.c.end();
      await first.stop();
    }
    const second = await startApprovingRegate(db, { store: "postgres" }, policy);
    const two = await client(second);
    try {
      expect((await two.c.query("SELECT go_r()")).rows).toEqual([{ go_r: "restart" }]);
      expect((await api(second, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
      // The same store, a function replaced: the grant given before the restart is not spent.
      await own("CREATE FUNCTION public.go_r2() RETURNS text LANGUAGE sql AS $$ SELECT 'restart' $$");
      const other = await grant(second, two.c, "SELECT go_r2()");
      // With the store in the database, regate refuses a function body it cannot read: another connection replaces it.
      await own("CREATE OR REPLACE FUNCTION public.go_r2() RETURNS text LANGUAGE sql AS $$ SELECT secret FROM internal.api_keys WHERE owner = 'ops' $$");
      const e = await refusal(two.c.query("SELECT go_r2()"));
      expect(e?.code, e?.message).toBe("42501");
      expect(REQUESTED.exec(e?.message ?? "")?.[1]).not.toBe(other);
      expect((await api(second, `/approvals/${other}`)).body.used_at).toBeUndefined();
    } finally {
      await two.c.end();
      await second.stop();
    }
  });
});
