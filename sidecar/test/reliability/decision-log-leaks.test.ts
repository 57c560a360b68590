// Found by the secrets sweep: the decision log wrote what an agent typed into a statement, so a protected value
// compared as a literal (WHERE ssn = '...') and a secret of regate's that an agent typed (the upstream
// password) reached the log. Now the example policy's log mask erases the text of a statement with literals
// on a table with masked columns, and the decision-log sink replaces every secret regate holds. A credential an
// agent sets or passes itself (a role's password, a dblink connection string) is not one regate holds and no
// policy mask names it: regate masks those statements' literals and parameters whatever the policy says.
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

const attempt = (sql: string, values?: unknown[]) => c.query(sql, values).then(() => "ok", (e: Error) => e.message);

describe("credentials typed into statements stay out of the decision log", () => {
  it("role and user-mapping passwords, dblink connection strings (literal or parameter), URLs with a password", async () => {
    const statements: [string, unknown[]?][] = [
      ["CREATE ROLE cred_probe LOGIN PASSWORD 'Pw-Alpha-7731'"],
      ["ALTER ROLE cred_probe PASSWORD 'Pw-Beta-8842'"],
      ["ALTER USER cred_probe WITH ENCRYPTED PASSWORD E'Pw-Gamma-9953'"],
      ["CREATE USER MAPPING FOR CURRENT_USER SERVER nowhere OPTIONS (user 'u', password 'Pw-Zeta-3286')"],
      ["SELECT dblink_connect('host=db.internal user=u password=Pw-Delta-1064')"],
      ["SELECT dblink_connect($1)", ["host=db.internal user=u password=Pw-Eps-2175"]],
      ["SELECT * FROM dblink($$postgresql://u:Pw-Eta-4397@db.internal/app$$, 'SELECT 1') AS t(x int)"],
    ];
    for (const [sql, values] of statements) await attempt(sql, values);
    const logs = regate.logs();
    for (const secret of ["Pw-Alpha-7731", "Pw-Beta-8842", "Pw-Gamma-9953", "Pw-Zeta-3286", "Pw-Delta-1064", "Pw-Eps-2175", "Pw-Eta-4397"]) {
      expect(logs, secret).not.toContain(secret);
    }
    // Each statement was still decided and logged, its shape kept.
    const sqls = regate.decisions().map((d) => JSON.stringify(d.input?.postgres?.statements?.map((s: { sql: string }) => s.sql) ?? []));
    expect(sqls.some((s) => s.includes("ALTER ROLE cred_probe PASSWORD"))).toBe(true);
    expect(sqls.some((s) => s.includes("dblink_connect"))).toBe(true);
  });

  it("a statement without a credential keeps its literals", async () => {
    await attempt("SELECT 'password reset requested'::text AS note");
    await attempt("SELECT id FROM public.orders WHERE status = 'shipped-9931'");
    expect(regate.logs()).toContain("shipped-9931");
  });
});
