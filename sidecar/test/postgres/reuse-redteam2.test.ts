import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, msg, parse, query, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// An attacker's second pass at decision and analysis reuse: each attempt primes a session's caches with an
// allowed statement, changes what the same text means (a search_path change hidden in a query, a name
// prepared again, DDL by another connection, other constants), and runs it again. What the database did and
// what reached the client must be what a cold session (empty caches) gets.

const STALENESS_MS = 200;

let db: TestPostgres;
let r: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  await db.query("CREATE TABLE internal.orders (id int, secret text)");
  await db.query("INSERT INTO internal.orders VALUES (1, 'internal-order-secret')");
  await db.query("CREATE TABLE public.shifty (id int, note text)");
  await db.query("INSERT INTO public.shifty VALUES (1, 'harmless')");
  await db.query("CREATE SCHEMA hidden");
  await db.query("GRANT ALL ON SCHEMA hidden, internal TO PUBLIC");
  await db.query("GRANT ALL ON ALL TABLES IN SCHEMA public, internal TO PUBLIC");
  r = await startRegate(db, { postgres: { catalog: { max_staleness_ms: STALENESS_MS } } });
});

afterAll(async () => {
  await r?.stop();
  await db?.stop();
});

type Outcome = { ok: true; rows: string } | { ok: false; code: string };

async function attempt(c: pg.Client, sql: string | pg.QueryConfig): Promise<Outcome> {
  try {
    return { ok: true, rows: JSON.stringify((await c.query(sql)).rows) };
  } catch (e) {
    return { ok: false, code: (e as pg.DatabaseError).code ?? "?" };
  }
}

const ALLOWED = "SELECT id FROM orders ORDER BY id LIMIT 1";
const STAR = "SELECT * FROM orders ORDER BY id LIMIT 1";
const REFUSED = { ok: false, code: "42501" } as const;

/** `sql` on a fresh connection after `setup`: the cold decision. */
async function cold(setup: string[], sql: string): Promise<Outcome> {
  const c = await connectClient(r.url());
  try {
    for (const s of setup) await attempt(c, s);
    return await attempt(c, sql);
  } finally {
    await c.end();
  }
}

/** The SQLSTATEs of the ErrorResponses and the text of every DataRow among `messages`. */
function seen(messages: { type: string; body: Buffer }[]): { errors: string[]; rows: string[] } {
  const errors: string[] = [];
  const rows: string[] = [];
  for (const m of messages) {
    if (m.type === "E") {
      for (let at = 0; at < m.body.length && m.body[at] !== 0; ) {
        const end = m.body.indexOf(0, at + 1);
        if (m.body[at] === 0x43) errors.push(m.body.subarray(at + 1, end).toString());
        at = end + 1;
      }
    } else if (m.type === "D") rows.push(m.body.toString("latin1"));
  }
  return { errors, rows };
}

/** A Bind of `statement` to the unnamed portal with text parameters (and the result formats given). */
function bindText(statement: string, values: string[], resultFormats: number[] = []): Buffer {
  const parts: Buffer[] = [Buffer.from(`\0${statement}\0`), Buffer.from([0, 0])];
  const n = Buffer.alloc(2);
  n.writeInt16BE(values.length);
  parts.push(n);
  for (const v of values) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(Buffer.byteLength(v));
    parts.push(len, Buffer.from(v));
  }
  const formats = Buffer.alloc(2 + 2 * resultFormats.length);
  formats.writeInt16BE(resultFormats.length);
  resultFormats.forEach((f, i) => formats.writeInt16BE(f, 2 + 2 * i));
  parts.push(formats);
  return msg("B", Buffer.concat(parts));
}

const close = (name: string) => msg("C", Buffer.from(`S${name}\0`));

