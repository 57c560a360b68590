// Red-team pass 3 on recordings, judged by the bytes in the files: a secret regate holds never lands there,
// whether the database spelled it (a bytea as `\x` and hex, base64 starting mid-group) or it was rotated in
// while regate ran; a statement cut by a kill, or never run behind it, is not recorded as completed; an HTTP
// stream cut by a lock or by its upstream is not recorded as a whole 200. Real PostgreSQL, real clients.
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRecords, recordingFiles, verifyDir } from "../../src/recording/index.js";
import { formatTimeline } from "../../src/recording/timeline.js";
import { admin, startIncidentRegate } from "../incident/support.js";
import { query, Raw, step, sync } from "../support/raw-pg.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";
import { outputDir } from "../support/test-output.js";
import { until } from "../support/wait.js";

let db: TestPostgres;
let regate: TestRegate;
const dir = join(outputDir("suite", "recording-redteam-3"), "recordings");

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, { recording: { enabled: true, dir, rows: 5 } });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const b64 = (t: string) => Buffer.from(t, "utf8").toString("base64");
const hex = (t: string) => Buffer.from(t, "utf8").toString("hex");

/** Every spelling of `secret` a responder reading the file could decode back to it. */
function spellings(secret: string): string[] {
  const out = [secret, hex(secret), hex(secret).toUpperCase()];
  // base64 of the secret behind 0, 1 and 2 other bytes, the characters that come from the secret alone.
  for (let pad = 0; pad < 3; pad++) {
    const whole = b64("\0".repeat(pad) + secret);
    out.push(whole.slice(Math.ceil((8 * pad) / 6), Math.floor((8 * (pad + secret.length)) / 6)));
  }
  return out;
}

describe("secrets spelled by the database into recorded rows", () => {
  it("the agent's token and regate's upstream password: as bytea, hex and base64 at every offset, none in the file", async () => {
    const secrets = [AGENT.token, db.users.scram.password];
    const c = new pg.Client({ connectionString: regate.url(), application_name: "redteam-3-secrets" });
    await c.connect();
    const seen: unknown[] = [];
    for (const s of secrets) {
      // Nothing of the secret in the statement as the agent typed it: halves, joined by the database.
      const [a, b] = [s.slice(0, 5), s.slice(5)];
      for (const sql of [
        `SELECT convert_to($1 || $2, 'UTF8') AS v`,
        `SELECT encode(convert_to($1 || $2, 'UTF8'), 'hex') AS v`,
        `SELECT encode(convert_to('x' || $1 || $2 || '!', 'UTF8'), 'base64') AS v`,
        `SELECT encode(convert_to('xy' || $1 || $2 || '!', 'UTF8'), 'base64') AS v`,
        `SELECT encode(convert_to('user:' || $1 || $2, 'UTF8'), 'base64') AS v`,
      ])
        seen.push((await c.query(sql, [a, b])).rows[0].v);
    }
    await c.end();
    // The client got the secret as the database spelled it: the recording of it must not hold it.
    expect(seen.some((v) => Buffer.isBuffer(v) && v.toString() === AGENT.token)).toBe(true);
    await until(() => recordingFiles(dir).some((f) => /"type":"end"/.test(readFileSync(join(dir, f), "utf8")) && readFileSync(join(dir, f), "utf8").includes("redteam-3-secrets")));
    const file = recordingFiles(dir).find((f) => readFileSync(join(dir, f), "utf8").includes("redteam-3-secrets"))!;
    const text = readFileSync(join(dir, file), "utf8");
    const results = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r["type"] === "result");
    expect(results).toHaveLength(10);
    for (const r of results) expect(r["rows_sample"]).toHaveLength(1);
    for (const s of secrets) for (const form of spellings(s)) expect(text, form).not.toContain(form);
  });
});

