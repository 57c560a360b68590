// Red team of how regate follows the life of the session's temporary relations (lifecycle/temporary-settle.ts):
// a temporary table named like a public one (customers) whose creation the server rolled back, dropped at commit,
// dropped as pg_temp.customers or discarded. regate must then resolve `customers` as the server does (public.customers,
// masked as ever, and readable), and while the temporary one may exist refuse the bare name (orders: a temporary one
// made over ssn must never be read as public.orders, whose status is not masked). Judged by what reached the agent,
// by the simple and the extended protocol.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { attemptOn, connectClient, type Outcome } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, parse, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

const OPA = join(packageRoot, ".bin", "opa");
const CAPABILITIES = join(packageRoot, "testdata", "opa", "wasm-capabilities.json");

/** The example policy with temporary DDL allowed and pg_temp readable and writable (as temporary-relations-redteam). */
const EDITS: [string, string][] = [
  [`readable_schemas := {"public", "pg_catalog", "information_schema"}`, `readable_schemas := {"public", "pg_catalog", "information_schema", "pg_temp"}`],
  [`\t"ddl": "DDL is not allowed",\n`, ""],
  [`deny contains "a write may not store masked columns of other tables: their values would be kept where they are not masked" if {\n\tsome s in statements\n\ts.writes\n`,
    `deny contains "a write may not store masked columns of other tables: their values would be kept where they are not masked" if {\n\tsome s in statements\n\ts.writes\n\tnot temporary_only(s)\n`],
];
const TEMPORARY_RULES = `
deny contains "DDL is not allowed" if {
	some s in statements
	s.kind == "ddl"
	not temporary_only(s)
}

temporary_only(s) if {
	count([t | some t in s.tables; t.access == "write"]) > 0
	every t in s.tables { read_or_temporary(t) }
}

read_or_temporary(t) if t.access == "read"

read_or_temporary(t) if t.schema == "pg_temp"

writable_table(t) if t.schema == "pg_temp"
`;

function temporaryPolicyBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), "regate-temp-life-"));
  const root = join(dir, "rego");
  cpSync(join(packageRoot, "rego"), root, { recursive: true });
  const file = join(root, "regate", "postgres.rego");
  let text = readFileSync(file, "utf8");
  for (const [from, to] of EDITS) {
    if (!text.includes(from)) throw new Error(`the example policy changed: ${from.slice(0, 60)}`);
    text = text.replace(from, to);
  }
  writeFileSync(file, text + TEMPORARY_RULES);
  const out = join(dir, "bundle.tar.gz");
  execFileSync(OPA, ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", CAPABILITIES, "--ignore", "*_test.rego", "-r", "temporary-life", "-o", out, root], {
    stdio: "pipe",
    timeout: 120_000,
  });
  return out;
}

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let ssn: string;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, { policy: { bundle: temporaryPolicyBundle() } });
  const [c] = await db.query("SELECT ssn FROM public.customers WHERE id = 2");
  ssn = c.ssn;
}, 180_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

beforeEach(async () => {
  await agent?.end().catch(() => undefined);
  agent = await connectClient(regate.url());
});

const attempt = (sql: string | pg.QueryConfig): Promise<Outcome> => attemptOn(agent, sql);
const leaks = (o: unknown): boolean => JSON.stringify(o).includes(ssn);

async function ok(sql: string | pg.QueryConfig): Promise<Record<string, unknown>[]> {
  const r = await attempt(sql);
  expect(r.code, `${JSON.stringify(sql)}: ${r.message}`).toBeUndefined();
  return r.rows!;
}

/** customers resolves to public.customers again: readable, its masked column masked, by the simple and extended protocol. */
async function publicAgain(): Promise<void> {
  expect(await ok("SELECT id FROM customers WHERE id = 2")).toEqual([{ id: 2 }]);
  expect(await ok({ text: "SELECT id FROM customers WHERE id = $1", values: [2] })).toEqual([{ id: 2 }]);
  for (const sql of ["SELECT upper(ssn) AS s FROM customers WHERE id = 2", "SELECT ssn || '' AS s FROM customers WHERE id = 2"]) {
    const rows = await ok(sql);
    expect(rows, sql).toHaveLength(1);
    expect(leaks(rows), `${sql}: ${JSON.stringify(rows)}`).toBe(false);
  }
  expect(await ok("SELECT id FROM orders WHERE id = 1")).toEqual([{ id: 1 }]);
}