describe("a search_path change the same text runs after", () => {
  // [what changes the path, the text run after it]: each after the text was run (and its decision reused) twice.
  const changes: [string, string][] = [
    ["WITH s AS (SELECT set_config('search_path', 'internal, public', false) AS p) SELECT p FROM s", ALLOWED],
    ["SELECT 1 AS one WHERE (SELECT set_config('search_path', 'internal, public', false)) IS NOT NULL", ALLOWED],
    ["SET SCHEMA 'internal'", ALLOWED],
    ["SELECT pg_catalog.set_config('search_path', 'internal, public', false)", ALLOWED],
    ["SELECT set_config('search_path', 'internal, public', false) FROM (SELECT 1) AS x", "SELECT id FROM orders ORDER BY id LIMIT 2"],
  ];
  for (const [change, sql] of changes) {
    it(`${change} | ${sql}`, async () => {
      const c = await connectClient(r.url());
      try {
        expect((await attempt(c, sql)).ok).toBe(true);
        expect((await attempt(c, sql)).ok).toBe(true);
        expect((await attempt(c, change)).ok).toBe(true);
        const warm = await attempt(c, sql);
        expect(warm).toEqual(REFUSED);
        expect(await cold([change], sql)).toEqual(warm);
      } finally {
        await c.end();
      }
    });
  }

  it("SET LOCAL in a block", async () => {
    const c = await connectClient(r.url());
    try {
      await attempt(c, ALLOWED);
      await attempt(c, "BEGIN");
      expect((await attempt(c, ALLOWED)).ok).toBe(true);
      expect((await attempt(c, "SET LOCAL search_path = internal, public")).ok).toBe(true);
      expect(await attempt(c, ALLOWED)).toEqual(REFUSED);
      await attempt(c, "ROLLBACK");
    } finally {
      await c.end();
    }
  });

  it("an SQL prepared statement runs again after the path changed: the server parses it anew, regate judges it anew", async () => {
    const c = await connectClient(r.url());
    try {
      expect((await attempt(c, `PREPARE q AS ${ALLOWED}`)).ok).toBe(true);
      expect((await attempt(c, "EXECUTE q")).ok).toBe(true);
      expect((await attempt(c, "EXECUTE q")).ok).toBe(true);
      expect((await attempt(c, "SELECT set_config('search_path', 'internal, public', false)")).ok).toBe(true);
      expect(await attempt(c, "EXECUTE q")).toEqual(REFUSED);
    } finally {
      await c.end();
    }
  });

  it("a pipelined set_config between a Parse decided on the old path and its Bind", async () => {
    const raw = await Raw.open(r.url());
    try {
      raw.send(...[parse(ALLOWED, "s0"), bind("s0"), execute(), sync()]);
      await raw.readies(1);
      raw.send(
        parse("SELECT set_config('search_path', 'internal, public', false)"),
        bind(),
        execute(),
        bind("s0"),
        execute(),
        parse(ALLOWED),
        bind(),
        execute(),
        sync(),
      );
      const got = seen(await raw.readies(1));
      expect(got.rows.some((row) => row.includes("internal-order-secret"))).toBe(false);
      expect(got.errors).toEqual(["42501"]);
    } finally {
      raw.close();
    }
  });
});

describe("identity and shadowing between two identical statements", () => {
  // Each is refused, so the same text after it is judged as before (a reuse of its decision is right).
  const attempts = [
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "SELECT set_config('role', 'postgres', false)",
    "CREATE TEMP TABLE orders AS SELECT * FROM internal.orders",
    "CREATE TEMP VIEW orders AS SELECT * FROM internal.orders",
    "SELECT * INTO TEMP orders FROM internal.orders",
    "SET search_path = pg_temp, public",
  ];
  it("refused, and the text after each reads public.orders", async () => {
    const c = await connectClient(r.url());
    try {
      const before = await attempt(c, STAR);
      expect(before.ok).toBe(true);
      const got: Record<string, Outcome> = {};
      for (const a of attempts) got[a] = await attempt(c, a);
      const after = await attempt(c, STAR);
      const codes = Object.values(got).map((o) => (o.ok ? "ok" : o.code));
      // The last one is allowed: pg_temp holds nothing this session could have made.
      expect(codes).toEqual(["42501", "42501", "42501", "42501", "42501", "42501", "ok"]);
      expect(after).toEqual(before);
    } finally {
      await c.end();
    }
  });
});

