// Red-team cases: a statement named one table when the reviewer approved it, and reaches other tables' rows
// when it runs. `DELETE FROM t` and `UPDATE t` act on every inheritance child and partition of t, and fire
// those children's own row triggers, though the text names t alone. An agent that may run DDL on tables it
// owns (a policy that allows it, as many do for an agent's own schema) asks approval for a harmless
// `DELETE FROM scratch WHERE …`, then makes a table of value a child of scratch (`ALTER TABLE ledger INHERIT
// scratch`): the approved text, unchanged, now deletes ledger's rows. Between the approval and the re-run on a
// grant, or on another connection while the reviewer reads a held statement. And the same change made earlier
// in the agent's own open transaction (a block, or an extended batch before its Sync), which regate's catalog
// connection cannot see: a grant bound to the objects as committed was spent on a DELETE that reached the child,
// or ran a function body replaced in the block. Last, an approved HTTP GET sent twice when its kept-alive
// upstream connection dropped before the answer. Real PostgreSQL, real regate, the pg driver and raw protocol, a
// raw TCP upstream; judged by the rows left in the tables and the requests the upstream received.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opaBuild } from "../policy/opa.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, type TestRegate } from "../support/regate.js";
import { query, Raw, step, sync } from "../support/raw-pg.js";
import { api, client, heldId, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;

/** Every DELETE or UPDATE needs approval (deferred; held when its text says `held`); DDL is allowed. */
function bundle(): string {
  const rego = `package regate

needs_approval if {
	some s in input.postgres.statements
	s.kind in {"delete", "update"}
}

mode := "hold" if {
	some s in input.postgres.statements
	contains(s.sql, "held")
} else := "defer"

approval := {"approve": {"reason": "writes need approval", "approvers": "dba-oncall", "timeout_seconds": 120, "hold_max_seconds": 30, "mode": mode, "grant_seconds": 120}} if needs_approval
else := {}

decision := object.union({"allow": true, "deny": [], "mask": []}, approval)
`;
  const path = join(mkdtempSync(join(tmpdir(), "regate-redteam-5-")), "bundle.tar.gz");
  writeFileSync(path, opaBuild({ revision: "redteam-5", rego }));
  return path;
}

const REQUESTED = /approval requested as (apr_[0-9a-f]{16})/;
const UNSETTLED = /cannot be approved now: its session changed definitions \(DDL\) that are not committed yet/;
/** Made as the role regate connects as: the agent owns these tables, so it may change their inheritance. */
const own = (sql: string) => db.query(`SET ROLE app_scram; ${sql}; RESET ROLE`);
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);
const count = async (table: string) => Number((await db.query(`SELECT count(*)::int AS n FROM ONLY ${table}`))[0]!.n);

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db, {}, bundle());
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

/** Two tables of the same shape: a scratch table the agent may clear, and a ledger it must not touch. */
async function tables(prefix: string): Promise<{ scratch: string; ledger: string }> {
  const scratch = `public.${prefix}_scratch`;
  const ledger = `public.${prefix}_ledger`;
  await own(`CREATE TABLE ${scratch} (tag text, amount int); INSERT INTO ${scratch} VALUES ('old', 1), ('old', 2)`);
  await own(`CREATE TABLE ${ledger} (tag text, amount int); INSERT INTO ${ledger} VALUES ('old', 100), ('old', 200), ('old', 300)`);
  return { scratch, ledger };
}

/** Asks for approval of `sql` on `c` (refused at once, defer mode) and approves it: a grant for one identical re-run. */
async function grant(c: pg.Client, sql: string): Promise<string> {
  const e = await refusal(c.query(sql));
  const id = REQUESTED.exec(e?.message ?? "")?.[1];
  expect(id, e?.message).toBeDefined();
  const a = (await api(regate, `/approvals/${id}`)).body;
  expect((await api(regate, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "clears scratch rows" })).status).toBe(200);
  return id!;
}

