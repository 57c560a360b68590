// What a reviewer approved must be what runs: the same text, resolved against the same schemas. The text
// alone does not say which `rates` a statement reads or which `round` it calls; the session's search_path
// does, and an agent can change it (SET, set_config, ALTER ROLE … SET, a startup parameter) between the
// approval and the re-run that spends its grant. Real PostgreSQL, the pg driver.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { approvalHash } from "../../src/approval/index.js";
import { bind, execute, parse, Raw, sync } from "../support/raw-pg.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, approvalBundle, client, heldId, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let defer: TestRegate;
let hold: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  // Two tables named `rates`: the one a reviewer reads the statement as using, and one the agent may fill.
  await db.query("CREATE TABLE public.rates (id int PRIMARY KEY, amount numeric NOT NULL)");
  await db.query("INSERT INTO public.rates VALUES (1, 5)");
  await db.query("CREATE TABLE internal.rates (id int PRIMARY KEY, amount numeric NOT NULL)");
  await db.query("INSERT INTO internal.rates VALUES (1, 999)");
  await db.query("GRANT SELECT ON public.rates, internal.rates TO PUBLIC");
  const terms = { reason: "payments writes need approval", approvers: ["dba-oncall"], timeout_seconds: 120 };
  defer = await startApprovingRegate(db, {}, approvalBundle({ ...terms, mode: "defer", grant_seconds: 60 }, "toctou-defer"));
  hold = await startApprovingRegate(db, {}, approvalBundle({ ...terms, mode: "hold", hold_max_seconds: 30 }, "toctou-hold"));
}, 120_000);

afterAll(async () => {
  await defer?.stop();
  await hold?.stop();
  await db?.stop();
});

const REQUESTED = /approval requested as (apr_[0-9a-f]{16})/;
const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);
const reads = (id: number) => `UPDATE payments SET amount = (SELECT amount FROM rates WHERE id = 1) WHERE id = ${id}`;

/** Runs `setup` then `sql` on one connection (defer mode): the approval it asks for, approved at once. */
async function granted(sql: string, setup: string[] = []): Promise<string> {
  const { c } = await client(defer);
  try {
    for (const s of setup) await c.query(s);
    const e = await refusal(c.query(sql));
    const id = REQUESTED.exec(e?.message ?? "")?.[1];
    expect(id, e?.message).toBeDefined();
    const a = (await api(defer, `/approvals/${id}`)).body;
    expect((await api(defer, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "ok" })).status).toBe(200);
    return id!;
  } finally {
    await c.end();
  }
}

/** The re-run on a new connection after `setup`: the error it gets (undefined when it ran). */
async function rerun(sql: string, setup: string[]): Promise<pg.DatabaseError | undefined> {
  const { c } = await client(defer);
  try {
    for (const s of setup) await c.query(s);
    return await refusal(c.query(sql));
  } finally {
    await c.end();
  }
}

