// COPY FROM STDIN through psycopg 3 and regate with the example policy, judged by the rows in the database: a
// COPY into a table the policy protects (payments, customers, internal.*, also reached through search_path)
// is refused and lands no row, also inside a transaction, whose earlier write goes with it; a COPY into
// orders lands every row, text and binary; the connection then still reads masked. The client is
// sidecar/test/clients/python/psycopg_copy.py, run with the venv of scripts/clients-setup.sh.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { clientGate, REPO_ROOT } from "./run.js";

const psycopg = clientGate("psycopg");

let db: TestPostgres;
let regate: TestRegate;
/** step -> outcome, from one run of the client. */
let outcomes: Map<string, string>;

beforeAll(async () => {
  if (psycopg.skip) return;
  psycopg.require();
  db = await startPostgres();
  regate = await startRegate(db);
  const r = await exec(join(REPO_ROOT, ".venv/bin/python"), [join(REPO_ROOT, "sidecar/test/clients/python/psycopg_copy.py"), regate.url()], {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  if (r.status !== 0) throw new Error(`psycopg_copy.py exited ${r.status}: ${r.stderr}`);
  outcomes = new Map(r.stdout.trim().split("\n").map((l) => [l.split(" ")[0]!, l.split(" ").slice(1).join(" ")]));
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const count = async (sql: string) => Number((await db.query(sql))[0].n);

describe("psycopg COPY FROM STDIN", () => {
  it.skipIf(psycopg.skip)(psycopg.title("must allow: COPY into orders lands every row, text and binary"), async () => {
    expect([outcomes.get("orders-text"), outcomes.get("orders-binary"), outcomes.get("orders-binary-row")]).toEqual(["ok", "ok", "ok"]);
    expect(await count("SELECT count(*)::int AS n FROM orders WHERE amount = 4601.00")).toBe(2);
    expect(await count("SELECT count(*)::int AS n FROM orders WHERE amount = 4606.00 AND customer_id = 3")).toBe(1);
  });

  it.skipIf(psycopg.skip).each([
    ["payments", "SELECT count(*)::int AS n FROM payments WHERE amount = 4602.00"],
    ["customers", "SELECT count(*)::int AS n FROM customers WHERE email = 'eve.4603@example.com'"],
    ["internal", "SELECT count(*)::int AS n FROM internal.api_keys WHERE secret = 'secret-4604'"],
    ["search-path", "SELECT count(*)::int AS n FROM internal.api_keys WHERE secret = 'secret-4605'"],
  ])(psycopg.title("COPY into %s is refused with 42501 and lands no row"), async (step, rows) => {
    expect(outcomes.get(step)).toBe("42501");
    expect(await count(rows)).toBe(0);
  });

  it.skipIf(psycopg.skip)(psycopg.title("a refused COPY in a transaction fails it: the INSERT before it is rolled back"), async () => {
    expect(outcomes.get("transaction")).toBe("42501");
    expect(await count("SELECT count(*)::int AS n FROM orders WHERE amount = 4607.00")).toBe(0);
    expect(await count("SELECT count(*)::int AS n FROM payments WHERE amount = 4607.00")).toBe(0);
  });

  it.skipIf(psycopg.skip)(psycopg.title("the connection goes on after the refusals and reads masked"), () => {
    expect(outcomes.get("masked-after")).toBe("****");
  });
});