describe("an approved write reaches only the tables it reached when approved", () => {
  it("must still spend the grant: nothing changed, the identical re-run runs once", async () => {
    const { scratch, ledger } = await tables("rt5_same");
    const { c } = await client(regate);
    try {
      const sql = `DELETE FROM ${scratch} WHERE tag = 'old'`;
      const id = await grant(c, sql);
      expect((await c.query(sql)).rowCount).toBe(2);
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
      expect(await count(ledger)).toBe(3);
    } finally {
      await c.end();
    }
  });

  it("must still spend the grant of a write to a table that already had a child when approved; the reviewer is told of the child", async () => {
    const { scratch, ledger } = await tables("rt5_kid");
    await own(`ALTER TABLE ${ledger} INHERIT ${scratch}`);
    const { c } = await client(regate);
    try {
      const sql = `DELETE FROM ${scratch} WHERE tag = 'old' AND amount < 150`;
      const id = await grant(c, sql);
      // The reviewer was told the DELETE reaches the child's rows, which its text does not name.
      const notes = ((await api(regate, `/approvals/${id}`)).body.statement.notes ?? []).join("\n");
      expect(notes).toContain("the rows of inheritance children, unless the statement says ONLY: table public.rt5_kid_ledger (a child of public.rt5_kid_scratch)");
      // What the reviewer approved: scratch's two rows and ledger's one below 150.
      expect((await c.query(sql)).rowCount).toBe(3);
    } finally {
      await c.end();
    }
  });

  it("a table made a child after the approval: the re-run on the grant does not delete its rows, it asks anew", async () => {
    const { scratch, ledger } = await tables("rt5_grant");
    const { c } = await client(regate);
    try {
      const sql = `DELETE FROM ${scratch} WHERE tag = 'old'`;
      const id = await grant(c, sql);
      await c.query(`ALTER TABLE ${ledger} INHERIT ${scratch}`);
      const e = await refusal(c.query(sql));
      expect(await count(ledger), "the approved DELETE deleted the ledger's rows").toBe(3);
      expect(e?.code, e?.message).toBe("42501");
      expect(REQUESTED.exec(e?.message ?? "")?.[1]).not.toBe(id);
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toBeUndefined();
      expect(await count(scratch)).toBe(2);
    } finally {
      await c.end();
    }
  });

  it("a row trigger added to an existing child after the approval: the re-run on the grant does not fire it, it asks anew", async () => {
    const { scratch, ledger } = await tables("rt5_trig");
    await own(`CREATE TABLE public.rt5_trig_kid () INHERITS (${scratch}); INSERT INTO public.rt5_trig_kid VALUES ('old', 5)`);
    const { c } = await client(regate);
    try {
      const sql = `DELETE FROM ${scratch} WHERE tag = 'old'`;
      const id = await grant(c, sql);
      await c.query(`CREATE FUNCTION public.rt5_wipe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM ${ledger}; RETURN OLD; END $$`);
      await c.query("CREATE TRIGGER rt5_wipe BEFORE DELETE ON public.rt5_trig_kid FOR EACH ROW EXECUTE FUNCTION public.rt5_wipe()");
      const e = await refusal(c.query(sql));
      expect(await count(ledger), "the approved DELETE fired the new trigger").toBe(3);
      expect(e?.code, e?.message).toBe("42501");
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toBeUndefined();
    } finally {
      await c.end();
    }
  });

  it("held, and a table made a child on another connection before the reviewer approves: the held DELETE does not run", async () => {
    const { scratch, ledger } = await tables("rt5_held");
    const { c, notices } = await client(regate);
    const { c: other } = await client(regate);
    try {
      const run = refusal(c.query(`DELETE FROM ${scratch} WHERE tag = 'old' /* held */`));
      const id = await until(() => heldId(notices));
      const a = (await api(regate, `/approvals/${id}`)).body;
      await other.query(`ALTER TABLE ${ledger} INHERIT ${scratch}`);
      await api(regate, `/approvals/${id}/approve`, { sha256: a.sha256, comment: "clears scratch rows" });
      const e = await run;
      expect(await count(ledger), "the held DELETE deleted the ledger's rows").toBe(3);
      expect(e?.message, "the held statement ran").toMatch(/was for other objects than the held statement names now/);
      expect(await count(scratch)).toBe(2);
      // The session goes on.
      expect((await c.query("SELECT 1 AS ok")).rows).toEqual([{ ok: 1 }]);
    } finally {
      await c.end();
      await other.end();
    }
  });
});

