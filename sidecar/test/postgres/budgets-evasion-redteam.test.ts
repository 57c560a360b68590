// Red team of the budgets from a spent agent: what reaches the agent without being a row. Server text (an
// ErrorResponse or NoticeResponse) carries whatever a statement puts in it: a failed cast quotes its whole
// input, and `SELECT string_agg(o::text, ',')::int FROM orders o` fails quoting every order. Judged by the
// bytes the agent's socket received, with node-postgres and at the protocol level.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientGate } from "../clients/run.js";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { query, Raw } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
const names = ["spent", "bytes", "fresh", "statement", "named", "shell"] as const;
type Name = (typeof names)[number];
const token = (n: Name) => `${n}-evasion-token-9c2e`;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, {
    agents: { tokens: names.map((n) => ({ subject: n, groups: ["agents"], token: { value: token(n) } })) },
    postgres: {
      budgets: {
        agent_rows_per_hour: 3,
        agents: { named: { agent_rows_per_hour: 3 }, shell: { agent_rows_per_hour: 3 }, bytes: { agent_rows_per_hour: 0, agent_bytes_per_hour: 2000 }, fresh: { agent_rows_per_hour: 1000 }, statement: { agent_rows_per_hour: 0, bytes_per_statement: 2000 } },
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

/** Every order as one cast error: the server quotes the input (about 250 kB of the orders table). */
const WHOLE_TABLE = "SELECT string_agg(o::text, ',')::int FROM orders o";
/** A row of orders as the server's text would quote it: "(1,1023,2137.89,shipped,...". */
const ORDER_TEXT = /\(\d+,\d+,\d+\.\d+,(pending|paid|shipped|cancelled),/;

async function exchange(n: Name, sqls: string[]): Promise<{ type: string; body: Buffer }[]> {
  const raw = await Raw.open(regate.url(n, token(n)));
  try {
    // One at a time: a budget cut's cancel may land on a statement pipelined behind the cut one.
    const got: { type: string; body: Buffer }[] = [];
    for (const sql of sqls) {
      raw.send(query(sql));
      got.push(...(await raw.readies(1)));
    }
    return got;
  } finally {
    raw.close();
  }
}
const received = (ms: { type: string; body: Buffer }[]) => ms.reduce((n, m) => n + 5 + m.body.length, 0);
const errors = (ms: { type: string; body: Buffer }[]) => ms.filter((m) => m.type === "E").map((m) => m.body.toString("utf8"));

describe("server text past a spent budget", () => {
  it("a cast error quoting a whole table does not carry it past a spent agent row budget", async () => {
    // Before: after the three rows, the cast error brought 256,911 bytes of orders to the agent.
    const got = await exchange("spent", ["SELECT g FROM generate_series(1, 10) g", WHOLE_TABLE]);
    const [cut, cast] = errors(got);
    expect(cut).toContain("agent_rows_per_hour (3");
    expect(cast).toContain("C22P02");
    expect(cast).toContain("regate withheld the server's message text: budget exceeded: agent_rows_per_hour (3");
    expect(cast).not.toMatch(ORDER_TEXT);
    expect(received(got)).toBeLessThan(4000);
  });

  it("the same through node-postgres: the error keeps its SQLSTATE, the text is regate's, the session goes on", async () => {
    const c = new pg.Client({ connectionString: regate.url("spent", token("spent")) });
    c.on("error", () => undefined);
    await c.connect();
    try {
      const e = (await c.query(WHOLE_TABLE).catch((err: unknown) => err)) as pg.DatabaseError;
      expect(e.code).toBe("22P02");
      expect(e.message).toMatch(/^regate withheld the server's message text: budget exceeded: agent_rows_per_hour \(3, across all of this agent's connections\); it refills in \d+s$/);
      expect(e.hint).toContain("SQLSTATE and severity are the server's");
      expect((await c.query("SELECT 1 AS one WHERE false")).rowCount).toBe(0);
    } finally {
      await c.end();
    }
  });

  const psql = clientGate("psql");
  it.skipIf(psql.skip)(psql.title("psql: past the spent budget the cast error names the budget and quotes no order"), async () => {
    psql.require();
    const r = await exec("psql", [regate.url("shell", token("shell")), "-X", "-v", "ON_ERROR_STOP=0", "-At", "-c", "SELECT g FROM generate_series(1, 10) g", "-c", WHOLE_TABLE]);
    expect(r.stderr).toContain("regate withheld the server's message text: budget exceeded: agent_rows_per_hour (3");
    expect(r.stderr + r.stdout).not.toMatch(ORDER_TEXT);
    expect(r.stderr.length + r.stdout.length).toBeLessThan(4000);
  });

  it("an agent byte budget bounds server text as it bounds rows", async () => {
    // Before: 2000 bytes an hour, and one error brought 256,911.
    const got = await exchange("bytes", [WHOLE_TABLE]);
    expect(errors(got)[0]).toContain("budget exceeded: agent_bytes_per_hour (2000");
    expect(received(got)).toBeLessThan(2000);
  });

  it("a statement byte budget bounds its error's text", async () => {
    const got = await exchange("statement", [WHOLE_TABLE]);
    expect(errors(got)[0]).toContain("budget exceeded: bytes_per_statement (2000)");
    expect(received(got)).toBeLessThan(2000);
  });

  it("application_name set to a computed text, and the notice that quotes it, do not carry it past a spent budget", async () => {
    // Before: with the agent's rows spent, a NOTICE (42622, identifier will be truncated) quoted every order
    // id, and a ParameterStatus carried the first 63 bytes of them; the statement itself returned no row.
    const leak = "SELECT 1 FROM (SELECT set_config('application_name', string_agg(o.id::text, ','), false) s FROM orders o) x WHERE s IS NULL";
    const got = await exchange("named", ["SELECT g FROM generate_series(1, 10) g", leak]);
    const shown = got.map((m) => m.body.toString("utf8")).join("\n");
    expect(shown).not.toContain("1,2,3,4,5");
    expect(got.filter((m) => m.type === "N")).toEqual([]);
    expect(got.filter((m) => m.type === "S" && m.body.toString("utf8").startsWith("application_name"))).toEqual([]);
    expect(received(got)).toBeLessThan(2000);
  });

  it("must-allow: SET application_name within the budgets is reported to the driver", async () => {
    const got = await exchange("fresh", ["SET application_name = 'reporting-job'"]);
    expect(got.some((m) => m.type === "S" && m.body.toString("utf8") === "application_name\0reporting-job\0")).toBe(true);
  });

  it("must-allow: within the budgets a server error keeps its own text, after rows too", async () => {
    const c = new pg.Client({ connectionString: regate.url("fresh", token("fresh")) });
    c.on("error", () => undefined);
    await c.connect();
    try {
      const e = (await c.query("SELECT 1 / (g - 3) FROM generate_series(1, 5) g").catch((err: unknown) => err)) as pg.DatabaseError;
      expect(e.code).toBe("22012");
      expect(e.message).toBe("division by zero");
      const cast = (await c.query("SELECT 'abc'::int").catch((err: unknown) => err)) as pg.DatabaseError;
      expect(cast.message).toBe('invalid input syntax for type integer: "abc"');
      expect((await c.query("SELECT g FROM generate_series(1, 5) g")).rowCount).toBe(5);
    } finally {
      await c.end();
    }
  });
});
