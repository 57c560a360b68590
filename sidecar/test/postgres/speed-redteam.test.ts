import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "../reliability/support/bundles.js";
import { connectClient, outcomeCode } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { execute, msg, parse, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { timeInput } from "../../src/decision/time.js";

// Red team of the Postgres speed pass (c272ea8, b61fa66): the analysis cache's last entry (`repeated`, the
// search_path compared by array identity), RowDescription decoded only under masking decisions, reused
// decisions copied from a kept shape. These cases pin down behaviour those caches must keep: each fails if
// a cache serves what it should not (a stale path, a row shape not asked for, another prior's members).

let db: TestPostgres;

beforeAll(async () => {
  db = await startPostgres();
  // An unqualified name that means a harmless table under the default path and internal.* once internal
  // comes first: the same text must be judged by the schema it reaches now.
  await db.query("CREATE TABLE IF NOT EXISTS public.api_keys (id int)");
});

afterAll(async () => {
  await db?.stop();
});

const outcome = outcomeCode;

describe("the same text repeated while the search_path changes (analysis cache's last entry)", () => {
  const text = "SELECT count(*) FROM api_keys";
  const extended = { text: "SELECT count(*) FROM api_keys WHERE id > $1", values: [0] };

  it.each([
    ["a settled SET", "SET search_path = internal, public", "42501"],
    ["SET SESSION with a quoted name", 'SET SESSION search_path = "internal", public', "42501"],
    ["set_config", "SELECT set_config('search_path', 'internal, public', false)", "42501"],
    ["set_config qualified, upper-case name", "SELECT pg_catalog.set_config('SEARCH_PATH', 'internal, public', false)", "42501"],
    ["set_config in FROM", "SELECT * FROM set_config('search_path', 'internal, public', false)", "42501"],
    ["set_config in a WHERE", "SELECT 1 FROM pg_catalog.pg_class WHERE pg_catalog.set_config('search_path', 'internal, public', false) IS NOT NULL LIMIT 1", "42501"],
    ["set_config in a CTE", "WITH x AS (SELECT set_config('search_path', 'internal, public', false)) SELECT * FROM x", "42501"],
    ["set_config in VALUES", "VALUES (set_config('search_path', 'internal, public', false))", "42501"],
    ["set_config through PREPARE and EXECUTE", "PREPARE sp AS SELECT set_config('search_path', 'internal, public', false); EXECUTE sp", "42501"],
    ["SET inside a block, rolled back (kept as possible)", "BEGIN; SET search_path = internal, public; ROLLBACK", "42501"],
    ["SET LOCAL ended by COMMIT (kept as possible)", "BEGIN; SET LOCAL search_path = internal, public; COMMIT", "42501"],
  ])("%s: the next run of the same text is judged under the new path", async (_what, change, expected) => {
    const r = await startRegate(db);
    const c = await connectClient(r.url());
    try {
      for (let i = 0; i < 3; i++) {
        expect(await outcome(c, text)).toBe("ok");
        expect(await outcome(c, extended)).toBe("ok");
      }
      expect(await outcome(c, change)).toBe("ok");
      expect(await outcome(c, text)).toBe(expected);
      expect(await outcome(c, extended)).toBe(expected);
    } finally {
      await c.end();
      await r.stop();
    }
  });

  it.each([["RESET search_path"], ["DISCARD ALL"]])("%s after a settled SET: back to the harmless table, and the log names the path in effect", async (reset) => {
    const r = await startRegate(db);
    const c = await connectClient(r.url());
    try {
      expect(await outcome(c, "SET search_path = internal, public")).toBe("ok");
      expect(await outcome(c, text)).toBe("42501");
      expect(await outcome(c, reset)).toBe("ok");
      expect(await outcome(c, text)).toBe("ok");
      const lines = r.decisions().filter((d) => d["input"]?.postgres?.statements?.[0]?.sql === text);
      const paths = lines.map((d) => d["input"].postgres.search_path);
      expect(paths[0]).toEqual(["internal", "public"]);
      // Alone, outside a block and answered without an error: the start path is the only one again.
      expect(paths[1]).toEqual(["$user", "public"]);
    } finally {
      await c.end();
      await r.stop();
    }
  });
});

describe("a view redefined by another connection while the same text repeats (no catalog hooks)", () => {
  it("the text is judged by the new body once the catalog re-checked it", async () => {
    await db.query("CREATE OR REPLACE VIEW public.speed_v AS SELECT id FROM public.orders");
    const r = await startRegate(db, { postgres: { catalog: { max_staleness_ms: 500 } } });
    const c = await connectClient(r.url());
    try {
      const text = "SELECT count(*) FROM speed_v";
      for (let i = 0; i < 5; i++) expect(await outcome(c, text)).toBe("ok");
      await db.query("DROP VIEW public.speed_v; CREATE VIEW public.speed_v AS SELECT id FROM internal.api_keys");
      await new Promise((res) => setTimeout(res, 1500));
      expect(await outcome(c, text)).toBe("42501");
      expect(await outcome(c, { text: `${text} WHERE id > $1`, values: [0] })).toBe("42501");
    } finally {
      await c.end();
      await db.query("DROP VIEW IF EXISTS public.speed_v");
      await r.stop();
    }
  });
});

/** A policy of its own: customers.email is redacted when the first Bind parameter is 'mask'. */
const PARAM_MASK = `package regate
import rego.v1

masks contains {"column": "public.customers.email", "strategy": "redact"} if input.postgres.parameters[0].value == "mask"

decision := {"allow": true, "deny": [], "mask": [m | some m in masks]}
`;

/** Bind of `statement` to the unnamed portal with text parameters and one result format for all columns. */
function bindWith(statement: string, params: string[], resultFormat: 0 | 1): Buffer {
  const parts: Buffer[] = [Buffer.from(`\0${statement}\0`), u16(0), u16(params.length)];
  for (const p of params) {
    const v = Buffer.from(p);
    const len = Buffer.alloc(4);
    len.writeInt32BE(v.length);
    parts.push(len, v);
  }
  parts.push(u16(1), u16(resultFormat));
  return msg("B", Buffer.concat(parts));
}
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const describePortal = () => msg("D", Buffer.from("P\0"));

/** The values of the DataRows among `messages`, as text. */
function rows(messages: { type: string; body: Buffer }[]): (string | null)[][] {
  return messages
    .filter((m) => m.type === "D")
    .map((m) => {
      const out: (string | null)[] = [];
      let off = 2;
      for (let i = 0; i < m.body.readInt16BE(0); i++) {
        const len = m.body.readInt32BE(off);
        off += 4;
        out.push(len < 0 ? null : m.body.toString("utf8", off, off + len));
        if (len > 0) off += len;
      }
      return out;
    });
}

describe("a statement described under an unmasked decision, executed later under a masking one", () => {
  let r: TestRegate;
  let email: string;

  beforeAll(async () => {
    r = await startRegate(db, { policy: { bundle: buildBundle("param-mask", { "param-mask.rego": PARAM_MASK }, false) } });
    email = (await db.query("SELECT email FROM public.customers WHERE id = 1"))[0].email as string;
  });

  afterAll(async () => {
    await r?.stop();
  });

  it.each([
    ["text", 0],
    ["binary", 1],
  ] as const)("%s results: the later Bind without a Describe is masked (the shape is asked for)", async (_f, format) => {
    const c = await Raw.open(r.url());
    try {
      c.send(parse("SELECT email, $1::text AS tag FROM customers WHERE id = 1", "s"), sync());
      await c.readies(1);
      // Described as a portal under the unmasked decision: the client sees the email...
      c.send(bindWith("s", ["plain"], format), describePortal(), execute(), sync());
      expect(rows(await c.readies(1))).toEqual([[email, "plain"]]);
      // ...and the next execution, a masking one, skips the Describe (drivers that cached the shape).
      c.send(bindWith("s", ["mask"], format), execute(), sync());
      const masked = rows(await c.readies(1));
      expect(masked).toHaveLength(1);
      expect(masked[0]![0]).not.toBe(email);
      expect(masked[0]![1]).toBe("mask");
      // And back: unmasked again, with the server's own bytes.
      c.send(bindWith("s", ["plain"], format), execute(), sync());
      expect(rows(await c.readies(1))).toEqual([[email, "plain"]]);
    } finally {
      c.close();
    }
  });

  it("node-postgres named queries (Describe on every execution) alternate masked and plain", async () => {
    const c = await connectClient(r.url());
    try {
      const q = (tag: string) => c.query({ name: "alt", text: "SELECT email, $1::text AS tag FROM customers WHERE id = 1", values: [tag] });
      for (const tag of ["plain", "mask", "plain", "mask"]) {
        const got = (await q(tag)).rows[0] as { email: string };
        if (tag === "mask") expect(got.email).not.toBe(email);
        else expect(got.email).toBe(email);
      }
    } finally {
      await c.end();
    }
  });
});

describe("reused decisions in one session, from priors that differ", () => {
  it("each reuse carries its own prior's outcome and reasons, a new id, and the input of the statement it decides", async () => {
    const r = await startRegate(db);
    const c = await connectClient(r.url());
    try {
      const internal = "SELECT id FROM internal.api_keys";
      const allowed = "SELECT id FROM orders WHERE id = 1";
      const masked = "SELECT email FROM customers WHERE id = 1";
      const texts = [internal, allowed, masked, internal, allowed, masked, internal, "SELECT id FROM orders WHERE id = 2", "SELECT email FROM customers WHERE id = 2", internal];
      const emails = (await db.query("SELECT email FROM public.customers WHERE id IN (1, 2)")).map((row: { email: string }) => row.email);
      const seen: { code: string; message: string }[] = [];
      for (const t of texts) {
        seen.push(
          await c.query(t).then(
            (res) => {
              // A reused masking decision masks as its prior did.
              if (t.includes("email")) for (const row of res.rows as { email: string }[]) expect(emails).not.toContain(row.email);
              return { code: "ok", message: "" };
            },
            (e: pg.DatabaseError) => ({ code: e.code ?? "?", message: e.message }),
          ),
        );
      }
      expect(seen.map((x) => x.code)).toEqual(["42501", "ok", "ok", "42501", "ok", "ok", "42501", "ok", "ok", "42501"]);
      const lines = r.decisions().filter((d) => texts.includes(d["input"]?.postgres?.statements?.[0]?.sql));
      expect(lines.map((d) => d["input"].postgres.statements[0].sql)).toEqual(texts);
      expect(new Set(lines.map((d) => d["decision_id"])).size).toBe(texts.length);
      // The agent is told the id of the decision logged for its own statement (a reuse's new id, not its prior's).
      seen.forEach((x, i) => {
        if (x.code !== "ok") expect(x.message).toContain(`(decision ${lines[i]!["decision_id"]})`);
      });
      const byId = new Map(lines.map((d) => [d["decision_id"], d]));
      const reused = lines.filter((d) => d["reused_from"] !== undefined);
      // The repeats of the first three texts at least (a text served from its template may be reused too).
      expect(reused.length).toBeGreaterThanOrEqual(5);
      for (const d of reused) {
        const prior = byId.get(d["reused_from"])!;
        expect(prior).toBeDefined();
        expect(prior["reused_from"]).toBeUndefined();
        // The same template (constants aside) and the same result as the decision it reuses.
        expect(d["input"].postgres.statements[0].sql.replace(/\d+$/, "")).toBe(prior["input"].postgres.statements[0].sql.replace(/\d+$/, ""));
        expect(d["result"]).toEqual(prior["result"]);
      }
    } finally {
      await c.end();
      await r.stop();
    }
  });
});

describe("a pipelined batch sent one byte per write (lazy frame bodies, OutBatch)", () => {
  it("gets the same replies, masked the same, as when sent whole", async () => {
    const r = await startRegate(db);
    const sqls = ["SELECT id, email FROM customers ORDER BY id LIMIT 2", "SELECT id FROM orders ORDER BY id LIMIT 2"];
    const batch = Buffer.concat([...sqls.flatMap((q) => [parse(q), msg("B", Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])), msg("D", Buffer.from("P\0")), execute()]), sync()]);
    const run = async (split: boolean) => {
      const c = await Raw.open(r.url());
      try {
        c.sock.setNoDelay(true);
        if (!split) c.send(batch);
        else
          for (let i = 0; i < batch.length; i++) {
            c.sock.write(batch.subarray(i, i + 1));
            await new Promise((res) => setImmediate(res));
          }
        return (await c.readies(1)).map((m) => `${m.type}:${m.body.toString("hex")}`);
      } finally {
        c.close();
      }
    };
    try {
      const whole = await run(false);
      expect(whole.filter((m) => m.startsWith("D:")).length).toBe(4);
      expect(await run(true)).toEqual(whole);
    } finally {
      await r.stop();
    }
  });
});

describe("the input clock (decision/time.ts) when the clock steps back or jumps", () => {
  it("formats every millisecond as the Date does, whatever came before", () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 59, 998);
    // Forward across a second, minute, hour, day and year; back by a second and by a day; the same ms again.
    const steps = [base, base + 1, base + 2, base - 1000, base + 2, base - 86_400_000, base - 86_400_000, base + 1, 0, 999, 1000, base];
    for (const ms of steps) {
      const d = new Date(ms);
      expect(timeInput(ms)).toEqual({ now_ns: ms * 1e6, rfc3339: d.toISOString(), weekday: d.getUTCDay(), hour: d.getUTCHours() });
    }
  });
});
