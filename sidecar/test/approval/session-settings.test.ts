// A reviewer reads a held statement as the server's own settings read it. An agent that changed how the server
// reads dates (DateStyle DMY: '12/01/2025' is 12 January, not 1 December), times (TimeZone) or intervals
// (IntervalStyle) could have a statement approved for a meaning it does not have: the approval names the
// settings the agent's connection chose, and its digest covers them.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalHash } from "../../src/approval/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, heldId, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const SQL = "UPDATE payments SET amount = amount WHERE id = 12 AND '12/01/2025'::date = DATE '2025-01-12'";

/** Holds SQL from a client set up by `setup` (or started with `options`); returns what the reviewer is shown, then refuses it. */
async function heldUnder(setup: string[], options?: string): Promise<{ sha256: string; notes: string[] }> {
  const c = new pg.Client({ connectionString: regate.url(), ...(options ? { options } : {}) });
  const notices: pg.NoticeMessage[] = [];
  c.on("notice", (n) => notices.push(n));
  c.on("error", () => undefined);
  await c.connect();
  try {
    for (const s of setup) await c.query(s);
    const held = c.query(SQL).catch((e: pg.DatabaseError) => e);
    const id = await until(() => heldId(notices));
    const shown = await api(regate, `/approvals/${id}`);
    expect((await api(regate, `/approvals/${id}/refuse`, { sha256: shown.body.sha256, comment: "no" })).status).toBe(200);
    expect(await held).toMatchObject({ code: "42501" });
    return { sha256: shown.body.sha256, notes: shown.body.statement.notes ?? [] };
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe("settings that change how a held statement reads", () => {
  it("a DateStyle the agent SET is named to the reviewer with the server's, and the digest covers it", async () => {
    const shown = await heldUnder(["SET DateStyle = 'ISO, DMY'"]);
    expect(shown.notes[0]).toContain("DateStyle 'ISO, DMY' (the server's is 'ISO, MDY')");
    expect(shown.sha256).toBe(approvalHash("test-agent", "test-db", SQL, undefined, { DateStyle: "ISO, DMY" }));
  });

  it("set_config and a TimeZone: both named, in the server's reporting order", async () => {
    const shown = await heldUnder(["SELECT set_config('datestyle', 'SQL, DMY', false)", "SET TIME ZONE 'Asia/Tokyo'"]);
    expect(shown.notes[0]).toMatch(/DateStyle 'SQL, DMY' \(the server's is 'ISO, MDY'\), TimeZone 'Asia\/Tokyo' \(the server's is '[^']+'\)/);
  });

  it("chosen when it connected (a startup option): named, with no server value to show", async () => {
    const shown = await heldUnder([], "-c DateStyle=ISO,DMY");
    expect(shown.notes[0]).toContain("DateStyle 'ISO, DMY' (set when it connected)");
    expect(shown.sha256).toBe(approvalHash("test-agent", "test-db", SQL, undefined, { DateStyle: "ISO, DMY" }));
  });

  it("set back to the server's value (or never changed): no note, the digest as before", async () => {
    for (const setup of [[], ["SET DateStyle = 'ISO, DMY'", "RESET DateStyle"]]) {
      const shown = await heldUnder(setup);
      expect(shown.notes.join(" ")).not.toContain("settings the agent's connection chose");
      expect(shown.sha256).toBe(approvalHash("test-agent", "test-db", SQL, undefined));
    }
  });

  it("an approved statement runs under the settings its reviewer was shown", async () => {
    const c = new pg.Client({ connectionString: regate.url() });
    const notices: pg.NoticeMessage[] = [];
    c.on("notice", (n) => notices.push(n));
    await c.connect();
    try {
      await c.query("SET DateStyle = 'ISO, DMY'");
      const held = c.query(SQL);
      const id = await until(() => heldId(notices));
      const shown = await api(regate, `/approvals/${id}`);
      expect(shown.body.statement.notes[0]).toContain("'ISO, DMY'");
      expect((await api(regate, `/approvals/${id}/approve`, { sha256: shown.body.sha256 })).status).toBe(200);
      // Under DMY '12/01/2025' is 12 January: the row matched, as the reviewer was told it would.
      expect((await held).rowCount).toBe(1);
    } finally {
      await c.end();
    }
  });
});