describe("a search_path change pipelined before the same text, in one batch (before the server reports it)", () => {
  const SC = "set_config('search_path', 'internal, public', false)";
  const changes: [string, string[]][] = [
    ["in FROM", [`SELECT * FROM ${SC}`]],
    ["in VALUES", [`VALUES (${SC})`]],
    ["in a LATERAL", [`SELECT x FROM (SELECT 1) a, LATERAL (SELECT ${SC} AS x) b`]],
    ["in ORDER BY", [`SELECT 1 AS one ORDER BY ${SC}`]],
    ["in COPY", [`COPY (SELECT ${SC}) TO STDOUT`]],
    ["in EXPLAIN ANALYZE", [`EXPLAIN ANALYZE SELECT ${SC}`]],
    ["in a cursor's query, at FETCH", ["BEGIN", `DECLARE c CURSOR FOR SELECT ${SC}`, "FETCH c", "COMMIT"]],
    ["in a WITH HOLD cursor's query, at its commit", [`DECLARE h CURSOR WITH HOLD FOR SELECT ${SC}`]],
    ["in an SQL prepared statement", [`PREPARE sc AS SELECT ${SC}`, "EXECUTE sc"]],
    ["in RETURNING", [`UPDATE orders SET status = status WHERE id = -1 RETURNING ${SC}`]],
    ["in a CASE", [`SELECT CASE WHEN true THEN ${SC} END`]],
  ];
  for (const [name, steps] of changes) {
    it(name, async () => {
      const raw = await Raw.open(r.url());
      try {
        raw.send(parse(STAR), bind(), execute(), sync());
        await raw.readies(1);
        raw.send(...steps.flatMap((st) => [parse(st), bind(), execute()]), parse(STAR), bind(), execute(), sync());
        const got = seen(await raw.readies(1));
        expect(got.rows.join()).not.toContain("internal-order-secret");
        expect(got.errors).toEqual(["42501"]);
      } finally {
        raw.close();
      }
    });
  }
});