describe("a grant is used only under the search_path it was approved under", () => {
  it("approved under the default path, re-run with another schema first: asks anew, the other schema's rows are never read", async () => {
    const sql = reads(61);
    const id = await granted(sql);
    const e = await rerun(sql, ["SET search_path = internal, public"]);
    expect(e?.code).toBe("42501");
    expect(REQUESTED.exec(e?.message ?? "")?.[1]).not.toBe(id);
    expect(await amount(61)).not.toBe(999);
    expect((await api(defer, `/approvals/${id}`)).body.used_at).toBeUndefined();
    // The approved path still uses it, once.
    expect(await rerun(sql, [])).toBeUndefined();
    expect(await amount(61)).toBe(5);
  });

  it("approved under a chosen path, the reviewer is told it, and a re-run under the default path asks anew", async () => {
    const sql = reads(62);
    const id = await granted(sql, ["SET search_path = internal, public"]);
    const a = (await api(defer, `/approvals/${id}`)).body;
    expect(a.sha256).not.toBe(approvalHash("test-agent", "test-db", sql, undefined));
    expect(a.statement.notes.join("\n")).toContain("search_path");
    expect(a.statement.notes.join("\n")).toContain("internal, public");
    const e = await rerun(sql, []);
    expect(e?.code).toBe("42501");
    expect((await api(defer, `/approvals/${id}`)).body.used_at).toBeUndefined();
    expect(await rerun(sql, ["SET search_path = internal, public"])).toBeUndefined();
    expect(await amount(62)).toBe(999);
  });

  it("a path regate cannot know (set_config with a bound value): the approval can release only a held statement, never a later re-run", async () => {
    const sql = reads(63);
    const before = await amount(63);
    const unknown = ["SELECT set_config('search_path', (SELECT 'pub' || 'lic'), false)"];
    const id = await granted(sql, unknown);
    const a = (await api(defer, `/approvals/${id}`)).body;
    expect(a.statement.notes.join("\n")).toContain("search_path");
    const e = await rerun(sql, ["SELECT set_config('search_path', (SELECT 'internal, ' || 'public'), false)"]);
    expect(e?.code).toBe("42501");
    expect((await api(defer, `/approvals/${id}`)).body.used_at).toBeUndefined();
    expect(await amount(63)).toBe(before);
  });
});

describe("a held statement: the reviewer reads the path it runs under", () => {
  it("a SET pipelined ahead of the held statement is named in the approval, and approving it runs it as shown", async () => {
    const { c, notices } = await client(hold);
    try {
      await c.query("SET search_path = internal, public");
      const held = c.query(reads(64));
      await until(() => heldId(notices) !== undefined);
      const id = heldId(notices)!;
      const a = (await api(hold, `/approvals/${id}`)).body;
      expect(a.statement.notes.join("\n")).toContain("internal, public");
      expect((await api(hold, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "ok" })).status).toBe(200);
      expect((await held).rowCount).toBe(1);
      expect(await amount(64)).toBe(999);
    } finally {
      await c.end();
    }
  });
});

describe("what rides along with a held Bind (evidence: already safe)", () => {
  it("an Execute repeated behind the approved Bind and a second write pipelined behind it: the approved one runs once, the second is held on its own and its refusal runs nothing", async () => {
    const before65 = await amount(65);
    const before66 = await amount(66);
    const raw = await Raw.open(hold.url());
    const notices = () => raw.messages.filter((m) => m.type === "N").map((m) => /held for approval as (apr_[0-9a-f]{16})/.exec(m.body.toString("latin1"))?.[1]).filter(Boolean) as string[];
    try {
      const first = "UPDATE payments SET amount = amount + 1 WHERE id = 65";
      const second = "UPDATE payments SET amount = amount + 100 WHERE id = 66";
      // The Execute repeated after Sync names a portal the server dropped with its transaction: it runs nothing.
      raw.send(parse(first), bind(), execute(), sync(), execute(), sync(), parse(second), bind(), execute(), sync());
      await raw.until(() => notices().length === 1);
      const a = (await api(hold, `/approvals/${notices()[0]}`)).body;
      expect((await api(hold, `/approvals/${a.id}/approve`, { sha256: a.sha256, comment: "ok" })).status).toBe(200);
      // The second write waits for its own reviewer; refused, the implicit transaction is rolled back whole.
      await raw.until(() => notices().length === 2);
      const b = (await api(hold, `/approvals/${notices()[1]}`)).body;
      expect(b.statement.sql).toBe(second);
      expect((await api(hold, `/approvals/${b.id}/refuse`, { comment: "no" })).status).toBe(200);
      await raw.until((m) => m.filter((x) => x.type === "Z").length === 3);
      expect(raw.messages.filter((m) => m.type === "C").map((m) => m.body.toString("latin1"))).toEqual(["UPDATE 1\0"]);
    } finally {
      raw.close();
    }
    expect(await amount(65)).toBe(before65 + 1);
    expect(await amount(66)).toBe(before66);
  });
});
