import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { opaBuild } from "../policy/opa.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { RELIABILITY_AGENT, startRegateChild, type RegateChild } from "../reliability/support/regate-child.js";
import { startRegate } from "../support/regate.js";
import { admin, connect, RESPONDER, running, startIncidentRegate, until } from "./support.js";

// Two regate processes share their locks through a table in the upstream database: a lock created on one
// ends the principal's session on the other (NOTIFY carries only the lock id; the other re-reads), refuses
// its new connections there, and is re-read after the other's listener reconnects.

let db: TestPostgres;
let a: TestRegate; // in this process: the responder talks to it
let b: RegateChild; // its own process, as a second replica

const shared = { locks: { store: "postgres", resync_seconds: 600 } };

beforeAll(async () => {
  db = await startPostgres();
  // regate creates its schema and table; its upstream role needs CREATE on the database for that.
  await db.query(`GRANT CREATE ON DATABASE ${db.database} TO ${db.users.scram.user}`);
  // Replica A runs a policy that allows everything: the lock table must be out of reach even so.
  const allowAll = join(mkdtempSync(join(tmpdir(), "regate-allow-all-")), "bundle.tar.gz");
  writeFileSync(allowAll, opaBuild({ revision: "allow-all" }));
  a = await startIncidentRegate(db, {
    policy: { bundle: allowAll, watch_interval_ms: 0 },
    incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }], ...shared },
  });
  b = await startRegateChild({ name: "locks-shared", pg: db, overrides: { incident: shared } });
}, 120_000);

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await db?.stop();
});

const refused = (url: string) => connect(url).then((c) => (void c.end(), undefined), (e: pg.DatabaseError) => e);

describe("locks shared by replicas (incident.locks.store: postgres)", () => {
  it("a lock made on one replica ends the principal's session on the other and keeps it out until removed", async () => {
    const c = await connect(b.url());
    const sleeping = c.query("SELECT pg_sleep(30)").then(() => undefined, (e: pg.DatabaseError) => e);
    await until(async () => (await running(db, "SELECT pg_sleep(30)")) === 1);

    const started = Date.now();
    const lock = (await admin(a, "POST", "/locks", { target: { principal: RELIABILITY_AGENT.user }, message: "shared lock from replica A" })).body;
    const err = await sleeping;
    const ms = Date.now() - started;
    expect(err?.code).toBe("57P01");
    expect(err?.message).toContain("shared lock from replica A");
    // Pushed by NOTIFY, not found by the 600 s re-read (the bound tells those apart with room for a loaded machine).
    expect(ms).toBeLessThan(10_000);
    await until(async () => (await running(db, "SELECT pg_sleep(30)")) === 0);
    expect((await refused(b.url()))?.message).toContain(`shared lock from replica A (lock ${lock.id})`);
    console.log(`lock on A ended the session on B in ${ms} ms`);

    expect((await admin(a, "DELETE", `/locks/${lock.id}`)).status).toBe(200);
    await until(async () => (await refused(b.url())) === undefined);
    await c.end().catch(() => undefined);
  });

  it("the other replica re-reads after its listener reconnects", async () => {
    const c = await connect(b.url());
    const ended = new Promise<Error>((resolve) => c.on("error", resolve));
    // Cut B's LISTEN connection, then lock while it may not be listening.
    await db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'regate-locks-listen'");
    const lock = (await admin(a, "POST", "/locks", { target: { principal: RELIABILITY_AGENT.user }, message: "made while B was deaf" })).body;
    expect((await ended).message).toContain("made while B was deaf");
    await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'regate-locks-listen'"))[0].n === 2);
    expect((await admin(a, "DELETE", `/locks/${lock.id}`)).status).toBe(200);
    await until(async () => (await refused(b.url())) === undefined);
  });

  it("agents cannot reach the lock table through regate, whatever the policy", async () => {
    const kept = (await admin(a, "POST", "/locks", { target: { principal: "nobody" }, message: "must survive" })).body;
    const c = await connect(a.url());
    try {
      for (const sql of ["SELECT * FROM regate.locks", "DELETE FROM regate.locks", "SET search_path = regate; DELETE FROM locks"]) {
        const err = await c.query(sql).then(() => undefined, (e: pg.DatabaseError) => e);
        expect(err?.code).toBe("42501");
        expect(err?.message).toContain("holds regate's locks");
      }
      // Code regate cannot see into is refused too while locks live in the database.
      const hidden = await c.query("DO $$ BEGIN DELETE FROM regate.locks; END $$").then(() => undefined, (e: pg.DatabaseError) => e);
      expect(hidden?.code).toBe("42501");
      expect(hidden?.message).toContain("regate cannot see what this statement runs");
      expect((await c.query("SELECT count(*)::int AS n FROM orders")).rows[0].n).toBeGreaterThan(0);
      expect(await db.query("SELECT id FROM regate.locks")).toEqual([{ id: kept.id }]);
    } finally {
      await c.end();
      await admin(a, "DELETE", `/locks/${kept.id}`);
    }
  });

  it("a replica whose role may not create schemas starts on a table made beforehand, and refuses to start without one", async () => {
    await db.query(`REVOKE CREATE ON DATABASE ${db.database} FROM ${db.users.scram.user}`);
    const c = await startRegate(db, { incident: shared });
    try {
      const lock = (await admin(a, "POST", "/locks", { target: { principal: "test-agent" }, message: "seen by the third replica" })).body;
      await until(async () => (await refused(c.url()))?.message.includes("seen by the third replica") === true);
      await admin(a, "DELETE", `/locks/${lock.id}`);
    } finally {
      await c.stop();
    }
    // Without its table and without the right to create it, regate does not start: it would admit locked agents.
    await expect(startRegate(db, { incident: { locks: { store: "postgres", schema: "regate_missing" } } })).rejects.toThrow(
      /cannot create or read the lock table regate_missing\.locks \(incident\.locks\.store: postgres\): .*permission denied/,
    );
  });
});
