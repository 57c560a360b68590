// Approvals, kills and recordings with real drivers other than node-postgres: pgx (its own protocol code,
// prepares apart from executing, batches), pgjdbc (executeBatch pipelines every row before one Sync, cancel),
// asyncpg (prepares apart), psycopg. Judged by what the database did and what each driver reported. Real
// PostgreSQL, regate with a policy built by the real opa CLI that asks approval for writes to public.payments.
//
// The client programs are sidecar/test/clients/go/approvals (built here with the module cache, offline) and
// sidecar/test/clients/java/approvals (compiled here with javac against the pgjdbc jar of clients-setup.sh).
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalHash } from "../../src/approval/index.js";
import { JOURNAL, verifyDir } from "../../src/recording/index.js";
import { clientGate, REPO_ROOT } from "../clients/run.js";
import { admin, RESPONDER } from "../incident/support.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, type TestRegate } from "../support/regate.js";
import { api, approvalBundle, startApprovingRegate, until } from "./support.js";

const pgx = clientGate("pgx");
const jdbc = clientGate("jdbc");
const asyncpg = clientGate("asyncpg");

let db: TestPostgres;
let hold: TestRegate;
let defer: TestRegate;
let recordings: string;
let work: string;
const PGX = () => join(work, "pgxapprovals");
const JAVA_LIB = join(REPO_ROOT, "sidecar/test/clients/java/target/lib");

interface Run {
  code: number | null;
  lines: string[];
}

/** Runs a client program to its end; its stdout as lines. */
function run(command: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, GOFLAGS: "-mod=mod", GOPROXY: "off", PYTHONDONTWRITEBYTECODE: "1" } });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (err.trim()) out += `\nstderr: ${err.trim()}`;
      resolve({ code, lines: out.split("\n").filter(Boolean) });
    });
  });
}

const built = (command: string, args: string[], cwd: string) =>
  new Promise<void>((resolve, reject) =>
    execFile(command, args, { cwd, env: { ...process.env, GOFLAGS: "-mod=mod", GOPROXY: "off" } }, (e, _o, stderr) => (e ? reject(new Error(`${command} failed: ${stderr}`)) : resolve())),
  );

const pgxRun = (r: TestRegate, scenario: string, id: number) => run(PGX(), [r.url(), scenario, String(id)]);
const jdbcRun = (r: TestRegate, ...args: string[]) =>
  run("java", ["-cp", `${work}:${JAVA_LIB}/*`, "JdbcApprovals", `jdbc:postgresql://127.0.0.1:${r.port}/${db.database}?sslmode=disable`, AGENT.user, AGENT.token, ...args]);
const python = (script: string, ...args: string[]) => run(join(REPO_ROOT, ".venv/bin/python"), ["-c", script, ...args]);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "regate-drivers-"));
  recordings = mkdtempSync(join(tmpdir(), "regate-drivers-rec-"));
  db = await startPostgres();
  const extra = { incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }] } };
  hold = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, hold_max_seconds: 20 }), { ...extra, recording: { enabled: true, dir: recordings } });
  defer = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, mode: "defer", grant_seconds: 120 }), extra);
  if (!pgx.skip) await built("go", ["build", "-o", PGX(), "./approvals"], join(REPO_ROOT, "sidecar/test/clients/go"));
  if (!jdbc.skip) await built("javac", ["-cp", `${JAVA_LIB}/*`, "-d", work, join(REPO_ROOT, "sidecar/test/clients/java/approvals/JdbcApprovals.java")], work);
}, 180_000);

afterAll(async () => {
  await hold?.stop();
  await defer?.stop();
  await db?.stop();
  for (const dir of [work, recordings]) if (dir) rmSync(dir, { recursive: true, force: true });
});

const amount = async (table: "payments" | "orders", id: number) => Number((await db.query(`SELECT amount FROM ${table} WHERE id = $1`, [id]))[0].amount);
const pending = async (r: TestRegate, needle: string) => ((await api(r, "/approvals?status=pending")).body.approvals as any[]).filter((a) => a.statement.sql.includes(needle));
const all = async (r: TestRegate, needle: string) => ((await api(r, "/approvals")).body.approvals as any[]).filter((a) => a.statement.sql.includes(needle));
const heldFor = (r: TestRegate, needle: string, n = 1) => until(async () => (await pending(r, needle)).length >= n && (await pending(r, needle)), 15_000);
const approve = async (r: TestRegate, a: { id: string; sha256: string }) => expect((await api(r, `/approvals/${a.id}/approve`, { sha256: a.sha256, comment: "ok" })).status).toBe(200);
const refuse = async (r: TestRegate, id: string) => expect((await api(r, `/approvals/${id}/refuse`, { comment: "not this one" })).status).toBe(200);