describe("a search_path SET settled with the rest of its batch", () => {
  it("a set_config after a plain SET in the same extended batch is not forgotten when the batch ends", async () => {
    const raw = await Raw.open(r.url());
    try {
      raw.send(parse(STAR), bind(), execute(), sync(), query(STAR));
      expect(seen(await raw.readies(2)).errors).toEqual([]);
      raw.send(
        parse("SET search_path = public"),
        bind(),
        execute(),
        parse("SELECT set_config('search_path', 'internal, public', false)"),
        bind(),
        execute(),
        sync(),
      );
      expect(seen(await raw.readies(1)).errors).toEqual([]);
      // Regate must judge the next statements under the path the server has: internal.orders comes first.
      raw.send(parse(STAR), bind(), execute(), sync());
      const extended = seen(await raw.readies(1));
      raw.send(query(STAR));
      const simple = seen(await raw.readies(1));
      expect([extended, simple].flatMap((x) => x.rows).join()).not.toContain("internal-order-secret");
      expect([extended.errors, simple.errors]).toEqual([["42501"], ["42501"]]);
    } finally {
      raw.close();
    }
  });
  it("a plain SET that a later BEGIN of its batch took into a block, rolled back by the same batch", async () => {
    const raw = await Raw.open(r.url());
    try {
      raw.send(query("SET search_path = internal, public"));
      expect(seen(await raw.readies(1)).errors).toEqual([]);
      // BEGIN inside the batch's implicit transaction makes the SET before it part of the block: ROLLBACK undoes it.
      raw.send(...[parse("SET search_path = public"), bind(), execute(), parse("BEGIN"), bind(), execute(), parse("ROLLBACK"), bind(), execute(), sync()]);
      expect(seen(await raw.readies(1)).errors).toEqual([]);
      raw.send(query("SHOW search_path"));
      const shown = seen(await raw.readies(1));
      raw.send(query(STAR));
      const got = seen(await raw.readies(1));
      expect(got.rows.join()).not.toContain("internal-order-secret");
      expect({ shown: shown.rows.join().includes("internal"), errors: got.errors }).toEqual({ shown: true, errors: ["42501"] });
    } finally {
      raw.close();
    }
  });

  for (const [name, ender] of [
    ["a ROLLBACK", "ROLLBACK"],
    ["an error", "SELECT 1/0"],
  ] as const) {
    it(`a plain SET of an extended batch that a Query sent before its Sync ends with ${name}`, async () => {
      const raw = await Raw.open(r.url());
      try {
        raw.send(query("SET search_path = internal, public"));
        expect(seen(await raw.readies(1)).errors).toEqual([]);
        // The Query runs in the batch's implicit transaction: ending it with a rollback undoes the SET too.
        raw.send(parse("SET search_path = public"), bind(), execute(), query(ender), sync());
        await raw.readies(2);
        raw.send(query("SHOW search_path"));
        const shown = seen(await raw.readies(1));
        raw.send(query(STAR));
        const got = seen(await raw.readies(1));
        expect(got.rows.join()).not.toContain("internal-order-secret");
        expect({ shown: shown.rows.join().includes("internal"), errors: got.errors }).toEqual({ shown: true, errors: ["42501"] });
      } finally {
        raw.close();
      }
    });
  }

  it("a SET settled while a Bind's facts waited on the catalog: the facts are kept under the path they were taken under", async () => {
    await db.query("CREATE TABLE hidden.zz (id int, note text); INSERT INTO hidden.zz VALUES (1, 'hidden-zz-secret'); CREATE TABLE public.zz (id int, note text); INSERT INTO public.zz VALUES (1, 'public-zz-note'); GRANT SELECT ON hidden.zz, public.zz TO PUBLIC");
    const raw = await Raw.open(r.url());
    try {
      raw.send(query("SET search_path = hidden"));
      await raw.readies(1);
      raw.send(parse("SELECT note FROM zz WHERE id = $1::int", "zz"), sync());
      await raw.readies(1);
      // The Bind's facts are taken again (the path may have changed) and wait on the catalog for public.zz; the
      // SET's answer comes meanwhile and makes public the only path.
      raw.send(query("SET search_path = public"), bindText("zz", ["1"]), execute(), sync());
      const first = seen(await raw.readies(2));
      raw.send(query("SET search_path = hidden, public"));
      await raw.readies(1);
      raw.send(bindText("zz", ["1"]), execute(), sync());
      const got = seen(await raw.readies(1));
      expect(first.rows.join()).toContain("public-zz-note");
      expect(got.rows.join()).not.toContain("hidden-zz-secret");
      expect(got.errors).toEqual(["42501"]);
    } finally {
      raw.close();
      await db.query("DROP TABLE hidden.zz, public.zz");
    }
  });
});

