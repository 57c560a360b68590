// Connection pools reset a session before handing it out again: Npgsql (by default, on every return to its
// pool) with `SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; …`, Rails' reset! and pgbouncer's
// server_reset_query with DISCARD ALL. Each puts the session back to its login role, which is where a
// session that began as its login role already is: allowed, and run. A session whose login role has a role
// default (ALTER ROLE … SET role) would gain the login role's rights: refused, and not run.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { attemptOn, connectClient } from "../support/attempt.js";

const NPGSQL_RESET = "SET SESSION AUTHORIZATION DEFAULT;RESET ALL;CLOSE ALL;UNLISTEN *;SELECT pg_advisory_unlock_all();DISCARD SEQUENCES;DISCARD TEMP";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  const login = db.users.scram.user;
  await db.query(`CREATE ROLE agent_reader NOLOGIN; GRANT agent_reader TO ${login}; GRANT SELECT ON public.orders TO agent_reader`);
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

async function whoAmI(client: pg.Client): Promise<{ current_user: string; session_user: string }> {
  const r = await client.query("SELECT current_user, session_user");
  return r.rows[0] as { current_user: string; session_user: string };
}

describe("a session that began as its login role", () => {
  it("runs Npgsql's pool reset: the settings it changed are back, the role is unchanged", async () => {
    const started = (await agent.query("SHOW application_name")).rows[0];
    await agent.query("SET application_name = 'before-reset'");
    const r = await attemptOn(agent, NPGSQL_RESET);
    expect(r.code).toBeUndefined();
    expect((await agent.query("SHOW application_name")).rows[0]).toEqual(started);
    expect(await whoAmI(agent)).toEqual({ current_user: db.users.scram.user, session_user: db.users.scram.user });
  });

  it("runs DISCARD ALL as Rails' reset! sends it (after a ROLLBACK) and as pgbouncer does", async () => {
    await agent.query("BEGIN");
    await agent.query("SELECT 1");
    await agent.query("ROLLBACK");
    await agent.query("PREPARE by_id AS SELECT id FROM orders WHERE id = $1");
    const r = await attemptOn(agent, "DISCARD ALL");
    expect(r.code).toBeUndefined();
    // The server dropped the prepared statement, and regate knows it (an EXECUTE of it cannot be judged).
    const gone = await attemptOn(agent, "EXECUTE by_id(1)");
    expect(gone.message).toContain('prepared statement "by_id" is not known');
    expect(await whoAmI(agent)).toEqual({ current_user: db.users.scram.user, session_user: db.users.scram.user });
  });

  it.each(["RESET ROLE", "SET ROLE NONE", "RESET SESSION AUTHORIZATION", "SET role TO DEFAULT", "SET LOCAL ROLE NONE"])("runs %s", async (sql) => {
    const r = await attemptOn(agent, sql);
    expect(r.code).toBeUndefined();
    expect((await whoAmI(agent)).current_user).toBe(db.users.scram.user);
  });

  it.each([
    ["SET ROLE agent_reader", "changing the session role is not allowed"],
    ["SET ROLE 'NONE'", "changing the session role is not allowed"],
    ["DISCARD ALL; SET ROLE agent_reader", "changing the session role is not allowed"],
    ["SELECT set_config('role', 'agent_reader', false)", "changing the session role is not allowed"],
  ])("still refuses %s", async (sql, reason) => {
    const r = await attemptOn(agent, sql);
    expect(r.code).toBe("42501");
    expect(r.message).toContain(reason);
    expect((await whoAmI(agent)).current_user).toBe(db.users.scram.user);
  });
});

describe("a session whose login role has a role default", () => {
  let other: pg.Client;
  beforeAll(async () => {
    await db.query(`ALTER ROLE ${db.users.scram.user} SET role = 'agent_reader'`);
    other = await connectClient(regate.url());
  });
  afterAll(async () => {
    await other?.end().catch(() => undefined);
    await db.query(`ALTER ROLE ${db.users.scram.user} RESET role`);
  });

  it.each(["DISCARD ALL", NPGSQL_RESET, "RESET ROLE", "SET ROLE NONE", "SET SESSION AUTHORIZATION DEFAULT"])(
    "refuses %s, which would run it as the login role",
    async (sql) => {
      expect((await whoAmI(other)).current_user).toBe("agent_reader");
      const r = await attemptOn(other, sql);
      expect(r.code).toBe("42501");
      expect(r.message).toContain("changing the session role is not allowed");
      expect((await whoAmI(other)).current_user).toBe("agent_reader");
    },
  );
});
