import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "../reliability/support/bundles.js";
import { connectClient, outcomeCode } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// The speed pass keys the analysis cache's last entry, factsStamp and the reuse key on the search_path
// tracker's array: a path the tracker never learns is a path every one of those caches serves stale facts
// under. A function body (or a trigger) can change the path with set_config, which no statement's text shows;
// PostgreSQL 18 reports the change (ParameterStatus) and regate must take it (search-path.ts, reported).
// Companion of speed-redteam.test.ts.

let db: TestPostgres;

beforeAll(async () => {
  db = await startPostgres();
  // api_keys means a harmless empty table under the default path, and internal.api_keys once internal comes first.
  await db.query("CREATE TABLE IF NOT EXISTS public.api_keys (id int)");
});

afterAll(async () => {
  await db?.stop();
});

const outcome = outcomeCode;

/**
 * A policy that lets the agent call the database's own functions (a tenant switch, as multi-tenant schemas
 * have) and refuses internal.* wherever a name may resolve. The function's body changes the search_path
 * with set_config, which no statement's facts show: PostgreSQL 18 reports it (ParameterStatus), and what
 * the session sends next must be analysed under it (the analysis cache and factsStamp key on the tracker).
 */
const FUNCTIONS_ALLOWED = `package regate
import rego.v1

deny contains "internal.* is never accessible" if {
	some s in input.postgres.statements
	some t in s.tables
	"internal" in t.candidates
}

deny contains "unresolved relation" if {
	some s in input.postgres.statements
	some t in s.tables
	t.schema == null
	not "internal" in t.candidates
}

decision := {"allow": count(deny) == 0, "deny": sort([r | some r in deny]), "mask": []}
`;

describe("a policy that allows the database's own functions and refuses internal.* wherever a name may resolve", () => {
  let r: TestRegate;
  let secrets: number;

  beforeAll(async () => {
    await db.query(
      "CREATE OR REPLACE FUNCTION public.set_tenant(t text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('search_path', t || ', public', false); RETURN t; END $$",
    );
    secrets = Number((await db.query("SELECT count(*) AS n FROM internal.api_keys"))[0].n);
    expect(secrets).toBeGreaterThan(0);
    r = await startRegate(db, { policy: { bundle: buildBundle("functions-allowed", { "functions.rego": FUNCTIONS_ALLOWED }, false) } });
  });

  afterAll(async () => {
    await r?.stop();
  });

  it("a schema created earlier in the search_path by another connection (no catalog hooks): the repeated text follows it", async () => {
    const c = await connectClient(r.url());
    try {
      expect(await outcome(c, "SET search_path = speed_app, public")).toBe("ok");
      for (let i = 0; i < 3; i++) expect((await c.query("SELECT count(*)::int AS n FROM api_keys")).rows[0]).toEqual({ n: 0 });
      await db.query("CREATE SCHEMA speed_app; CREATE VIEW speed_app.api_keys AS SELECT id FROM internal.api_keys");
      await new Promise((res) => setTimeout(res, 2500));
      expect(await outcome(c, "SELECT count(*)::int AS n FROM api_keys")).toBe("42501");
      expect(await outcome(c, { text: "SELECT count(*)::int AS n FROM api_keys WHERE $1::int = 1", values: [1] })).toBe("42501");
    } finally {
      await c.end();
      await db.query("DROP SCHEMA IF EXISTS speed_app CASCADE");
    }
  });

  it.each([
    ["simple", (c: pg.Client) => c.query("SELECT count(*)::int AS n FROM api_keys")],
    ["extended", (c: pg.Client) => c.query({ text: "SELECT count(*)::int AS n FROM api_keys WHERE $1::int = 1", values: [1] })],
    ["prepared before the switch", (c: pg.Client) => c.query({ name: "keys", text: "SELECT count(*)::int AS n FROM api_keys WHERE $1::int = 1", values: [1] })],
  ])("%s: after a function body changed the search_path (no SET in any text; the server reports it), the same text no longer reaches internal.api_keys unseen", async (_mode, count) => {
    const c = await connectClient(r.url());
    try {
      for (let i = 0; i < 3; i++) expect((await count(c)).rows[0]).toEqual({ n: 0 });
      expect(await outcome(c, "SELECT set_tenant('internal')")).toBe("ok");
      // The server now reads internal.api_keys for this text: regate must not let it through as public's.
      const after = await count(c).then(
        (res) => `rows ${JSON.stringify(res.rows)}`,
        (e: pg.DatabaseError) => e.code ?? "?",
      );
      expect(after).toBe("42501");
      const line = r.decisions().at(-1)!;
      expect(line["input"].postgres.search_path).toContain("internal");
    } finally {
      await c.end();
    }
  });
});