describe("a change made earlier in the re-run's own transaction block, which regate's catalog connection cannot see yet", () => {
  it("a table made a child in the block: the re-run on the grant does not delete its rows", async () => {
    const { scratch, ledger } = await tables("rt5_block");
    const { c } = await client(regate);
    try {
      const sql = `DELETE FROM ${scratch} WHERE tag = 'old'`;
      const id = await grant(c, sql);
      await c.query("BEGIN");
      await c.query(`ALTER TABLE ${ledger} INHERIT ${scratch}`);
      const e = await refusal(c.query(sql));
      await c.query("COMMIT").catch(() => undefined);
      await c.query("ROLLBACK").catch(() => undefined);
      expect(await count(ledger), "the approved DELETE deleted the ledger's rows").toBe(3);
      expect(e?.code, e?.message).toBe("42501");
      expect(e?.message).toMatch(UNSETTLED);
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toBeUndefined();
      // The session goes on; once the DDL is committed (here rolled back) the grant is for the statement as approved.
      expect((await c.query(sql)).rowCount).toBe(2);
      expect(await count(ledger)).toBe(3);
    } finally {
      await c.end();
    }
  });

  it("a function replaced in the block: the re-run on the grant does not run the new body", async () => {
    await own("CREATE TABLE public.rt5_fn_ledger (amount int); INSERT INTO public.rt5_fn_ledger VALUES (1), (2)");
    await own("CREATE FUNCTION public.rt5_pick() RETURNS int LANGUAGE sql AS $$ SELECT -1 $$");
    const { c } = await client(regate);
    try {
      const sql = "DELETE FROM public.rt5_fn_ledger WHERE amount = rt5_pick()";
      const id = await grant(c, sql);
      await c.query("BEGIN");
      await c.query("CREATE OR REPLACE FUNCTION public.rt5_pick() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$");
      const e = await refusal(c.query(sql));
      await c.query("COMMIT").catch(() => undefined);
      await c.query("ROLLBACK").catch(() => undefined);
      expect(await count("public.rt5_fn_ledger"), "the approved DELETE ran the new body").toBe(2);
      expect(e?.code, e?.message).toBe("42501");
      expect(e?.message).toMatch(UNSETTLED);
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toBeUndefined();
    } finally {
      await c.end();
    }
  });

  it("DDL pipelined just ahead of the re-run, in autocommit: the re-run is decided once it committed, and asks anew", async () => {
    const { scratch, ledger } = await tables("rt5_pipe");
    const { c } = await client(regate);
    const sql = `DELETE FROM ${scratch} WHERE tag = 'old'`;
    let id: string;
    try {
      id = await grant(c, sql);
    } finally {
      await c.end();
    }
    const raw = await Raw.open(regate.url());
    try {
      raw.send(query(`ALTER TABLE ${ledger} INHERIT ${scratch}`), query(sql));
      await raw.until((m) => m.filter((x) => x.type === "Z").length === 2);
      const errors = raw.messages.filter((m) => m.type === "E").map((m) => m.body.toString("latin1"));
      expect(await count(ledger), "the approved DELETE deleted the ledger's rows").toBe(3);
      expect(errors).toHaveLength(1);
      const asked = REQUESTED.exec(errors[0]!)?.[1];
      expect(asked, errors[0]).toBeDefined();
      expect(asked).not.toBe(id);
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toBeUndefined();
    } finally {
      raw.close();
    }
  });

  it("DDL ahead of the re-run in one extended batch (its implicit transaction, not committed before Sync): the re-run is refused", async () => {
    const { scratch, ledger } = await tables("rt5_batch");
    const { c } = await client(regate);
    const sql = `DELETE FROM ${scratch} WHERE tag = 'old'`;
    let id: string;
    try {
      id = await grant(c, sql);
    } finally {
      await c.end();
    }
    const raw = await Raw.open(regate.url());
    try {
      raw.send(...step(`ALTER TABLE ${ledger} INHERIT ${scratch}`), ...step(sql), sync());
      await raw.until((m) => m.some((x) => x.type === "Z"));
      const errors = raw.messages.filter((m) => m.type === "E").map((m) => m.body.toString("latin1"));
      expect(await count(ledger), "the approved DELETE deleted the ledger's rows").toBe(3);
      expect(errors.join("\n")).toMatch(UNSETTLED);
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toBeUndefined();
    } finally {
      raw.close();
    }
  });

  it("held in a block after DDL: refused at once, no reviewer is asked, nothing runs, the session goes on", async () => {
    const { scratch, ledger } = await tables("rt5_bheld");
    const { c, notices } = await client(regate);
    try {
      const before = (await api(regate, "/approvals?status=pending")).body.approvals.length;
      await c.query("BEGIN");
      await c.query(`ALTER TABLE ${ledger} INHERIT ${scratch}`);
      const e = await refusal(c.query(`DELETE FROM ${scratch} WHERE tag = 'old' /* held */`));
      expect(e?.code, e?.message).toBe("42501");
      expect(e?.message).toMatch(UNSETTLED);
      expect(heldId(notices)).toBeUndefined();
      expect((await api(regate, "/approvals?status=pending")).body.approvals.length).toBe(before);
      await c.query("ROLLBACK");
      expect(await count(ledger)).toBe(3);
      expect(await count(scratch)).toBe(2);
      expect((await c.query("SELECT 1 AS ok")).rows).toEqual([{ ok: 1 }]);
    } finally {
      await c.end();
    }
  });

  it("must still spend the grant in a block whose earlier statements only wrote rows, and after a block with DDL has ended", async () => {
    const { scratch, ledger } = await tables("rt5_rows");
    const { c } = await client(regate);
    try {
      await c.query("BEGIN");
      await c.query("CREATE TABLE public.rt5_rows_extra (x int)");
      await c.query("COMMIT");
      const sql = `DELETE FROM ${scratch} WHERE tag = 'old'`;
      const id = await grant(c, sql);
      await c.query("BEGIN");
      await c.query(`INSERT INTO ${ledger} VALUES ('new', 400)`);
      expect((await c.query(sql)).rowCount).toBe(2);
      await c.query("COMMIT");
      expect((await api(regate, `/approvals/${id}`)).body.used_at).toEqual(expect.any(String));
      expect(await count(ledger)).toBe(4);
    } finally {
      await c.end();
    }
  });
});

