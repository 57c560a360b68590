// postgres.js (porsager) through regate with the example policy, in the modes node-drivers.test.ts and
// protocol-redteam.test.ts leave out: cursors (Execute with a row limit, then PortalSuspended), forEach,
// values and raw rows, simple-protocol multi-statement strings, savepoints, and COPY into and out of tables
// the policy protects. Judged by what the database holds afterwards and what the agent got back; each
// refusal is followed by a statement on the same connection, which must still work and still be masked.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
/** Customers 1–8 as stored, unmasked: none of these values may reach the agent. */
let secrets: string[];

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  const rows = await db.query("SELECT email, phone, ssn, card_number FROM public.customers WHERE id <= 8");
  secrets = rows.flatMap((r: Record<string, string | null>) => [r.email, r.phone, r.ssn, r.card_number]).filter((v): v is string => !!v);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

/** One connection (max 1), so every call shares the session a refusal could have broken. */
async function session<T>(fn: (sql: postgres.Sql) => Promise<T>, prepare = true): Promise<T> {
  const sql = postgres(regate.url(), { max: 1, prepare, onnotice: () => undefined });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const sqlstate = (p: Promise<unknown>) => p.then(() => undefined, (e: { code?: string }) => e.code);
const count = async (sql: string) => Number((await db.query(sql))[0].n);
const leaked = (got: unknown) => secrets.filter((s) => JSON.stringify(got).includes(s));

/** Streams `rows` into a COPY FROM STDIN; postgres.js rejects the writable() promise when the COPY is refused. */
async function copyIn(sql: postgres.Sql, statement: string, rows: string[]): Promise<void> {
  const w = await sql.unsafe(statement).writable();
  await new Promise<void>((resolve, reject) => {
    w.on("error", reject);
    w.on("finish", resolve);
    for (const r of rows) w.write(r);
    w.end();
  });
}

describe.each([
  ["named prepared statements", true],
  ["unnamed statements", false],
])("postgres.js cursors, %s", (_mode, prepare) => {
  it("masks every batch of a cursor, also one left early, and the rows a concurrent query gets", async () => {
    await session(async (sql) => {
      const batches: { id: number; ssn: string | null; email: string }[][] = [];
      for await (const rows of sql`SELECT id, ssn, email FROM customers WHERE id <= ${8} ORDER BY id`.cursor(3)) batches.push([...rows] as never);
      expect(batches.map((b) => b.length)).toEqual([3, 3, 2]);
      for (const row of batches.flat()) {
        if (row.ssn !== null) expect(row.ssn).toBe("****");
        expect(row.email).toMatch(/^\*\*\*@/);
      }
      // Left after the first batch: the portal stays open upstream until the driver closes it.
      for await (const rows of sql`SELECT id, card_number FROM customers ORDER BY id`.cursor(2)) {
        expect(rows.map((r) => r.card_number)).toEqual([expect.stringMatching(/^\*+\d{4}$/), expect.stringMatching(/^\*+\d{4}$/)]);
        break;
      }
      const queued = sql`SELECT phone FROM customers WHERE id = ${2}`.execute();
      const each: unknown[] = [];
      await sql`SELECT id, ssn FROM customers WHERE id <= ${4} ORDER BY id`.forEach((row) => void each.push(row));
      expect(each).toHaveLength(4);
      expect(await queued).toEqual([{ phone: "****" }]);
      expect(leaked([batches, each])).toEqual([]);
    }, prepare);
  });

  it("refuses a cursor over a denied statement, runs nothing, and the session goes on masked", async () => {
    const before = await count("SELECT count(*)::int AS n FROM orders");
    await session(async (sql) => {
      const drain = async (q: postgres.PendingQuery<postgres.Row[]>) => {
        for await (const _ of q.cursor(1)) void _;
      };
      expect(await sqlstate(drain(sql`DELETE FROM orders RETURNING id`))).toBe("42501");
      expect(await sqlstate(drain(sql`SELECT secret FROM internal.api_keys WHERE id > ${0}`))).toBe("42501");
      expect(await sql`SELECT ssn FROM customers WHERE id = ${2}`).toEqual([{ ssn: "****" }]);
    }, prepare);
    expect(await count("SELECT count(*)::int AS n FROM orders")).toBe(before);
  });
});

describe("postgres.js result shapes and protocols", () => {
  it("values(), raw() and simple multi-statement strings are masked", async () => {
    await session(async (sql) => {
      expect(await sql`SELECT id, ssn FROM customers WHERE id = ${2}`.values()).toEqual([[2, "****"]]);
      const raw = await sql`SELECT ssn FROM customers WHERE id = ${2}`.raw();
      expect(raw.map((r) => r.map((b) => b?.toString()))).toEqual([["****"]]);
      const [ssn, email] = await sql.unsafe("SELECT ssn FROM customers WHERE id = 2; SELECT email FROM customers WHERE id = 2").simple();
      expect(ssn).toEqual([{ ssn: "****" }]);
      expect((email as unknown as { email: string }[])[0]!.email).toMatch(/^\*\*\*@/);
      expect(leaked([raw, ssn, email])).toEqual([]);
    });
  });

  it("sql.unsafe with a denied statement in a multi-statement string runs none of it", async () => {
    const [before] = await db.query("SELECT status FROM orders WHERE id = 11");
    const other = before.status === "refunded" ? "paid" : "refunded";
    await session(async (sql) => {
      expect(await sqlstate(sql.unsafe(`UPDATE orders SET status = '${other}' WHERE id = 11; DELETE FROM orders`))).toBe("42501");
      expect(await sql.unsafe("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    });
    expect((await db.query("SELECT status FROM orders WHERE id = 11"))[0].status).toBe(before.status);
  });

  it("a refusal inside sql.savepoint rolls back to the savepoint only; the transaction commits the rest", async () => {
    const status = async (id: number) => (await db.query("SELECT status FROM orders WHERE id = $1", [id]))[0].status as string;
    const [a, b] = [await status(12), await status(13)];
    const other = (s: string) => (s === "refunded" ? "paid" : "refunded");
    await session(async (sql) => {
      const inner = await sql.begin(async (tx) => {
        await tx`UPDATE orders SET status = ${other(a)} WHERE id = 12`;
        const refused = await sqlstate(
          tx.savepoint(async (sp) => {
            await sp`UPDATE orders SET status = ${other(b)} WHERE id = 13`;
            await sp`DELETE FROM orders`;
          }),
        );
        const [row] = await tx`SELECT ssn FROM customers WHERE id = ${2}`;
        return { refused, ssn: row!.ssn };
      });
      expect(inner).toEqual({ refused: "42501", ssn: "****" });
    });
    expect([await status(12), await status(13)]).toEqual([other(a), b]);
  });
});

describe("postgres.js COPY through writable() and readable()", () => {
  it.each([
    ["payments (writes need approval; masked card_number)", "COPY payments (order_id, amount, card_number, status) FROM STDIN", "1\t4242.42\t4111111111111111\tauthorized\n", "SELECT count(*)::int AS n FROM payments WHERE amount = 4242.42"],
    ["customers (masked columns; not writable)", "COPY customers (full_name, email, created_at) FROM STDIN", "Eve\teve.4242@example.com\t2026-01-01\n", "SELECT count(*)::int AS n FROM customers WHERE email = 'eve.4242@example.com'"],
    ["internal.api_keys", "COPY internal.api_keys (owner, secret) FROM STDIN", "eve\tsecret-4242\n", "SELECT count(*)::int AS n FROM internal.api_keys WHERE secret = 'secret-4242'"],
  ])("refuses COPY FROM STDIN into %s; no row lands and the session goes on", async (_name, statement, row, rows) => {
    await session(async (sql) => {
      expect(await sqlstate(copyIn(sql, statement, [row]))).toBe("42501");
      expect(await sql`SELECT ssn FROM customers WHERE id = ${2}`).toEqual([{ ssn: "****" }]);
    });
    expect(await count(rows)).toBe(0);
  });

  it("must allow: COPY FROM STDIN into orders lands every row; COPY out of customers is refused", async () => {
    await session(async (sql) => {
      await copyIn(sql, "COPY orders (customer_id, amount, status, created_at) FROM STDIN", ["1\t4343.43\tpending\t2026-01-01\n", "2\t4343.43\tpaid\t2026-01-02\n"]);
      const out = (async () => {
        const chunks: Buffer[] = [];
        for await (const c of await sql`COPY (SELECT ssn FROM customers) TO STDOUT`.readable()) chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString();
      })();
      expect(await sqlstate(out)).toBe("42501");
      expect(await sql`SELECT count(*)::int AS n FROM orders WHERE amount = ${4343.43}`).toEqual([{ n: 2 }]);
    });
    expect(await count("SELECT count(*)::int AS n FROM orders WHERE amount = 4343.43")).toBe(2);
  });
});
