// Prepared statements, portals and SQL names as the server holds them (lifecycle/names.ts). Each case is a
// message sequence a red-team pass used to make regate decide (or mask) one statement while the server ran
// another: a Parse or PREPARE the server refused, a Close or DEALLOCATE it skipped after an error, names
// created in SQL and used from the protocol. Judged by the bytes the agent got and by what the database did.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
/** Values the example policy masks or never lets out: none may appear in what the agent gets. */
let protectedValues: string[];

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  const [c] = await db.query("SELECT email, ssn, card_number FROM public.customers WHERE id = 2");
  const keys = await db.query("SELECT secret FROM internal.api_keys");
  protectedValues = [c.email, c.ssn, c.card_number, ...keys.map((k: { secret: string }) => k.secret)];
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

interface Wire {
  /** pg's connection: raw protocol messages (parse, bind, execute, close, sync, query). */
  con: any;
  /** Waits for `n` more ReadyForQuery and returns what arrived, one line per message. */
  until(n?: number): Promise<string[]>;
  end(): Promise<void>;
}

async function wire(): Promise<Wire> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  const con = (c as unknown as { connection: any }).connection;
  const events = ["dataRow", "rowDescription", "commandComplete", "errorMessage", "readyForQuery", "parseComplete", "bindComplete", "closeComplete", "noData", "emptyQuery"];
  for (const e of events) con.removeAllListeners(e);
  const got: string[] = [];
  con.on("dataRow", (m: { fields: unknown[] }) => got.push(`D ${JSON.stringify(m.fields.map((f) => (f == null ? null : String(f))))}`));
  con.on("commandComplete", (m: { text: string }) => got.push(`C ${m.text}`));
  con.on("errorMessage", (m: { code: string; message: string }) => got.push(`E ${m.code} ${m.message}`));
  con.on("readyForQuery", () => got.push("Z"));
  for (const e of ["parseComplete", "bindComplete", "closeComplete"]) con.on(e, () => got.push(e));
  return {
    con,
    async until(n = 1) {
      const t0 = Date.now();
      while (got.filter((g) => g === "Z").length < n) {
        if (Date.now() - t0 > 10_000) throw new Error(`no ReadyForQuery; got ${got.join(" | ")}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return got.splice(0);
    },
    end: () => c.end().catch(() => undefined),
  };
}

const leaked = (lines: string[]): string[] => protectedValues.filter((v) => lines.some((l) => l.includes(v)));
const INTERNAL_READ = "SELECT secret FROM internal.api_keys WHERE id < $1::int";
const MASKED_READ = "SELECT email, ssn, card_number FROM customers WHERE id = 2";
const HARMLESS = "SELECT 'x' AS email, 'y' AS ssn, 'z' AS card_number";

describe("names change when the server says so", () => {
  it("a Parse the server refuses (the name is taken) does not swap the statement regate decides", async () => {
    const w = await wire();
    w.con.parse({ name: "s1", text: INTERNAL_READ });
    w.con.sync();
    await w.until();
    w.con.parse({ name: "s1", text: "SELECT $1::int::text AS secret" });
    w.con.sync();
    expect((await w.until()).join(" ")).toContain("42P05");
    w.con.bind({ statement: "s1", portal: "", values: ["5"] });
    w.con.execute({ portal: "" });
    w.con.sync();
    const out = await w.until();
    expect(out.some((l) => l.startsWith("E 42501"))).toBe(true);
    expect(leaked(out)).toEqual([]);
    await w.end();
  });

  it("an UPDATE parsed under a taken name is judged as the UPDATE: payments are unchanged", async () => {
    const before = await db.query("SELECT id, amount FROM public.payments ORDER BY id");
    const w = await wire();
    w.con.parse({ name: "u1", text: "UPDATE payments SET amount = 0 WHERE id < $1::int" });
    w.con.sync();
    await w.until();
    w.con.parse({ name: "u1", text: "SELECT $1::int AS n" });
    w.con.sync();
    await w.until();
    w.con.bind({ statement: "u1", portal: "", values: ["100"] });
    w.con.execute({ portal: "" });
    w.con.sync();
    const out = await w.until();
    expect(out.some((l) => l.startsWith("E 42501"))).toBe(true);
    expect(await db.query("SELECT id, amount FROM public.payments ORDER BY id")).toEqual(before);
    await w.end();
  });

  it("a Close the server skipped after an error leaves the statement in place", async () => {
    const w = await wire();
    w.con.parse({ name: "s2", text: MASKED_READ });
    w.con.sync();
    await w.until();
    w.con.parse({ name: "", text: "SELECT 1/0" });
    w.con.bind({});
    w.con.execute({});
    w.con.close({ type: "S", name: "s2" });
    w.con.parse({ name: "s2", text: HARMLESS });
    w.con.sync();
    expect((await w.until()).join(" ")).toContain("22012");
    w.con.bind({ statement: "s2", portal: "" });
    w.con.execute({ portal: "" });
    w.con.sync();
    const out = await w.until();
    expect(out.some((l) => l.startsWith("D "))).toBe(true);
    expect(leaked(out)).toEqual([]);
    await w.end();
  });

  it("a re-PREPARE the server refuses, and a DEALLOCATE in a batch that failed first, change nothing", async () => {
    const w = await wire();
    w.con.query(`PREPARE p AS ${MASKED_READ}`);
    await w.until();
    w.con.query(`PREPARE p AS ${HARMLESS}`);
    expect((await w.until()).join(" ")).toContain("42P05");
    w.con.query("EXECUTE p");
    const first = await w.until();
    w.con.query(`SELECT 1/0; DEALLOCATE p; PREPARE p AS ${HARMLESS}`);
    await w.until();
    w.con.query("EXECUTE p");
    const second = await w.until();
    for (const out of [first, second]) {
      expect(out.some((l) => l.startsWith("D "))).toBe(true);
      expect(leaked(out)).toEqual([]);
    }
    await w.end();
  });
});

describe("names regate did not see created are refused, not forwarded", () => {
  it("a Bind of a statement prepared in SQL (one namespace on the server)", async () => {
    const w = await wire();
    w.con.query(`PREPARE x AS ${MASKED_READ}`);
    await w.until();
    w.con.bind({ statement: "x", portal: "" });
    w.con.execute({ portal: "" });
    w.con.sync();
    const out = await w.until();
    expect(out.find((l) => l.startsWith("E "))).toMatch(/^E 0A000 .*prepared statement "x"/);
    expect(leaked(out)).toEqual([]);
    await w.end();
  });

  it("an Execute of a cursor declared in SQL", async () => {
    const w = await wire();
    w.con.query(`BEGIN; DECLARE c CURSOR FOR ${MASKED_READ}`);
    await w.until();
    w.con.execute({ portal: "c" });
    w.con.sync();
    const out = await w.until();
    expect(out.find((l) => l.startsWith("E "))).toMatch(/^E 0A000 .*portal "c"/);
    expect(leaked(out)).toEqual([]);
    w.con.query("ROLLBACK");
    await w.until();
    await w.end();
  });
});

describe("SQL and the protocol share the server's namespaces", () => {
  /** Runs `steps`, then checks the last reply: refused (or answered) without any protected value. */
  async function refusedWithoutLeak(steps: (w: Wire) => Promise<void>): Promise<string[]> {
    const w = await wire();
    await steps(w);
    const out = await w.until();
    expect(leaked(out)).toEqual([]);
    expect(out.some((l) => l.startsWith("E "))).toBe(true);
    await w.end();
    return out;
  }
  const query = async (w: Wire, sql: string): Promise<string[]> => {
    w.con.query(sql);
    return w.until();
  };

  it.each(["DEALLOCATE s1", "DEALLOCATE ALL"])("a protocol statement dropped by %s and PREPAREd anew in SQL is not bound as the old one", async (drop) => {
    await refusedWithoutLeak(async (w) => {
      w.con.parse({ name: "s1", text: "SELECT 1 AS id" });
      w.con.sync();
      await w.until();
      await query(w, drop);
      await query(w, `PREPARE s1 AS ${MASKED_READ}`);
      w.con.bind({ statement: "s1", portal: "" });
      w.con.execute({ portal: "" });
      w.con.sync();
    });
  });

  it.each([
    ["the implicit transaction ended at Sync", ["DECLARE \"P\" CURSOR WITH HOLD FOR " + MASKED_READ], false],
    ["COMMIT ended the block", ["COMMIT", "BEGIN", "DECLARE \"P\" CURSOR FOR " + MASKED_READ], true],
    ["CLOSE ALL closed it", ["CLOSE ALL", "DECLARE \"P\" CURSOR FOR " + MASKED_READ], true],
  ])("a portal gone because %s is not executed as the old one once a cursor takes its name", async (_name, sql, block) => {
    await refusedWithoutLeak(async (w) => {
      if (block) await query(w, "BEGIN");
      w.con.parse({ name: "b", text: "SELECT 1 AS id" });
      w.con.bind({ statement: "b", portal: "P" });
      w.con.sync();
      await w.until();
      for (const q of sql) await query(w, q);
      w.con.execute({ portal: "P" });
      w.con.sync();
    });
  });

  it("an SQL cursor closed by a protocol Close and bound anew is not FETCHed as the old one", async () => {
    await refusedWithoutLeak(async (w) => {
      await query(w, "BEGIN");
      await query(w, "DECLARE k CURSOR FOR SELECT 1 AS id, 'x' AS email");
      w.con.close({ type: "P", name: "k" });
      w.con.parse({ name: "m", text: MASKED_READ });
      w.con.bind({ statement: "m", portal: "k" });
      w.con.sync();
      await w.until();
      w.con.query("FETCH ALL FROM k");
    });
  });

  it("an SQL statement closed by a protocol Close and parsed anew is not EXECUTEd as the old one", async () => {
    await refusedWithoutLeak(async (w) => {
      await query(w, "PREPARE q AS SELECT 1 AS id, 'x' AS email");
      w.con.close({ type: "S", name: "q" });
      w.con.parse({ name: "q", text: MASKED_READ });
      w.con.sync();
      await w.until();
      w.con.query("EXECUTE q");
    });
  });

  it("a statement that EXECUTEs an SQL name is not bound once that name was defined anew", async () => {
    await refusedWithoutLeak(async (w) => {
      await query(w, "PREPARE p AS SELECT 1 AS id, 'x' AS ssn");
      w.con.parse({ name: "e", text: "EXECUTE p" });
      w.con.sync();
      await w.until();
      await query(w, "DEALLOCATE p");
      await query(w, "PREPARE p AS SELECT id, ssn, email FROM customers WHERE id = 2");
      w.con.bind({ statement: "e", portal: "" });
      w.con.execute({ portal: "" });
      w.con.sync();
    });
  });
});

describe("names as the server reads them", () => {
  const HARMLESS_ROW = "SELECT 1 AS id, 'x' AS email, 'y' AS ssn, 'z' AS card_number";
  /** Runs the SQL steps; the last one's reply must carry no protected value. */
  async function sqlSteps(steps: string[]): Promise<string[]> {
    const w = await wire();
    let out: string[] = [];
    for (const q of steps) {
      w.con.query(q);
      out = await w.until();
    }
    expect(leaked(out)).toEqual([]);
    await w.end();
    return out;
  }
  const long = "a".repeat(63);

  it.each([
    ["a non-ASCII name, which the server does not fold", [`PREPARE "é" AS ${MASKED_READ}`, `PREPARE É AS ${HARMLESS_ROW}`, 'EXECUTE "é"']],
    ["a name the server cuts to 63 bytes", [`PREPARE ${long} AS ${HARMLESS_ROW}`, `DEALLOCATE ${long}x`, `PREPARE ${long}y AS ${MASKED_READ}`, `EXECUTE ${long}`]],
    ["a Unicode-escaped name", [`PREPARE q AS ${HARMLESS_ROW}`, 'DEALLOCATE U&"\\0071"', `PREPARE U&"\\0071" AS ${MASKED_READ}`, "EXECUTE q"]],
    ["a comment before the name", [`PREPARE q AS ${HARMLESS_ROW}`, "DEALLOCATE /**/q", `PREPARE /**/ q AS ${MASKED_READ}`, "EXECUTE q"]],
    ["a cursor with a non-ASCII name", ["BEGIN", `DECLARE "é" CURSOR FOR ${MASKED_READ}`, `DECLARE É CURSOR FOR ${HARMLESS_ROW}`, 'FETCH ALL FROM "é"']],
  ])("%s is tracked as the server tracks it", async (_name, steps) => {
    await sqlSteps(steps);
  });

  it.each([
    ["COMMIT AND CHAIN", ["BEGIN", `DECLARE k CURSOR FOR ${HARMLESS_ROW}`, "COMMIT AND CHAIN"]],
    ["COMMIT of a cursor whose text says 'with hold'", ["BEGIN", "DECLARE k CURSOR FOR SELECT 1 AS id, 'with hold' AS email", "COMMIT", "BEGIN"]],
    ["ROLLBACK TO a savepoint older than a HOLD cursor", ["BEGIN", "SAVEPOINT s", `DECLARE k CURSOR WITH HOLD FOR ${HARMLESS_ROW}`, "ROLLBACK TO s"]],
    ["ROLLBACK of a failed block that declared a HOLD cursor", ["BEGIN", `DECLARE k CURSOR WITH HOLD FOR ${HARMLESS_ROW}`, "SELECT 1/0", "ROLLBACK", "BEGIN"]],
  ])("a cursor the server dropped at %s is not FETCHed as the old one once a portal takes its name", async (_name, steps) => {
    const w = await wire();
    for (const q of steps) {
      w.con.query(q);
      await w.until();
    }
    w.con.parse({ name: "m", text: MASKED_READ });
    w.con.bind({ statement: "m", portal: "k" });
    w.con.sync();
    await w.until();
    w.con.query("FETCH ALL FROM k");
    const out = await w.until();
    expect(leaked(out)).toEqual([]);
    await w.end();
  });

  it.each([
    ["a Parse", (w: Wire) => w.con.parse({ name: `p${long}`, text: "SELECT 1" })],
    ["a Bind to a portal", (w: Wire) => w.con.bind({ statement: "", portal: `p${long}` })],
    ["a Close", (w: Wire) => w.con.close({ type: "S", name: `p${long}` })],
  ])("%s naming more than 63 bytes is refused (the server would cut the name)", async (_name, send) => {
    const w = await wire();
    send(w);
    w.con.sync();
    const out = await w.until();
    expect(out.find((l) => l.startsWith("E "))).toMatch(/^E 0A000 .*longer than 63 bytes/);
    await w.end();
  });
});

describe("a prepared statement is judged on the facts the server plans it with", () => {
  const SECRET = "prepared-stale-secret-4f1c";

  it("after the search_path changed between Parse and Bind, and between PREPARE and EXECUTE", async () => {
    await db.query(`CREATE TABLE internal.customers (id int, full_name text); INSERT INTO internal.customers VALUES (1, '${SECRET}'), (2, '${SECRET}')`);
    try {
      const w = await wire();
      w.con.query("SET search_path = public");
      await w.until();
      w.con.parse({ name: "q", text: "SELECT id, full_name FROM customers WHERE id <= 2" });
      w.con.sync();
      await w.until();
      w.con.query("PREPARE p AS SELECT id, full_name FROM customers WHERE id <= 2");
      await w.until();
      w.con.query("SET search_path = internal, public");
      await w.until();
      w.con.bind({ statement: "q", portal: "" });
      w.con.execute({ portal: "" });
      w.con.sync();
      const bound = await w.until();
      w.con.query("EXECUTE p");
      const executed = await w.until();
      for (const out of [bound, executed]) {
        expect(out.some((l) => l.startsWith("E "))).toBe(true);
        expect(out.join("\n")).not.toContain(SECRET);
      }
      await w.end();
    } finally {
      await db.query("DROP TABLE internal.customers");
    }
  });

  it("after an admin redefined a view it reads, once regate's catalog caught up", async () => {
    await db.query("CREATE VIEW public.order_labels AS SELECT id, status AS label FROM public.orders");
    try {
      const w = await wire();
      w.con.parse({ name: "a", text: "SELECT id, label FROM order_labels WHERE id <= 3" });
      w.con.sync();
      await w.until();
      await db.query("CREATE OR REPLACE VIEW public.order_labels AS SELECT id, email AS label FROM public.customers");
      // Past postgres.catalog.max_staleness_ms (1 s by default): regate's catalog has seen the change.
      await new Promise((r) => setTimeout(r, 1600));
      w.con.bind({ statement: "a", portal: "" });
      w.con.execute({ portal: "" });
      w.con.sync();
      const out = await w.until();
      // The view now reads customers.email: masked (the partial strategy keeps the domain), never whole.
      expect(out.some((l) => l.startsWith("D "))).toBe(true);
      expect(out.join("\n")).not.toMatch(/"[^"*]+@example\.(org|net|com)"/);
      await w.end();
    } finally {
      await db.query("DROP VIEW public.order_labels");
    }
  });
});

describe("pipelining still works", () => {
  it("a Parse, its Sync, then a Bind of it, sent without waiting", async () => {
    const w = await wire();
    w.con.parse({ name: "q1", text: "SELECT id FROM orders WHERE id = $1::int" });
    w.con.sync();
    w.con.bind({ statement: "q1", portal: "", values: ["1"] });
    w.con.execute({ portal: "" });
    w.con.sync();
    const out = await w.until(2);
    expect(out).toContain('D ["1"]');
    expect(out.filter((l) => l.startsWith("E "))).toEqual([]);
    await w.end();
  });

  it("a PREPARE and its EXECUTE, sent without waiting", async () => {
    const w = await wire();
    w.con.query(`PREPARE m AS ${MASKED_READ}`);
    w.con.query("EXECUTE m");
    const out = await w.until(2);
    expect(out.some((l) => l.startsWith("D "))).toBe(true);
    expect(out.filter((l) => l.startsWith("E "))).toEqual([]);
    expect(leaked(out)).toEqual([]);
    await w.end();
  });
});
