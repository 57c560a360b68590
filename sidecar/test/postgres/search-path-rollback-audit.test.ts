import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { parse, query, Raw, step, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// The search_path regate believes in must be the server's, or a statement is judged against other tables
// than the ones it reads. A SET that the server rolls back (the implicit transaction of an extended-protocol
// batch that fails after it; a block the client opened in a message regate had not seen answered yet) must
// not leave regate sure of the new path. Judged by what a cold session with the server's real path is
// answered: internal.orders is refused, public.orders is not.

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  await db.query("CREATE TABLE internal.orders (id int, secret text)");
  await db.query("INSERT INTO internal.orders VALUES (1, 'internal-order-secret')");
  regate = await startRegate(db);
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

/** What a query's replies say: the rows' text, or the SQLSTATE of its error. */
function answer(replies: { type: string; body: Buffer }[]): string {
  const err = replies.find((m) => m.type === "E");
  if (err) {
    const fields = err.body.toString("utf8").split("\0");
    return `error ${fields.find((f) => f.startsWith("C"))!.slice(1)}`;
  }
  return replies
    .filter((m) => m.type === "D")
    .map((m) => m.body.toString("latin1"))
    .join("|");
}

/** `orders` as a cold session on the server's real path reads it: internal.orders, refused, nothing of it shown. */
async function expectOrdersRefused(c: Raw): Promise<void> {
  c.send(query("SELECT * FROM orders"));
  const got = answer(await c.readies(1));
  expect(got).not.toContain("internal-order-secret");
  expect(got).toBe("error 42501");
}

async function serverPath(c: Raw): Promise<string> {
  c.send(query("SHOW search_path"));
  return answer(await c.readies(1));
}

describe("a SET search_path the server rolls back", () => {
  it("in an extended-protocol batch that fails after it", async () => {
    const c = await Raw.open(regate.url());
    try {
      c.send(query("SET search_path = internal, public"));
      await c.readies(1);
      c.send(query("SELECT * FROM orders"));
      expect(answer(await c.readies(1))).toBe("error 42501");
      // One batch: the SET, then a statement that fails; the server rolls the batch's implicit transaction back.
      c.send(...step("SET search_path = public"), ...step("SELECT 1/0"), sync());
      await c.readies(1);
      expect(await serverPath(c)).toContain("internal, public");
      await expectOrdersRefused(c);
    } finally {
      c.close();
    }
  });

  it("inside a block opened by a Query regate had not seen answered (pipelined), then rolled back", async () => {
    const c = await Raw.open(regate.url());
    try {
      c.send(query("SET search_path = internal, public"));
      await c.readies(1);
      c.send(query("BEGIN"), query("SET search_path = public"), query("ROLLBACK"));
      await c.readies(3);
      expect(await serverPath(c)).toContain("internal, public");
      await expectOrdersRefused(c);
    } finally {
      c.close();
    }
  });

  it("that was only parsed (a named Parse never executed)", async () => {
    const c = await Raw.open(regate.url());
    try {
      c.send(query("SET search_path = internal, public"));
      await c.readies(1);
      c.send(parse("SET search_path = public", "never_run"), sync());
      await c.readies(1);
      expect(await serverPath(c)).toContain("internal, public");
      await expectOrdersRefused(c);
    } finally {
      c.close();
    }
  });

  it("a SET that ran alone is certain once it is answered: the next statement is judged by the new path", async () => {
    const c = await Raw.open(regate.url());
    try {
      for (const [path, expected] of [
        ["internal, public", "error 42501"],
        ["public", "ok"],
      ] as const) {
        for (const send of [() => c.send(query(`SET search_path = ${path}`)), () => c.send(...step(`SET search_path = ${path}`), sync())]) {
          send();
          await c.readies(1);
          c.send(query("SELECT id FROM orders ORDER BY id LIMIT 1"));
          const got = answer(await c.readies(1));
          expect(got.startsWith("error") ? got : "ok").toBe(expected);
        }
      }
    } finally {
      c.close();
    }
  });
});