/** While the temporary customers may exist, the bare name is refused and nothing masked comes back. */
async function refusedBare(): Promise<void> {
  const r = await attempt("SELECT upper(ssn) AS s FROM customers WHERE id = 2");
  expect(leaks(r), JSON.stringify(r)).toBe(false);
  expect(r.code).toBe("42501");
  expect(r.message).toContain("customers may name this session's temporary relation");
}

describe("a temporary customers the server no longer has", () => {
  it.each([
    ["ROLLBACK, one message at a time", ["BEGIN", "CREATE TEMP TABLE customers (ssn text)", "ROLLBACK"]],
    ["ROLLBACK, in one message", ["BEGIN; CREATE TEMP TABLE customers (ssn text); ROLLBACK"]],
    ["ROLLBACK TO SAVEPOINT, then COMMIT", ["BEGIN", "SAVEPOINT a", "CREATE TEMP TABLE customers AS SELECT id, ssn FROM public.customers", "ROLLBACK TO SAVEPOINT a", "COMMIT"]],
    ["a failed statement in the block, then COMMIT", ["BEGIN", "CREATE TEMP TABLE customers (ssn text)", "SELECT 1/0", "COMMIT"]],
    ["an error later in the same message", ["CREATE TEMP TABLE customers (ssn text); SELECT 1/0"]],
    ["ON COMMIT DROP, alone", ["CREATE TEMP TABLE customers (ssn text) ON COMMIT DROP"]],
    ["ON COMMIT DROP, in a block", ["BEGIN", "CREATE TEMP TABLE customers (id int, ssn text) ON COMMIT DROP", "COMMIT"]],
    ["DISCARD TEMP", ["CREATE TEMP TABLE customers (ssn text)", "DISCARD TEMP"]],
    ["DISCARD ALL", ["CREATE TEMP TABLE customers (ssn text)", "DISCARD ALL"]],
    ["DROP TABLE pg_temp.customers", ["CREATE TEMP TABLE customers AS SELECT id, ssn FROM public.customers", "DROP TABLE pg_temp.customers"]],
  ])("%s: customers is public.customers again", async (_name, setup) => {
    for (const sql of setup) await attempt(sql);
    await publicAgain();
  });

  it("an error in a pipelined extended batch rolls the creation back", async () => {
    const raw = await Raw.open(regate.url());
    try {
      raw.send(...["CREATE TEMP TABLE customers (ssn text)", "SELECT 1/0"].flatMap((sql) => [parse(sql), bind(), execute()]), sync());
      await raw.until((m) => m.at(-1)?.type === "Z");
      raw.messages.length = 0;
      raw.send(parse("SELECT upper(ssn) AS s, id FROM customers WHERE id = 2"), bind(), execute(), sync());
      await raw.until((m) => m.at(-1)?.type === "Z");
      const text = raw.messages.map((m) => `${m.type}:${m.body.toString("latin1")}`).join("\n");
      expect(leaks(text), text).toBe(false);
      expect(raw.messages.map((m) => m.type), text).toContain("D");
      expect(raw.messages.map((m) => m.type)).not.toContain("E");
    } finally {
      raw.close();
    }
  });

  it("a creation kept by RELEASE and COMMIT is still refused, and forgotten again after DISCARD TEMP", async () => {
    await ok("BEGIN; CREATE TEMP TABLE customers (ssn text); ROLLBACK");
    await publicAgain();
    for (const sql of ["BEGIN", "SAVEPOINT a", "CREATE TEMP TABLE customers AS SELECT id, ssn FROM public.customers WHERE id = 2", "RELEASE SAVEPOINT a", "COMMIT"]) await ok(sql);
    await refusedBare();
    const temp = await ok("SELECT ssn FROM pg_temp.customers");
    expect(temp).toHaveLength(1);
    expect(leaks(temp), JSON.stringify(temp)).toBe(false);
    await ok("DISCARD TEMP");
    await publicAgain();
  });

  it("a creation still open in a block is refused until it rolls back", async () => {
    await ok("BEGIN");
    await ok("CREATE TEMP TABLE customers AS SELECT id, ssn FROM public.customers WHERE id = 2");
    await refusedBare();
    await attempt("ROLLBACK");
    await publicAgain();
  });
});