describe("a prepared statement name given another text", () => {
  const secret = "SELECT secret FROM internal.orders WHERE id = $1::int";
  const allowedP = "SELECT id FROM orders WHERE id = $1::int";

  it("Close, then Parse with the same name: the Bind is judged by the new text", async () => {
    const raw = await Raw.open(r.url());
    try {
      raw.send(parse(allowedP, "n1"), bindText("n1", ["1"]), execute(), sync());
      raw.send(bindText("n1", ["1"]), execute(), sync());
      await raw.readies(2);
      raw.send(close("n1"), parse(secret, "n1"), bindText("n1", ["1"]), execute(), sync());
      const got = seen(await raw.readies(1));
      expect(got.rows.join()).not.toContain("internal-order-secret");
      expect(got.errors).toEqual(["42501"]);
    } finally {
      raw.close();
    }
  });

  it("a Parse the server refuses (the name exists) leaves the old text in place, for regate too", async () => {
    const raw = await Raw.open(r.url());
    try {
      // The refused text is parsed first: its decision waits for the Bind.
      raw.send(parse(secret, "n2"), sync());
      await raw.readies(1);
      // The allowed text under the same name: the server answers 42P05 and keeps the first.
      raw.send(parse(allowedP, "n2"), sync());
      const dup = seen(await raw.readies(1));
      expect(dup.errors).toEqual(["42P05"]);
      raw.send(bindText("n2", ["1"]), execute(), sync());
      const got = seen(await raw.readies(1));
      expect(got.rows.join()).not.toContain("internal-order-secret");
      expect(got.errors).toEqual(["42501"]);
    } finally {
      raw.close();
    }
  });

  it("the same, pipelined without a Sync in between", async () => {
    const raw = await Raw.open(r.url());
    try {
      raw.send(parse(secret, "n3"), msg("H", Buffer.alloc(0)), parse(allowedP, "n3"), bindText("n3", ["1"]), execute(), sync(), bindText("n3", ["1"]), execute(), sync());
      const got = seen(await raw.readies(2));
      expect(got.rows.join()).not.toContain("internal-order-secret");
    } finally {
      raw.close();
    }
  });

  it("the unnamed statement parsed again after a Bind of the old one", async () => {
    const raw = await Raw.open(r.url());
    try {
      raw.send(parse(allowedP), bindText("", ["1"]), execute(), parse(allowedP), bindText("", ["1"]), execute(), sync());
      await raw.readies(1);
      raw.send(parse(secret), bindText("", ["1"]), execute(), sync());
      const got = seen(await raw.readies(1));
      expect(got.rows.join()).not.toContain("internal-order-secret");
      expect(got.errors).toEqual(["42501"]);
    } finally {
      raw.close();
    }
  });

  it("DEALLOCATE and PREPARE again under the same name: EXECUTE runs the new text", async () => {
    const c = await connectClient(r.url());
    try {
      expect((await attempt(c, "PREPARE d AS SELECT id FROM orders ORDER BY id LIMIT 1")).ok).toBe(true);
      expect((await attempt(c, "EXECUTE d")).ok).toBe(true);
      expect((await attempt(c, "EXECUTE d")).ok).toBe(true);
      expect((await attempt(c, "DEALLOCATE d")).ok).toBe(true);
      expect((await attempt(c, "PREPARE d AS SELECT email FROM customers ORDER BY id LIMIT 1")).ok).toBe(true);
      const out = await attempt(c, "EXECUTE d");
      expect(out.ok).toBe(true);
      expect((out as { rows: string }).rows).not.toMatch(/"[^"*]+@/);
    } finally {
      await c.end();
    }
  });

  it("one prepared masked statement bound again with binary, then text, then mixed result formats", async () => {
    const raw = await Raw.open(r.url());
    const direct = await connectClient(db.url());
    try {
      const email = String((await direct.query("SELECT email FROM customers ORDER BY id LIMIT 1")).rows[0].email);
      const sql = "SELECT email, ssn, id FROM customers WHERE id > $1::int ORDER BY id LIMIT 1";
      const describe = msg("D", Buffer.from("Sm1\0"));
      raw.send(parse(sql, "m1"), describe, bindText("m1", ["0"], [1]), execute(), sync());
      raw.send(bindText("m1", ["0"], [0]), execute(), sync());
      raw.send(bindText("m1", ["0"], [1, 0, 1]), execute(), sync());
      raw.send(bindText("m1", ["0"], [1]), execute(), sync());
      const got = seen(await raw.readies(4));
      expect(got.errors).toEqual([]);
      expect(got.rows).toHaveLength(4);
      for (const row of got.rows) expect(row).not.toContain(email);
    } finally {
      await direct.end();
      raw.close();
    }
  });
});

