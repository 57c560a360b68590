// COPY out of a table with masked columns, through regate with the example policy and psql (COPY ... TO STDOUT
// and \copy): CopyData is not masked, so a COPY that sends a masked column's value in any form is refused with
// a SQLSTATE and the session goes on; one that sends only unmasked columns gets exactly what the database has.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient } from "../support/attempt.js";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let direct: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  direct = await connectClient(db.url());
}, 120_000);

afterAll(async () => {
  await direct?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

/** psql through regate: every command in one session, and what it printed. */
async function psql(...commands: string[]) {
  const r = await exec("psql", [regate.url(), "-X", "-q", "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=verbose", ...commands.flatMap((c) => ["-c", c])]);
  return { out: r.stdout, err: r.stderr };
}

describe("COPY out of customers", () => {
  it("only unmasked columns: the database's bytes, as COPY TO STDOUT and as \\copy", async () => {
    const expected = (await direct.query("SELECT id, full_name FROM customers WHERE id < 4 ORDER BY id")).rows.map((r: { id: number; full_name: string }) => `${r.id}\t${r.full_name}`);
    const r = await psql(
      "COPY (SELECT id, full_name FROM customers WHERE id < 4 ORDER BY id) TO STDOUT",
      "\\copy (SELECT c.id, c.full_name FROM customers c WHERE c.id < 4 ORDER BY c.id) TO STDOUT",
    );
    expect(r.err).toBe("");
    expect(r.out.trim().split("\n")).toEqual([...expected, ...expected]);
  });

  it("a column list of unmasked columns, CSV with a header", async () => {
    const count = Number((await direct.query("SELECT count(*) AS n FROM customers")).rows[0].n);
    const r = await psql("COPY customers (id, full_name) TO STDOUT WITH (FORMAT csv, HEADER)");
    expect(r.err).toBe("");
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toBe("id,full_name");
    expect(lines).toHaveLength(count + 1);
  });

  it.each([
    ["every column", "COPY customers TO STDOUT"],
    ["a masked column in the list", "COPY customers (id, email) TO STDOUT"],
    ["an expression of a masked column", "COPY (SELECT id, lower(email) FROM customers) TO STDOUT"],
    ["a masked column under an alias", "COPY (SELECT id, ssn AS note FROM customers) TO STDOUT"],
    ["a whole-row reference", "COPY (SELECT c FROM customers c) TO STDOUT"],
    ["row_to_json", "COPY (SELECT row_to_json(c) FROM customers c) TO STDOUT"],
    ["a CTE that carries it", "COPY (WITH x AS (SELECT id, card_number AS n FROM customers) SELECT id, n FROM x) TO STDOUT"],
    ["a join that selects it", "COPY (SELECT o.id, c.phone FROM orders o JOIN customers c ON c.id = o.customer_id) TO STDOUT"],
    ["binary format", "COPY customers (id, ssn) TO STDOUT WITH (FORMAT binary)"],
  ])("%s: refused with 42501, the session goes on", async (_name, sql) => {
    const r = await psql(sql, "SELECT 'alive' AS s");
    expect(r.err).toMatch(/ERROR: {2}42501: .*COPY/);
    expect(r.out).toContain("alive");
    // Nothing of a masked column reached psql.
    const secrets = (await direct.query("SELECT email, ssn, phone, card_number FROM customers WHERE id = 1")).rows[0] as Record<string, string>;
    for (const v of Object.values(secrets)) expect(r.out).not.toContain(v);
  });

  it("COPY into customers stays refused", async () => {
    const r = await psql("COPY customers (id, full_name) FROM STDIN");
    expect(r.err).toMatch(/masked columns/);
  });
});