describe("a temporary orders made over ssn, when regate has just forgotten the name", () => {
  const STORE = "CREATE TEMP TABLE orders AS SELECT id, ssn AS status FROM customers WHERE id = 2";
  const text = (raw: Raw) => raw.messages.map((m) => `${m.type}:${m.body.toString("latin1")}`).join("\n");

  it("made by a statement prepared before, and read in the same batch", async () => {
    const raw = await Raw.open(regate.url());
    try {
      // Parsed alone: the server has no orders of its own after this group, and regate forgets it.
      raw.send(parse(STORE, "mk"), sync());
      await raw.until((m) => m.at(-1)?.type === "Z");
      raw.messages.length = 0;
      raw.send(parse("SELECT status FROM orders WHERE id = 1"), bind(), execute(), sync());
      await raw.until((m) => m.at(-1)?.type === "Z");
      expect(raw.messages.map((m) => m.type), text(raw)).toContain("D");
      raw.messages.length = 0;
      // Run now: orders is the temporary one again for what follows it.
      raw.send(bind("mk"), execute(), parse("SELECT upper(status) AS s FROM orders WHERE id = 2"), bind(), execute(), sync());
      await raw.until((m) => m.at(-1)?.type === "Z");
      expect(leaks(text(raw)), text(raw)).toBe(false);
      expect(text(raw)).toContain("orders may name this session's temporary relation");
    } finally {
      raw.close();
    }
  });

  it.each([
    ["committed before a later error of the same message", ["BEGIN; " + STORE + "; COMMIT; SELECT 1/0"]],
    ["committed by COMMIT in an implicit transaction", [STORE + "; COMMIT; SELECT 1/0"]],
    ["kept by a later savepoint of the same name", ["BEGIN", "SAVEPOINT a", STORE, "SAVEPOINT a", "ROLLBACK TO SAVEPOINT a", "COMMIT"]],
    ["a second CREATE of the name fails", [STORE, "BEGIN", "CREATE TEMP TABLE orders (id int)", "ROLLBACK"]],
    ["DISCARD TEMP rolled back", [STORE, "BEGIN", "DISCARD TEMP", "ROLLBACK"]],
    ["DROP of a view named like it", [STORE, "DROP VIEW pg_temp.orders"]],
    ["made again, kept, after one ON COMMIT DROP was renamed away", ["BEGIN", "CREATE TEMP TABLE orders (id int, status text) ON COMMIT DROP", "ALTER TABLE pg_temp.orders RENAME TO gone", STORE, "COMMIT"]],
    ["made in a block left by a quoted savepoint", ["BEGIN", `SAVEPOINT "A"`, STORE, `RELEASE "A"`, "COMMIT"]],
  ])("forgotten once, then %s: still the temporary one", async (_name, setup) => {
    await ok("BEGIN; CREATE TEMP TABLE orders (id int, status text); ROLLBACK");
    expect(await ok("SELECT status IS NOT NULL AS has FROM orders WHERE id = 1")).toEqual([{ has: true }]);
    for (const sql of setup) await attempt(sql);
    const r = await attempt("SELECT upper(status) AS s FROM orders WHERE id = 2");
    expect(leaks(r), JSON.stringify(r)).toBe(false);
    expect(r.code).toBe("42501");
    const temp = await ok("SELECT upper(status) AS s FROM pg_temp.orders");
    expect(temp).toHaveLength(1);
    expect(leaks(temp), JSON.stringify(temp)).toBe(false);
  });

  it("CREATE TEMP TABLE IF NOT EXISTS ... ON COMMIT DROP keeps the one already there", async () => {
    await ok("BEGIN; CREATE TEMP TABLE orders (id int, status text); ROLLBACK");
    expect(await ok("SELECT status IS NOT NULL AS has FROM orders WHERE id = 1")).toEqual([{ has: true }]);
    await ok(STORE);
    await attempt("CREATE TEMP TABLE IF NOT EXISTS orders (id int, status text) ON COMMIT DROP");
    const r = await attempt("SELECT upper(status) AS s FROM orders WHERE id = 2");
    expect(leaks(r), JSON.stringify(r)).toBe(false);
    expect(r.code).toBe("42501");
    const temp = await ok("SELECT upper(status) AS s FROM pg_temp.orders");
    expect(temp).toHaveLength(1);
    expect(leaks(temp), JSON.stringify(temp)).toBe(false);
  });
});
