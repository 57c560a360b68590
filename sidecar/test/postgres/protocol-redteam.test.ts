// Red team of the wire protocol itself rather than SQL text, through regate with the example policy: each
// attack tries to get a masked value back unmasked or a statement run that the policy did not see, by
// putting regate's view of the session out of step with the server's. Judged by the bytes the agent got
// and what the database did; the must-allow cases beside them keep ordinary driver traffic working.
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "../reliability/support/bundles.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, msg, parse, query, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;

// Customer 2 in testdata/demo/seed.sql.
const SSN = "607-59-5353";
const SELECT_SSN = "SELECT ssn FROM customers WHERE id = 2";
const COPY_IN = "COPY orders (customer_id, amount, status, created_at) FROM STDIN";
/** A row for COPY_IN whose amount marks the test that wrote it. */
const row = (amount: string) => `1\t${amount}\tpending\t2026-01-01\n`;

let detecting: TestRegate;
let budgeted: TestRegate;
// A free-text column no column rule covers: only an email detector rule finds what it holds.
const NOTE_EMAIL = "alice.secret@example.com";

beforeAll(async () => {
  db = await startPostgres();
  await db.query(`CREATE TABLE public.notes (id int PRIMARY KEY, body text, doc jsonb);
    INSERT INTO public.notes VALUES (1, 'write to ${NOTE_EMAIL} today', '{"contact": "${NOTE_EMAIL}"}');
    GRANT SELECT ON public.notes TO app_scram;
    -- The owner's deferred check, whose message quotes a customer's SSN: it fails at COMMIT.
    CREATE FUNCTION public.audit_order() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = 16 AND NEW.status = 'cancelled' THEN
          RAISE EXCEPTION 'order % may not be cancelled for the customer with SSN %', NEW.id, (SELECT ssn FROM public.customers WHERE id = 2);
        END IF;
        RETURN NEW;
      END $$;
    CREATE CONSTRAINT TRIGGER audit_order AFTER UPDATE ON public.orders DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.audit_order()`);
  regate = await startRegate(db);
  // The example policy plus an email detector over every Postgres result.
  const bundle = buildBundle("protocol-redteam-detect", { "detect.rego": 'package regate\n\nmask contains {"detector": "email", "strategy": "redact"} if input.kind == "postgres"\n' });
  detecting = await startRegate(db, { policy: { bundle } });
  budgeted = await startRegate(db, { postgres: { budgets: { rows_per_statement: 2 } } });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await detecting?.stop();
  await budgeted?.stop();
  await db?.stop();
});

type Message = { type: string; body: Buffer };
const copyData = (text: string) => msg("d", Buffer.from(text));
const copyDone = () => msg("c", Buffer.alloc(0));
const copyFail = (why: string) => msg("f", Buffer.from(`${why}\0`));
/** Everything received, as one text: a value shows in it whatever message carried it. */
const seen = (ms: Message[]) => ms.map((m) => `${m.type}:${m.body.toString("latin1")}`).join("\n");
const sqlstate = (m: Message) => /\0C([0-9A-Z]{5})\0/.exec(`\0${m.body.toString("latin1")}`)?.[1];
const severity = (m: Message) => /\0S([A-Z]+)\0/.exec(`\0${m.body.toString("latin1")}`)?.[1];
const orders = async (amount: string) => Number((await db.query(`SELECT count(*) AS n FROM orders WHERE amount = ${amount}`))[0].n);
const closed = (raw: Raw) => new Promise<void>((r) => (raw.sock.destroyed ? r() : raw.sock.once("close", () => r())));

