// A credential an agent sets or passes in a statement (a role's password, a user mapping's, a dblink
// connection string) is not a secret regate holds, so the decision-log sink's secret search cannot know it,
// and no policy mask names it. It must still never reach the decision log: the statement is logged, its
// literals and parameters are not.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

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
