// Found by the secrets sweep: the decision log wrote what an agent typed into a statement, so a protected value
// compared as a literal (WHERE ssn = '...') and a secret of regate's that an agent typed (the upstream
// password) reached the log. Now the example policy's log mask erases the text of a statement with literals
// on a table with masked columns, and the decision-log sink replaces every secret regate holds.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let c: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
});

afterAll(async () => {
  await c?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("decision log leaks", () => {
  it("a protected value typed as a literal on a masked table is not logged; the statement's facts are", async () => {
    await c.query("SELECT id, email FROM public.customers WHERE ssn = '607-59-5353'");
    await c.query("SELECT id FROM public.customers WHERE ssn = $q$369-16-7181$q$");
    await c.query("SELECT id, email FROM public.customers WHERE id = $1", [3]);
    const logs = regate.logs();
    expect(logs).not.toContain("607-59-5353");
    expect(logs).not.toContain("369-16-7181");
    const events = regate.decisions().filter((d) => JSON.stringify(d.input).includes("customers"));
    expect(events.map((d) => d.input.postgres.statements[0].sql)).toEqual([
      "[erased by system.log.mask]",
      "[erased by system.log.mask]",
      "SELECT id, email FROM public.customers WHERE id = $1", // no literal: kept
    ]);
    expect(events[0]!.input.postgres.statements[0].tables[0]).toMatchObject({ schema: "public", name: "customers" });
  });

  it("a secret regate holds, typed by an agent into a statement, is replaced in the decision log", async () => {
    const password = db.users.scram.password;
    await c.query(`SELECT '${password}'::text AS x`).catch(() => undefined);
    await c.query(`SELECT '${Buffer.from(password).toString("base64")}'::text AS x`).catch(() => undefined);
    await c.query(`SELECT '${AGENT.token}'::text AS x`).catch(() => undefined);
    const logs = regate.logs();
    expect(logs).not.toContain(password);
    expect(logs).not.toContain(Buffer.from(password).toString("base64").replace(/=+$/, ""));
    expect(logs).not.toContain(AGENT.token);
    expect(logs).toContain("SELECT '[REDACTED]'::text AS x");
  });
});