describe("COPY FROM STDIN: while the server copies, it reads only copy messages", () => {
  it("a Sync sent during the copy is not counted as a message the server will answer", async () => {
    // The server ignores it; counted, every later reply was matched to the message before it, and the SSN
    // query's rows went out under the plan of no statement at all: unmasked.
    const raw = await Raw.open(regate.url());
    raw.send(query(COPY_IN));
    await raw.until((ms) => ms.some((m) => m.type === "G"));
    raw.send(sync(), copyData(row("9001.01")), copyDone());
    const copied = await raw.readies(1);
    expect(copied.map((m) => m.type)).toEqual(["C", "Z"]);
    raw.send(query(SELECT_SSN));
    const got = await raw.readies(1);
    raw.close();
    expect(seen(got)).not.toContain(SSN);
    expect(got.filter((m) => m.type === "D")).toHaveLength(1);
    expect(await orders("9001.01")).toBe(1);
  });

  it("any other message during the copy ends the session before it reaches the server", async () => {
    // The server itself ends the connection for it ("protocol synchronization was lost"); regate does so
    // without sending it on.
    const raw = await Raw.open(regate.url());
    raw.send(query(COPY_IN));
    await raw.until((ms) => ms.some((m) => m.type === "G"));
    raw.send(query("SELECT 1"), query(SELECT_SSN));
    await closed(raw);
    expect(seen(raw.messages)).not.toContain(SSN);
    const fatal = raw.messages.find((m) => m.type === "E" && severity(m) === "FATAL");
    expect(fatal && sqlstate(fatal)).toBe("08P01");
  });

  it("extended protocol, libpq's order: Sync pipelined behind the Execute, copy data, CopyDone, Sync", async () => {
    const raw = await Raw.open(regate.url());
    raw.send(parse(COPY_IN), bind(), execute(), sync(), copyData(row("9002.02")), copyDone(), sync());
    const got = await raw.readies(1);
    expect(got.map((m) => m.type)).toEqual(["1", "2", "G", "C", "Z"]);
    raw.send(query(SELECT_SSN));
    const after = await raw.readies(1);
    raw.close();
    expect(seen(after)).not.toContain(SSN);
    expect(after.map((m) => m.type)).toEqual(["T", "D", "C", "Z"]);
    expect(await orders("9002.02")).toBe(1);
  });

  it("a COPY the server refuses before copying: the pipelined Sync is answered as usual", async () => {
    const raw = await Raw.open(regate.url());
    raw.send(parse(`${COPY_IN} WITH (FORMAT nosuch)`), bind(), execute(), sync(), query(SELECT_SSN));
    const got = await raw.readies(2);
    raw.close();
    expect(got.map((m) => m.type)).toEqual(["1", "2", "E", "Z", "T", "D", "C", "Z"]);
    expect(seen(got)).not.toContain(SSN);
  });

  it("CopyFail ends the copy with the server's error; the session goes on, masked", async () => {
    const raw = await Raw.open(regate.url());
    raw.send(query(COPY_IN));
    await raw.until((ms) => ms.some((m) => m.type === "G"));
    raw.send(copyData(row("9003.03")), sync(), copyFail("changed my mind"), query(SELECT_SSN));
    const got = await raw.readies(2);
    raw.close();
    expect(got.map((m) => m.type)).toEqual(["E", "Z", "T", "D", "C", "Z"]);
    expect(seen(got)).not.toContain(SSN);
    expect(await orders("9003.03")).toBe(0);
  });

  it("two COPY FROM STDIN in one Query: each copy is waited for", async () => {
    const raw = await Raw.open(regate.url());
    raw.send(query(`${COPY_IN}; ${COPY_IN}`));
    await raw.until((ms) => ms.filter((m) => m.type === "G").length === 1);
    raw.send(copyData(row("9004.04")), sync(), copyDone());
    await raw.until((ms) => ms.filter((m) => m.type === "G").length === 2);
    raw.send(copyData(row("9004.04")), copyDone(), query(SELECT_SSN));
    await raw.until((ms) => ms.filter((m) => m.type === "Z").length === 2);
    raw.close();
    expect(raw.messages.map((m) => m.type).join("")).toBe("GCGCZTDCZ");
    expect(seen(raw.messages)).not.toContain(SSN);
    expect(await orders("9004.04")).toBe(2);
  });

  it("postgres.js streams COPY FROM STDIN and COPY TO STDOUT, then reads masked rows", async () => {
    const sql = postgres(regate.url(), { max: 1, onnotice: () => undefined });
    try {
      const w = await sql`COPY orders (customer_id, amount, status, created_at) FROM STDIN`.writable();
      await new Promise<void>((resolve, reject) => {
        w.on("error", reject);
        w.on("finish", resolve);
        w.write(row("9005.05"));
        w.end(row("9005.05"));
      });
      const out: Buffer[] = [];
      const r = await sql`COPY (SELECT amount FROM orders WHERE amount = 9005.05) TO STDOUT`.readable();
      for await (const chunk of r) out.push(chunk as Buffer);
      expect(Buffer.concat(out).toString()).toBe("9005.05\n9005.05\n");
      expect(await sql.unsafe(SELECT_SSN)).toEqual([{ ssn: "****" }]);
    } finally {
      await sql.end();
    }
    expect(await orders("9005.05")).toBe(2);
  });

  it("node-postgres after a COPY: ordinary queries keep their masks", async () => {
    const c = new pg.Client({ connectionString: regate.url() });
    await c.connect();
    try {
      await expect(c.query(`COPY (SELECT 1) TO STDOUT`)).resolves.toBeDefined();
      expect((await c.query(SELECT_SSN)).rows).toEqual([{ ssn: "****" }]);
    } finally {
      await c.end();
    }
  });
});

