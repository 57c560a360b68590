import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionHooks, Statement } from "../../src/postgres/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// The seams later work plugs into, judged through a real session: each hook once per statement with
// what the server actually did, and the registry ending a session the way an operator would.

let db: TestPostgres;
let regate: TestRegate;
const completed: Statement[] = [];
const decided: string[] = [];
const ended: string[] = [];

const hooks: SessionHooks = {
  decided: (_s, st, d) => decided.push(`${st.seq}:${d.decision_id}`),
  completed: (_s, st) => completed.push(structuredClone(st)),
  ended: (s, reason) => ended.push(`${s.id}:${reason}`),
};

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, {}, { sessionHooks: hooks });
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

const last = (sql: string) => completed.filter((s) => s.sql === sql).at(-1);

describe("statement hooks", () => {
  it("completed carries the command tag, rows, bytes, masked values, SQLSTATE and the logged decision", async () => {
    const c = await client();
    try {
      await c.query("SELECT id FROM orders ORDER BY id LIMIT 3");
      await c.query("SELECT email FROM customers ORDER BY id LIMIT 2");
      await c.query("SELECT secret FROM internal.api_keys").catch(() => undefined);
      await c.query("SELECT id FROM orders WHERE id = $1", [1]);
    } finally {
      await c.end();
    }
    const plain = last("SELECT id FROM orders ORDER BY id LIMIT 3")!;
    expect(plain.result).toMatchObject({ command_tags: ["SELECT 3"], rows: 3, masked_values: 0 });
    expect(plain.result.bytes).toBeGreaterThan(0);
    expect(plain.result.sqlstate).toBeUndefined();
    const logged = regate.decisions().map((d) => d["decision_id"] as string);
    expect(logged).toContain(plain.decision!.decision_id);
    expect(decided).toContain(`${plain.seq}:${plain.decision!.decision_id}`);

    expect(last("SELECT email FROM customers ORDER BY id LIMIT 2")!.result).toMatchObject({ rows: 2, masked_values: 2 });
    expect(last("SELECT secret FROM internal.api_keys")!.result).toMatchObject({ rows: 0, sqlstate: "42501" });
    const bound = last("SELECT id FROM orders WHERE id = $1")!;
    expect(bound.parameters).toEqual([{ value: "1", format: "text", type_oid: 0 }]);
    expect(bound.result).toMatchObject({ command_tags: ["SELECT 1"], rows: 1 });
    // Once per statement: no statement completed twice.
    const seqs = completed.map((s) => s.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it("a Describe of a statement decided at Bind logs no decision of its own", async () => {
    const before = regate.decisions().length;
    const c = await client();
    try {
      // node-postgres sends Parse, Bind, Describe(portal), Execute, Sync: one decision, at Bind.
      await c.query({ name: "by-id", text: "SELECT email FROM customers WHERE id = $1", values: [1] });
    } finally {
      await c.end();
    }
    expect(regate.decisions().length - before).toBe(1);
  });
});

describe("regate's upstream secret", () => {
  it("never comes back in error or notice text, as is, in base64 at any offset or in hex", async () => {
    const password = db.users.scram.password;
    const c = await client();
    try {
      const encodings = [Buffer.from(password).toString("base64"), Buffer.from(`ab${password}`).toString("base64"), Buffer.from(password).toString("hex")];
      for (const text of [password, ...encodings]) {
        const err = await c.query(`SELECT '${text}'::int`).then(() => undefined, (e: pg.DatabaseError) => e);
        expect(err?.code).toMatch(/^22(P02|003)$/);
        expect(JSON.stringify(err)).not.toContain(text === encodings[1] ? text.slice(4, -4) : text);
        expect(err?.message).toContain("[regate secret withheld]");
      }
      const notices: string[] = [];
      c.on("notice", (n) => notices.push(JSON.stringify(n)));
      await c.query(`DO $$ BEGIN RAISE NOTICE 'k=%', '${password}'; END $$`).catch(() => undefined);
      for (const n of notices) expect(n).not.toContain(password);
    } finally {
      await c.end();
    }
  });
});

describe("session registry", () => {
  it("lists live sessions and ends one: cancel upstream first, then FATAL 57P01 with the reason", async () => {
    const c = await client();
    const sleeping = c.query("SELECT pg_sleep(30)").then(() => undefined, (e: pg.DatabaseError) => e);
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      id = regate.app.sessions.list().find((s) => s.current?.sql === "SELECT pg_sleep(30)")?.id;
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    expect(id).toBeDefined();
    const summary = regate.app.sessions.list().find((s) => s.id === id)!;
    expect(summary.principal).toBe("test-agent");
    expect(await regate.app.sessions.end(id!, "incident 42")).toBe(true);
    const err = await sleeping;
    expect(err?.code).toBe("57P01");
    expect(err?.message).toContain("incident 42");
    const active = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'");
    expect(active[0].n).toBe(0);
    expect(regate.app.sessions.get(id!)).toBeUndefined();
    expect(ended).toContain(`${id}:terminated`);
    expect(await regate.app.sessions.end("no-such-session", "x")).toBe(false);
  });
});
