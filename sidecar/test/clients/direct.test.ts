// Every real-client script against plain PostgreSQL, no regate in between. This proves the scripts themselves:
// with DELETE revoked from app_md5, PostgreSQL's own "permission denied" is a 42501 just like regate's denial,
// so the whole scenario (allowed, denied, aborted transaction, binary and prepared statements) must pass; and
// with a "denied" statement that succeeds and wrong names, every script must report failure.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { CLIENTS, clientGate, formatRun, runClient, stepOf, type ClientGate, type ClientName } from "./run.js";

/** Steps every client reports, whatever else it does. */
const COMMON_STEPS = [
  "connect",
  "select_rows",
  "select_param",
  "deny",
  "after_deny",
  "tx_select",
  "tx_deny",
  "tx_aborted",
  "after_rollback",
] as const;

let db: TestPostgres;
let expectNames: string[];

beforeAll(async () => {
  db = await startPostgres();
  await db.query("REVOKE DELETE ON public.orders FROM app_md5");
  const rows = await db.query("SELECT full_name FROM public.customers WHERE id <= 3 ORDER BY id");
  expectNames = rows.map((r: { full_name: string }) => r.full_name);
});

afterAll(async () => {
  await db?.stop();
});

// A client that is not installed fails here, unless REGATE_SKIP_CLIENTS=1 (see ./README.md).
describe.each(CLIENTS.map((client) => [client, clientGate(client)] as const))(
  "%s client against PostgreSQL directly",
  (client: ClientName, gate: ClientGate) => {
    it.skipIf(gate.skip)(gate.title("runs the whole scenario"), { timeout: 120_000 }, async () => {
      gate.require();
      const run = await runClient(client, db.url("app_md5"), { EXPECT_NAMES: JSON.stringify(expectNames) });
      expect(run.ok, formatRun(run)).toBe(true);
      for (const name of COMMON_STEPS) {
        expect(stepOf(run, name), `${client} reported no ${name} step\n${formatRun(run)}`).toMatchObject({ ok: true });
      }
      expect(stepOf(run, "deny")).toMatchObject({ sqlstate: "42501" });
      expect(stepOf(run, "tx_deny")).toMatchObject({ sqlstate: "42501" });
      expect(stepOf(run, "tx_aborted")).toMatchObject({ sqlstate: "25P02" });
      expect(stepOf(run, "select_rows")?.rows).toEqual(expectNames.map((name, i) => [i + 1, name]));
      // Nothing was deleted: the denials really were denials.
      expect(await db.query("SELECT count(*)::int AS n FROM public.orders")).toEqual([{ n: 5000 }]);
    });

    it.skipIf(gate.skip)(gate.title("reports failure when the denial does not happen"), { timeout: 120_000 }, async () => {
      gate.require();
      const run = await runClient(client, db.url("app_scram"), {
        DENY_SQL: "SELECT 1",
        EXPECT_NAMES: JSON.stringify(["Nobody", "Nobody", "Nobody"]),
      });
      expect(run.ok, formatRun(run)).toBe(false);
      expect(run.exitCode).not.toBe(0);
      expect(stepOf(run, "connect")?.ok).toBe(true);
      expect(stepOf(run, "deny")?.ok).toBe(false);
      expect(stepOf(run, "tx_aborted")?.ok).toBe(false);
      expect(stepOf(run, "select_rows")?.ok).toBe(false);
    });
  },
);