describe("an agent token rotated in while regate runs", () => {
  const OLD = "agent-token-old-rt3-4c1e";
  const NEW = "agent-token-new-rt3-b95d";
  let other: TestRegate;
  let tokens: string;
  const rdir = join(outputDir("suite", "recording-redteam-3-rotation"), "recordings");

  beforeAll(async () => {
    tokens = mkdtempSync(join(tmpdir(), "regate-rt3-"));
    writeFileSync(join(tokens, "agent"), `${OLD}\n`);
    other = await startRegate(db, { agents: { tokens: [{ subject: "test-agent", groups: ["agents"], token: { file: join(tokens, "agent") } }] }, recording: { enabled: true, dir: rdir } });
  }, 120_000);

  afterAll(async () => {
    await other?.stop();
    rmSync(tokens, { recursive: true, force: true });
  });

  it("is a secret of the recording too: typed into a statement, a parameter or application_name, it is not in the file", async () => {
    const before = new pg.Client({ connectionString: other.url("test-agent", OLD), application_name: "rt3-before" });
    before.on("error", () => undefined);
    await before.connect();
    writeFileSync(join(tokens, "next"), `${NEW}\n`);
    renameSync(join(tokens, "next"), join(tokens, "agent"));
    // The token set is re-read before an authentication, at most every 500 ms: retry until the new one is in use.
    const after = await until(async () => {
      const c = new pg.Client({ connectionString: other.url("test-agent", NEW), application_name: `rt3-after ${NEW}` });
      c.on("error", () => undefined);
      return c.connect().then(() => c, () => undefined);
    });
    expect((await after.query(`SELECT '${NEW}' AS a, $1::text AS b`, [NEW])).rows).toEqual([{ a: NEW, b: NEW }]);
    // The session opened before the rotation types it too.
    await before.query(`SELECT '${NEW}' AS a`);
    await after.end();
    await before.end();
    const texts = () => recordingFiles(rdir).map((f) => readFileSync(join(rdir, f), "utf8"));
    await until(() => texts().filter((t) => /"type":"end"/.test(t) && /rt3-(before|after)/.test(t)).length === 2);
    const all = texts().join("\n");
    expect(all).toContain("rt3-after ****");
    expect(all.match(/"sql":"SELECT '\*\*\*\*' AS a/g)).toHaveLength(2);
    for (const form of spellings(NEW)) expect(all, form).not.toContain(form);
  });
});

describe("a session killed with statements in flight and pipelined behind", () => {
  let killable: TestRegate;
  const kdir = join(outputDir("suite", "recording-redteam-3-kill"), "recordings");

  beforeAll(async () => {
    killable = await startIncidentRegate(db, { recording: { enabled: true, dir: kdir } });
  }, 120_000);

  afterAll(async () => {
    await killable?.stop();
  });

  it("their results say the session ended before their replies were over, not that they completed", async () => {
    const raw = await Raw.open(killable.url());
    raw.send(query("SET application_name = 'rt3-kill'"));
    await raw.readies(1);
    const sleep = "SELECT pg_sleep(30) AS running";
    raw.send(query(sleep), query("SELECT 2 AS behind"), ...step("SELECT 3 AS behind"), sync());
    await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1 AND state = 'active'", [sleep]))[0].n === 1);
    // The only session of this regate (SET application_name does not rename it in the list).
    const sessions = (await admin(killable, "GET", "/sessions")).body.sessions as { id: string }[];
    expect(sessions).toHaveLength(1);
    const id = sessions[0]!.id;
    expect((await admin(killable, "POST", `/sessions/${id}/kill`, { reason: "INC-33 probe" })).status).toBe(200);
    await until(() => raw.messages.some((m) => m.type === "E"));
    const file = await until(() => recordingFiles(kdir).find((f) => { const t = readFileSync(join(kdir, f), "utf8"); return t.includes("rt3-kill") && t.includes('"type":"end"'); }));
    const records = readRecords(join(kdir, file));
    const statements = records.filter((r) => r["type"] === "statement").map((r) => ({ stmt: r["stmt"], sql: r["sql"] }));
    expect(statements.map((x) => x.sql)).toEqual(["SET application_name = 'rt3-kill'", sleep, "SELECT 2 AS behind", "SELECT 3 AS behind"]);
    const results = new Map(records.filter((r) => r["type"] === "result").map((r) => [r["stmt"], r]));
    // The SET ran to its end; the sleep was cut, the two behind it never ran: each result says so.
    expect(results.get(statements[0]!.stmt)!["session_ended"]).toBeUndefined();
    for (const x of statements.slice(1)) expect(results.get(x.stmt), String(x.sql)).toMatchObject({ session_ended: "terminated", command_tags: [] });
    const timeline = formatTimeline(records);
    expect(timeline.split("\n").filter((l) => /-> .*UNFINISHED: the session ended \(terminated\)/.test(l))).toHaveLength(3);
    expect(verifyDir(kdir, file).problems).toEqual([]);
  });
});

describe("an HTTP response stream cut short", () => {
  let streaming: TestRegate;
  let upstream: Server;
  const hdir = join(outputDir("suite", "recording-redteam-3-http"), "recordings");

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://upstream");
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
      let n = 0;
      const tick = setInterval(() => {
        res.write(`data: ${++n}\n\n`);
        // /dies: the upstream fails mid-body, after its head and a few events.
        if (url.pathname.endsWith("/dies") && n === 3) res.destroy();
      }, 30);
      res.on("close", () => clearInterval(tick));
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    streaming = await startIncidentRegate(db, {
      http: { enabled: true, listen: { host: "127.0.0.1", port: 0 }, routes: [{ name: "api", prefix: "/api", upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }] },
      recording: { enabled: true, dir: hdir },
    });
  }, 120_000);

  afterAll(async () => {
    await streaming?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  /** GETs `path` as the agent and reads until the stream ends; resolves with what arrived once it has. */
  function stream(path: string, onEvents: (text: string) => void): Promise<string> {
    return new Promise((resolve) => {
      let text = "";
      const req = request({ host: "127.0.0.1", port: streaming.app.ports.http!, path, headers: { authorization: `Bearer ${AGENT.token}` } }, (res) => {
        expect(res.statusCode).toBe(200);
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
          onEvents(text);
        });
        res.on("close", () => resolve(text));
        res.on("error", () => undefined);
      });
      req.on("error", () => resolve(text));
      req.end();
    });
  }

  const responses = () =>
    recordingFiles(hdir)
      .flatMap((f) => readRecords(join(hdir, f)))
      .filter((r) => r["type"] === "response");

  it("a stream a lock cut is recorded as cut (aborted, with the lock), not as a whole 200", async () => {
    let lock: Promise<{ status: number; body: any }> | undefined;
    const got = await stream("/api/stream?rt3=lock", (text) => {
      if (!lock && text.includes("data: 3")) lock = admin(streaming, "POST", "/locks", { target: { principal: "TEST-Agent" }, message: "INC-34 probe" });
    });
    const made = await lock!;
    expect(made.status).toBe(201);
    expect(got).toContain("data: 3");
    const r = await until(() => responses().find((x) => x["lock_id"] === made.body.id));
    expect(r).toMatchObject({ status: 200, aborted: true, lock_id: made.body.id });
    expect(formatTimeline([r as never])).toMatch(/HTTP 200 .*CUT: the response ended before its end {2}lock lk_/);
    expect((await admin(streaming, "DELETE", `/locks/${made.body.id}`)).status).toBe(200);
  });

  it("a stream the upstream broke off mid-body is recorded as cut", async () => {
    const before = responses().length;
    const got = await stream("/api/dies", () => undefined);
    expect(got).toContain("data: 2");
    const r = await until(() => responses().slice(before).find((x) => x["status"] === 200));
    expect(r).toMatchObject({ status: 200, aborted: true });
  });
});