describe("DDL by another connection between two identical statements", () => {
  it("a table becomes a view over a protected table", async () => {
    const c = await connectClient(r.url());
    const sql = "SELECT note FROM shifty ORDER BY 1 LIMIT 1";
    try {
      expect((await attempt(c, sql)).ok).toBe(true);
      expect((await attempt(c, sql)).ok).toBe(true);
      await db.query("ALTER TABLE public.shifty RENAME TO shifty_old; CREATE VIEW public.shifty AS SELECT id, secret AS note FROM internal.orders");
      await new Promise((res) => setTimeout(res, STALENESS_MS * 3));
      const warm = await attempt(c, sql);
      expect(warm).toEqual(REFUSED);
      expect(await cold([], sql)).toEqual(REFUSED);
    } finally {
      await db.query("DROP VIEW IF EXISTS public.shifty; ALTER TABLE IF EXISTS public.shifty_old RENAME TO shifty");
      await c.end();
    }
  });

  it("a table is created in a schema earlier in the path (the same text, another table)", async () => {
    const c = await connectClient(r.url());
    const sql = "SELECT id FROM shadowed ORDER BY 1 LIMIT 1";
    try {
      await db.query("CREATE TABLE public.shadowed (id int); INSERT INTO public.shadowed VALUES (1); GRANT SELECT ON public.shadowed TO PUBLIC");
      expect((await attempt(c, "SET search_path = hidden, public")).ok).toBe(true);
      expect((await attempt(c, sql)).ok).toBe(true);
      expect((await attempt(c, sql)).ok).toBe(true);
      await db.query("CREATE TABLE hidden.shadowed (id int); INSERT INTO hidden.shadowed VALUES (2); GRANT SELECT ON hidden.shadowed TO PUBLIC");
      await new Promise((res) => setTimeout(res, STALENESS_MS * 3));
      expect(await attempt(c, sql)).toEqual(REFUSED);
      expect(await cold(["SET search_path = hidden, public"], sql)).toEqual(REFUSED);
    } finally {
      await db.query("DROP TABLE IF EXISTS hidden.shadowed, public.shadowed");
      await c.end();
    }
  });

  it("a function created earlier in the path shadows the built-in the same text called", async () => {
    const c = await connectClient(r.url());
    const sql = "SELECT upper(status) AS s FROM orders ORDER BY id LIMIT 1";
    try {
      expect((await attempt(c, "SET search_path = public, pg_catalog")).ok).toBe(true);
      expect((await attempt(c, sql)).ok).toBe(true);
      expect((await attempt(c, sql)).ok).toBe(true);
      await db.query("CREATE FUNCTION public.upper(text) RETURNS text LANGUAGE sql AS $$SELECT secret FROM internal.orders LIMIT 1$$");
      await new Promise((res) => setTimeout(res, STALENESS_MS * 3));
      const warm = await attempt(c, sql);
      expect(warm).toEqual(REFUSED);
      expect(await cold(["SET search_path = public, pg_catalog"], sql)).toEqual(REFUSED);
    } finally {
      await db.query("DROP FUNCTION IF EXISTS public.upper(text)");
      await c.end();
    }
  });
});

describe("constants that name objects", () => {
  const pairs: [string, string][] = [
    ["SELECT nextval('public.orders_id_seq') > 0", "SELECT nextval('internal.api_keys_id_seq') > 0"],
    ["SELECT pg_sequence_last_value('public.orders_id_seq') IS NULL", "SELECT pg_sequence_last_value('internal.api_keys_id_seq') IS NULL"],
    ["SELECT currval(pg_get_serial_sequence('public.orders', 'id')) > 0", "SELECT currval(pg_get_serial_sequence('internal.api_keys', 'id')) > 0"],
    ["SELECT id FROM orders ORDER BY id LIMIT 1", "SELECT id FROM orders ORDER BY id LIMIT 1 OFFSET 1"],
    ["SELECT count(*) FROM customers GROUP BY 1 = 1", "SELECT count(*) FROM customers GROUP BY 1 = 2"],
  ];
  it("warm (after the other constant) = cold", async () => {
    const mismatches: string[] = [];
    for (const [first, then] of pairs) {
      const c = await connectClient(r.url());
      await attempt(c, first);
      await attempt(c, first);
      const w = await attempt(c, then);
      await c.end();
      const k = await cold([], then);
      if (JSON.stringify(w) !== JSON.stringify(k)) mismatches.push(`${first} then ${then}: warm ${JSON.stringify(w)} cold ${JSON.stringify(k)}`);
    }
    expect(mismatches).toEqual([]);
  });
});

