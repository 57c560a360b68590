// Every real-client script through regate with the example policy: allowed rows, a 42501 denial
// after which the connection works, a denial inside BEGIN that fails the transaction until ROLLBACK,
// and each driver's own paths (binary parameters, server-side prepared statements, pipelines).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENTS, clientGate, formatRun, runClient, stepOf, type ClientGate, type ClientName } from "../clients/run.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let expectNames: string[];
let orders: number;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  expectNames = (await db.query("SELECT full_name FROM public.customers WHERE id <= 3 ORDER BY id")).map((r: { full_name: string }) => r.full_name);
  orders = Number((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n);
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

// scripts/clients-setup.sh installs the toolchains; a missing one fails unless REGATE_SKIP_CLIENTS=1.
describe.each(CLIENTS.map((c) => [c, clientGate(c)] as const))("%s through regate", (client: ClientName, gate: ClientGate) => {
  it.skipIf(gate.skip)(gate.title("runs the whole scenario"), { timeout: 180_000 }, async () => {
    gate.require();
    const run = await runClient(client, regate.url(), { EXPECT_NAMES: JSON.stringify(expectNames) });
    expect(run.ok, formatRun(run)).toBe(true);
    expect(stepOf(run, "deny")).toMatchObject({ ok: true, sqlstate: "42501" });
    expect(stepOf(run, "after_deny")).toMatchObject({ ok: true });
    expect(stepOf(run, "tx_deny")).toMatchObject({ ok: true, sqlstate: "42501" });
    expect(stepOf(run, "tx_aborted")).toMatchObject({ ok: true, sqlstate: "25P02" });
    expect(stepOf(run, "after_rollback")).toMatchObject({ ok: true });
    expect(stepOf(run, "select_rows")?.rows).toEqual(expectNames.map((name, i) => [i + 1, name]));
    // Judged by the database: the denied DELETE never ran.
    expect(await db.query("SELECT count(*)::int AS n FROM public.orders")).toEqual([{ n: orders }]);
  });
});