describe("a statement prepared apart from its execution: one execution, one approval", () => {
  it.skipIf(pgx.skip)(pgx.title("pgx, hold: a parameterless UPDATE … RETURNING is held once, at its execution; approved, it runs once [failed before the fix: held at the Parse, then again at the Bind]"), async () => {
    pgx.require();
    const before = await amount("payments", 801);
    const out = pgxRun(hold, "query-no-args", 801);
    const [first] = await heldFor(hold, "WHERE id = 801");
    // Nothing ran while held (pgx's Parse went on; a Parse runs nothing).
    expect(await amount("payments", 801)).toBe(before);
    await approve(hold, first);
    const r = await out;
    expect(r.lines).toEqual([`notice regate: statement held for approval as ${first.id}: payments writes need approval`, "query 801 ok", "after 42 ok"]);
    expect(await amount("payments", 801)).toBe(before + 1);
    // One approval for one execution: the reviewer was not asked again for the same run.
    expect((await all(hold, "WHERE id = 801")).map((a) => a.id)).toEqual([first.id]);
  });

  it.skipIf(pgx.skip)(pgx.title("pgx, defer: the re-run after approval runs once (the grant is not spent on the Parse) [failed before the fix: every re-run asked anew]"), async () => {
    pgx.require();
    const before = await amount("payments", 802);
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 802 RETURNING id";
    const first = await pgxRun(defer, "query-no-args", 802);
    expect(first.lines[0]).toMatch(/^query 0 ERROR 42501 regate refused this statement: approval requested as apr_[0-9a-f]{16}; /);
    expect(first.lines.at(-1)).toBe("after 42 ok");
    const [a] = await pending(defer, "WHERE id = 802");
    // The digest of an execution without parameters is the documented one: parameters null.
    expect(a.sha256).toBe(approvalHash(AGENT.user, "test-db", sql, undefined));
    await approve(defer, a);
    const second = await pgxRun(defer, "query-no-args", 802);
    expect(second.lines).toEqual(["query 802 ok", "after 42 ok"]);
    expect(await amount("payments", 802)).toBe(before + 1);
    expect((await all(defer, "WHERE id = 802")).map((x) => x.id)).toEqual([a.id]);
    // Once: the next identical run asks anew.
    expect((await pgxRun(defer, "query-no-args", 802)).lines[0]).toMatch(/approval requested as apr_/);
    expect(await amount("payments", 802)).toBe(before + 1);
  });

  it.skipIf(asyncpg.skip)(asyncpg.title("asyncpg, defer: fetchval of a parameterless UPDATE … RETURNING, approved, runs once on the re-run [pins: held before and after]"), async () => {
    asyncpg.require();
    const before = await amount("payments", 803);
    const script = `
import asyncio, asyncpg, sys
async def main():
    c = await asyncpg.connect(sys.argv[1])
    try:
        print("ran", await c.fetchval("UPDATE payments SET amount = amount + 1 WHERE id = 803 RETURNING id"))
    except asyncpg.PostgresError as e:
        print("err", e.sqlstate, e.message.split(";")[0])
    print("after", await c.fetchval("SELECT 42"))
    await c.close()
asyncio.run(main())
`;
    const first = await python(script, defer.url());
    expect(first.lines).toEqual([expect.stringMatching(/^err 42501 regate refused this statement: approval requested as apr_[0-9a-f]{16}$/), "after 42"]);
    const [a] = await pending(defer, "WHERE id = 803");
    await approve(defer, a);
    expect((await python(script, defer.url())).lines).toEqual(["ran 803", "after 42"]);
    expect(await amount("payments", 803)).toBe(before + 1);
    expect((await all(defer, "WHERE id = 803")).map((x) => x.id)).toEqual([a.id]);
  });
});