describe("detector masks: every value that can carry text is read, and COPY out is refused", () => {
  it.each([
    ["COPY of a query", "COPY (SELECT body FROM notes) TO STDOUT"],
    ["COPY of a table, csv", "COPY notes TO STDOUT (FORMAT csv)"],
    ["COPY of a table, binary", "COPY notes TO STDOUT (FORMAT binary)"],
  ])("%s is refused: CopyData is never read", async (_name, sql) => {
    // Before: the CopyData went out as the server wrote it, the email in clear.
    const raw = await Raw.open(detecting.url());
    raw.send(query(sql));
    const got = await raw.readies(1);
    raw.close();
    expect(seen(got)).not.toContain(NOTE_EMAIL);
    expect(got.map((m) => m.type)).toEqual(["E", "Z"]);
    expect(sqlstate(got[0]!)).toBe("42501");
  });

  it("json, jsonb, xml, arrays and records of a text column are read by the detectors, in text and binary", async () => {
    // Before: only text, varchar, bpchar, name and unknown columns were read; any other type went out as sent.
    const sql = "SELECT to_json(body) AS j, doc, ARRAY[body] AS a, row(body, 1) AS r, body::xml AS x FROM notes";
    const raw = await Raw.open(detecting.url());
    raw.send(query(sql));
    const text = await raw.readies(1);
    // Result formats: all binary. jsonb's binary form is a version byte and its text, so it is read too.
    raw.send(parse(sql), msg("B", Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 1])), execute(), sync());
    const binary = await raw.readies(1);
    raw.close();
    expect(seen(text)).not.toContain(NOTE_EMAIL);
    expect(seen(text)).toContain("write to **** today");
    expect(seen(binary)).not.toContain(NOTE_EMAIL);
  });

  it("node-postgres still gets its jsonb as an object, with the address masked inside", async () => {
    const c = new pg.Client({ connectionString: detecting.url() });
    await c.connect();
    try {
      expect((await c.query("SELECT doc, id FROM notes")).rows).toEqual([{ doc: { contact: "****" }, id: 1 }]);
      expect((await c.query("SELECT count(*)::int AS n FROM orders WHERE id <= 3")).rows).toEqual([{ n: 3 }]);
    } finally {
      await c.end();
    }
  });
});

describe("a write regate wraps in its own transaction: nothing pipelined behind it runs inside that transaction", () => {
  const refunded = async () => Number((await db.query("SELECT count(*) AS n FROM orders WHERE id BETWEEN 11 AND 15 AND status = 'refunded'"))[0].n);

  it("a COMMIT pipelined behind a write whose result is cut does not commit it", async () => {
    // Before: the COMMIT reached the server right behind the UPDATE, inside regate's BEGIN, and committed
    // it; the agent was told the statement was rolled back.
    const before = await refunded();
    const raw = await Raw.open(budgeted.url());
    raw.send(query("UPDATE orders SET status = 'refunded' WHERE id BETWEEN 11 AND 15 RETURNING id"), query("COMMIT"));
    const got = await raw.readies(2);
    raw.close();
    const cut = got.find((m) => m.type === "E");
    expect(cut && sqlstate(cut)).toBe("54000");
    expect(seen(got)).toContain("rolled back");
    expect(await refunded()).toBe(before);
  });

  it("the same in the extended protocol: a Query behind the wrapped batch's Sync waits for regate's ROLLBACK", async () => {
    const before = await refunded();
    const raw = await Raw.open(budgeted.url());
    raw.send(parse("UPDATE orders SET status = 'refunded' WHERE id BETWEEN 11 AND 15 RETURNING id"), bind(), execute(), sync(), query("COMMIT"));
    const got = await raw.readies(2);
    raw.close();
    const cut = got.find((m) => m.type === "E");
    expect(cut && sqlstate(cut)).toBe("54000");
    expect(await refunded()).toBe(before);
  });

  it("a write within the budget commits, and what is pipelined behind it runs after", async () => {
    const raw = await Raw.open(budgeted.url());
    raw.send(query("UPDATE orders SET amount = amount WHERE id = 11 RETURNING id"), query("SELECT 7 AS seven"));
    const got = await raw.readies(2);
    raw.close();
    expect(got.map((m) => m.type).join("")).toBe("TDCZTDCZ");
  });
});

describe("errors from regate's own COMMIT are the client's statement's errors, screened as such", () => {
  it.each([
    ["without a budget: the statement's implicit commit", () => regate],
    ["with a budget: regate's COMMIT of the wrapped write", () => budgeted],
  ])("%s", async (_name, through) => {
    // Before, with a budget: the COMMIT's error went to the agent as the server wrote it, SSN and all.
    const raw = await Raw.open(through().url());
    raw.send(query("UPDATE orders SET status = 'cancelled' WHERE id = 16 RETURNING id"));
    const got = await raw.readies(1);
    raw.close();
    const failed = got.find((m) => m.type === "E");
    expect(failed && sqlstate(failed)).toBe("P0001");
    expect(seen(got)).not.toContain(SSN);
    expect(seen(got)).toContain("may not be cancelled");
    expect(Number((await db.query("SELECT count(*) AS n FROM orders WHERE id = 16 AND status = 'cancelled'"))[0].n)).toBe(0);
  });
});