// An approved GET is one execution too. regate sends a safe request again when a kept-alive upstream connection
// closes before answering (forward.ts): an upstream may have run it before the connection dropped, so a GET a
// policy sends to a reviewer (an export, a report that costs) ran twice on one approval.
describe("an approved HTTP request is sent to the upstream once", () => {
  let upstream: TcpServer;
  let http: TestRegate;
  const exports: number[] = [];
  const flaky: number[] = [];

  /** GET paths under /export need approval (deferred); everything else is allowed. */
  function httpBundle(): string {
    const rego = `package regate

approval := {"approve": {"reason": "exports need approval", "approvers": [], "timeout_seconds": 120, "mode": "defer", "grant_seconds": 60}} if {
	input.kind == "http"
	startswith(input.http.path, "/export")
} else := {}

decision := object.union({"allow": true, "deny": [], "mask": []}, approval)
`;
    const path = join(mkdtempSync(join(tmpdir(), "regate-redteam-5-http-")), "bundle.tar.gz");
    writeFileSync(path, opaBuild({ revision: "redteam-5-http", rego }));
    return path;
  }

  beforeAll(async () => {
    // An upstream that runs /export on a kept-alive connection and drops that connection before answering (as a
    // crash or a proxy's idle cut would); on a new connection it answers.
    upstream = createTcpServer((socket: Socket) => {
      let served = 0;
      let buf = "";
      socket.on("data", (chunk: Buffer) => {
        buf += chunk.toString("latin1");
        let end: number;
        while ((end = buf.indexOf("\r\n\r\n")) >= 0) {
          const head = buf.slice(0, end);
          buf = buf.slice(end + 4);
          const path = head.split(" ")[1] ?? "";
          if (path.startsWith("/export") || path.startsWith("/flaky")) {
            (path.startsWith("/export") ? exports : flaky).push(served);
            if (served > 0) return void socket.resetAndDestroy();
          }
          served++;
          socket.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: keep-alive\r\n\r\n{\"ok\":true}");
        }
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const none = { user: "none", password: "none-password-unused" };
    const noPostgres = { host: "127.0.0.1", port: 1, database: "none", users: { scram: none, md5: none }, adminPassword: "none-admin-unused" } as unknown as TestPostgres;
    http = await startApprovingRegate(noPostgres, {}, httpBundle(), {
      postgres: { enabled: false },
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` }] },
    });
  }, 120_000);

  afterAll(async () => {
    await http?.stop();
    upstream?.close();
  });

  const get = (path: string) => fetch(`http://127.0.0.1:${http.app.ports.http}${path}`, { headers: { authorization: `Bearer ${AGENT.token}` } });

  it("an approved GET whose kept-alive upstream connection drops before the answer is not sent again", async () => {
    const first = await get("/api/export/customers");
    expect(first.status).toBe(403);
    const id = ((await first.json()) as { approval_id: string }).approval_id;
    const a = (await api(http, `/approvals/${id}`)).body;
    expect((await api(http, `/approvals/${id}/approve`, { sha256: a.sha256 })).status).toBe(200);
    // An allowed request first, so that the approved one goes out on a kept-alive connection.
    expect((await get("/api/warm")).status).toBe(200);
    const approved = await get("/api/export/customers");
    await approved.text();
    expect(exports.length, "the approved GET reached the upstream more than once").toBe(1);
    expect(approved.status).toBe(502);
  });

  it("must still send an allowed GET again when its kept-alive connection drops (no reviewer let it through)", async () => {
    expect((await get("/api/warm")).status).toBe(200);
    const r = await get("/api/flaky");
    expect(r.status).toBe(200);
    // Dropped on the kept-alive connection, answered on a new one.
    expect(flaky).toEqual([1, 0]);
  });
});
