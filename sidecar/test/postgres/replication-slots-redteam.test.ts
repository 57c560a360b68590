// Replication slots, through regate with the example policy, judged by the bytes the agent got. An upstream role
// with REPLICATION (or a superuser) on a server with a logical slot (a CDC pipeline's) could read every change
// the slot holds with pg_logical_slot_peek_changes: customer 2's UPDATE came back with her SSN, email, phone and
// card number in the clear, as text that names no column regate could mask. get/advance/copy also consume or
// multiply the consumer's slot. Each is refused now, the slot unmoved; reading pg_replication_slots stays allowed.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptOn, connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

const SSN = "607-59-5353";
const slotState = async (): Promise<string> =>
  JSON.stringify(await db.query("SELECT slot_name, confirmed_flush_lsn::text AS lsn FROM pg_replication_slots ORDER BY 1"));

beforeAll(async () => {
  db = await startPostgres({ settings: { wal_level: "logical" } });
  await db.query("ALTER ROLE app_scram REPLICATION");
  await db.query("SELECT pg_create_logical_replication_slot('cdc', 'test_decoding')");
  await db.query("SELECT pg_create_logical_replication_slot('cdc_bin', 'pgoutput')");
  await db.query("CREATE PUBLICATION cdc_pub FOR TABLE public.customers");
  await db.query("UPDATE public.customers SET phone = phone WHERE id = 2");
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("a logical slot's changes carry masked values", () => {
  it("the slot holds customer 2's SSN, as the upstream role reads it directly", async () => {
    const direct = await connectClient(db.url("app_scram"));
    try {
      const r = await direct.query("SELECT string_agg(data, ' ') AS d FROM pg_logical_slot_peek_changes('cdc', NULL, NULL)");
      expect(r.rows[0].d).toContain(SSN);
    } finally {
      await direct.end();
    }
  });

  it.each([
    ["peek in a select list", "pg_logical_slot_peek_changes", "SELECT data FROM pg_logical_slot_peek_changes('cdc', NULL, NULL)"],
    ["peek, schema-qualified", "pg_logical_slot_peek_changes", "SELECT * FROM pg_catalog.pg_logical_slot_peek_changes('cdc', NULL, 10)"],
    ["get in a sub-select", "pg_logical_slot_get_changes", "SELECT (SELECT string_agg(data, ' ') FROM pg_logical_slot_get_changes('cdc', NULL, NULL)) AS d"],
    ["binary peek (pgoutput)", "pg_logical_slot_peek_binary_changes", "SELECT encode(data, 'escape') FROM pg_logical_slot_peek_binary_changes('cdc_bin', NULL, NULL, 'proto_version', '1', 'publication_names', 'cdc_pub')"],
    ["advance", "pg_replication_slot_advance", "SELECT * FROM pg_replication_slot_advance('cdc', pg_current_wal_lsn())"],
    ["copy", "pg_copy_logical_replication_slot", "SELECT * FROM pg_copy_logical_replication_slot('cdc', 'mine')"],
  ])("%s is refused and the slots stay as they were", async (_label, name, sql) => {
    const before = await slotState();
    const r = await attemptOn(agent, sql);
    expect(r.code).toBe("42501");
    expect(r.message).toContain(`function ${name} reads or moves a replication slot or origin`);
    expect(r.message).toContain("read the rows with SELECT");
    expect(JSON.stringify(r)).not.toContain(SSN);
    expect(await slotState()).toBe(before);
  });

  it("must stay allowed: the slots' names and positions", async () => {
    const r = await attemptOn(agent, "SELECT slot_name, plugin FROM pg_replication_slots ORDER BY 1");
    expect(r.code, r.message).toBeUndefined();
    expect(r.rows).toEqual([
      { slot_name: "cdc", plugin: "test_decoding" },
      { slot_name: "cdc_bin", plugin: "pgoutput" },
    ]);
  });
});