describe("pipelined batches meeting a hold (pins down behaviour that held)", () => {
  it.skipIf(jdbc.skip)(jdbc.title("JDBC executeBatch: row 1 approved, row 2 refused: the batch fails as one (nothing committed), BatchUpdateException 42501 names the approval, row 3 never asked, the connection goes on"), async () => {
    jdbc.require();
    const before = await Promise.all([901, 902, 903].map((id) => amount("payments", id)));
    const out = jdbcRun(hold, "batch", "901");
    const [one] = await heldFor(hold, "WHERE id = $1");
    expect(one.statement.parameters).toEqual([{ value: "901", format: "binary", type_oid: 23 }]);
    await approve(hold, one);
    const two = await until(async () => (await pending(hold, "WHERE id = $1")).find((a) => a.id !== one.id), 15_000);
    expect(two.statement.parameters).toEqual([{ value: "902", format: "binary", type_oid: 23 }]);
    // Row 1 ran in the batch's implicit transaction; row 3 waits behind the hold.
    await refuse(hold, two.id);
    const r = await out;
    expect(r.lines).toEqual([expect.stringMatching(new RegExp(`^batch 42501 \\[-3, -3, -3\\] ERROR: regate refused this statement: approval ${two.id} refused by alice: not this one`)), "after 42"]);
    expect(await Promise.all([901, 902, 903].map((id) => amount("payments", id)))).toEqual(before);
    expect((await api(hold, "/approvals")).body.approvals.filter((a: any) => a.statement.parameters?.[0]?.value === "903")).toEqual([]);
  });

  it.skipIf(pgx.skip)(pgx.title("pgx SendBatch: the statement queued behind a refused one never runs; each Exec reports 42501; the connection goes on"), async () => {
    pgx.require();
    const before = [await amount("orders", 904), await amount("payments", 904)];
    const out = pgxRun(hold, "batch", 904);
    const [a] = await heldFor(hold, "WHERE id = $1");
    await new Promise((r) => setTimeout(r, 300));
    expect(await amount("orders", 904)).toBe(before[0]);
    await refuse(hold, a.id);
    const r = await out;
    const refused = `ERROR 42501 regate refused this statement: approval ${a.id} refused by alice: not this one`;
    expect(r.lines.map((l) => l.replace(/ \(decision .*$/, ""))).toEqual([`notice regate: statement held for approval as ${a.id}: payments writes need approval`, "exec 0 ok", `exec 1 ${refused}`, `exec 2 ${refused}`, `close ${refused}`, "after 42 ok"]);
    expect([await amount("orders", 904), await amount("payments", 904)]).toEqual(before);
  });

  it.skipIf(pgx.skip)(pgx.title("a kill while a pgx batch is held: FATAL 57P01 on every Exec, the write before the held one is not committed"), async () => {
    pgx.require();
    const before = [await amount("orders", 905), await amount("payments", 905)];
    const out = pgxRun(hold, "batch", 905);
    const [a] = await heldFor(hold, "WHERE id = $1");
    const session = ((await admin(hold, "GET", "/sessions")).body.sessions as any[]).find((s) => s.principal === AGENT.user && s.current?.sql?.includes("payments"));
    expect((await admin(hold, "POST", `/sessions/${session.id}/kill`, { reason: "INC-1" })).status).toBe(200);
    const r = await out;
    const fatal = "FATAL 57P01 regate: session ended by an operator: INC-1 (by rita)";
    expect(r.lines.slice(1, 5)).toEqual([`exec 0 ${fatal}`, `exec 1 ${fatal}`, `exec 2 ${fatal}`, `close ${fatal}`]);
    expect((await api(hold, `/approvals/${a.id}`)).body.status).toBe("withdrawn");
    expect([await amount("orders", 905), await amount("payments", 905)]).toEqual(before);
  });

  it.skipIf(jdbc.skip)(jdbc.title("JDBC Statement.cancel() while held: 57014 APPROVAL_WITHDRAWN, nothing ran, the connection goes on"), async () => {
    jdbc.require();
    const before = await amount("payments", 906);
    const out = jdbcRun(hold, "cancel", "906", "1500");
    const [a] = await heldFor(hold, "WHERE id = $1");
    const r = await out;
    expect(r.lines).toEqual([expect.stringMatching(new RegExp(`^update 57014 ERROR: regate refused this statement: approval ${a.id} withdrawn; the statement was not run`)), "after 42"]);
    expect((await api(hold, `/approvals/${a.id}`)).body.status).toBe("withdrawn");
    expect(await amount("payments", 906)).toBe(before);
  });
});

describe("recordings of these sessions", () => {
  it("verify, and name each approval outcome in the session it concerns", async () => {
    // Runs after the sessions above (vitest runs a file's tests in order).
    await new Promise((r) => setTimeout(r, 200));
    const report = verifyDir(recordings);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const sessions = readdirSync(recordings)
      .filter((f) => f.endsWith(".jsonl") && f !== JOURNAL)
      .map((f) => readFileSync(join(recordings, f), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>));
    for (const records of sessions) {
      // Every result belongs to a statement the recording names [failed before the fix: pgx's and JDBC's
      // prepare-only Parse left a result record with no statement record].
      const decided = new Set(records.filter((r) => r["type"] === "statement").map((r) => r["stmt"]));
      expect(records.filter((r) => r["type"] === "result" && !decided.has(r["stmt"]))).toEqual([]);
    }
    // The JDBC batch: rows 901 and 902 asked, one approved, one refused; both in that session's recording.
    const batch = sessions.find((records) => records.some((r) => r["type"] === "statement" && r["parameters"]?.[0]?.value === "902"))!;
    expect(batch.filter((r) => r["type"] === "approval").map((r) => r["kind"])).toEqual(["approval_requested", "approval_approved", "approval_requested", "approval_refused"]);
    expect(batch.some((r) => r["type"] === "statement" && r["parameters"]?.[0]?.value === "903")).toBe(false);
  });
});
