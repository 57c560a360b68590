// Vert.x's reactive PostgreSQL client and r2dbc-postgresql (text and forced-binary results) through regate with
// the example policy, judged by what each driver received and by the rows in the database: the scenario every
// client runs; masked columns in text and binary results, through a cursor and a stream read 2 rows at a time
// (PortalSuspended, Execute with a row limit) and as computed values; a refused statement pipelined between
// allowed ones (each with its own Sync: those before and after it run, it does not); prepared batches with a
// refused statement (nothing of it lands); a write held for approval by a pipelined driver (held, then the
// documented APPROVAL_PENDING refusal, the statements queued behind it run, nothing hangs). The program is
// sidecar/test/clients/java-reactive, built by scripts/clients-setup.sh.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApprovingRegate } from "../approval/support.js";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";
import { REPO_ROOT, SKIP_MISSING_CLIENTS } from "./run.js";

const DIR = join(REPO_ROOT, "sidecar/test/clients/java-reactive/target");
const built = existsSync(join(DIR, "classes/regate/clients/ReactiveDrivers.class")) && existsSync(join(DIR, "lib"));
const skip = !built && SKIP_MISSING_CLIENTS;
if (skip) console.warn("SKIPPED reactive drivers (REGATE_SKIP_CLIENTS=1): the program is not built: run scripts/clients-setup.sh java");
const title = (what: string) => (skip ? `${what} [skipped: not built]` : what);

let db: TestPostgres;
let regate: TestRegate;
let approving: TestRegate;
/** "<driver> <step>" -> outcome ("ok ..." or "ERR <sqlstate> <message>"). */
let out: Map<string, string>;
let before: Map<string, string>;

const DRIVERS = ["vertx", "r2dbc-text", "r2dbc-binary"] as const;
const amounts = async (table: "orders" | "payments", ids: number[]) =>
  (await db.query(`SELECT amount::text AS a FROM ${table} WHERE id IN (${ids.join(", ")}) ORDER BY id`)).map((r: { a: string }) => r.a);

async function runProgram(port: number, part: "main" | "approval"): Promise<Map<string, string>> {
  const r = await exec("java", ["-cp", `${join(DIR, "classes")}:${join(DIR, "lib")}/*`, "regate.clients.ReactiveDrivers", String(port), db.database, AGENT.user, AGENT.token, part], { timeoutMs: 170_000 });
  if (r.status !== 0) throw new Error(`ReactiveDrivers exited ${r.status}: ${r.stderr}`);
  const lines = r.stdout.split("\n").filter((l) => /^(vertx|r2dbc-text|r2dbc-binary) /.test(l));
  return new Map(lines.map((l) => { const [driver, step, ...rest] = l.split(" "); return [`${driver} ${step}`, rest.join(" ")] as const; }));
}

beforeAll(async () => {
  if (skip) return;
  if (!built) throw new Error("the reactive-driver program is not built: run scripts/clients-setup.sh java (or set REGATE_SKIP_CLIENTS=1 to skip missing clients)");
  db = await startPostgres();
  regate = await startRegate(db);
  // hold_max_seconds 1: a held statement is answered APPROVAL_PENDING once the hold ends, with nobody reviewing
  approving = await startApprovingRegate(db, { hold_max_seconds: 1 });
  const ids = { orders: [61, 62, 63, 64, 65, 72, 73, 74, 75, 76, 172, 173, 174, 175, 176], payments: [61, 62, 63, 64, 66, 67, 70, 72, 73, 170, 172, 173] };
  before = new Map<string, string>();
  for (const table of ["orders", "payments"] as const) for (const id of ids[table]) before.set(`${table} ${id}`, (await amounts(table, [id]))[0]!);
  out = new Map([...(await runProgram(regate.port, "main")), ...(await runProgram(approving.port, "approval"))]);
}, 400_000);

afterAll(async () => {
  await approving?.stop();
  await regate?.stop();
  await db?.stop();
});

const was = (table: string, id: number) => before.get(`${table} ${id}`);
const MASKED_ROWS = [
  ["1", "***@example.org", "null", "************8924", "****"],
  ["2", "***@example.net", "****", "************3147", "****"],
  ["3", "***@example.com", "****", "************3235", "****"],
];
const rowsText = (rows: string[][]) => `ok [${rows.map((r) => `[${r.join(", ")}]`).join(", ")}]`;

describe.each(DRIVERS)("%s", (driver) => {
  it.skipIf(skip)(title("the scenario: rows, a parameter, 42501 and the session lives, 25P02 in the failed transaction, ROLLBACK recovers"), () => {
    expect(out.get(`${driver} select_rows`)).toBe("ok [[1, Paloma Zhou], [2, Mira Holm], [3, Yusuf Delacroix]]");
    expect(out.get(`${driver} select_param`)).toBe("ok [[2, Mira Holm]]");
    expect(out.get(`${driver} deny`)).toMatch(/^ERR 42501 regate refused this statement: DELETE without WHERE/);
    expect(out.get(`${driver} after_deny`)).toBe("ok [[42]]");
    expect(out.get(`${driver} tx_deny`)).toMatch(/^ERR 42501 /);
    expect(out.get(`${driver} tx_aborted`)).toMatch(/^ERR 25P02 /);
    expect(out.get(`${driver} after_rollback`)).toBe("ok [[42]]");
  });

  it.skipIf(skip)(title("masked columns come back masked, read whole, by a row limit, and computed from them"), () => {
    const whole = driver === "vertx" ? ["masked_text", "masked_binary"] : ["masked"];
    for (const step of whole) expect(out.get(`${driver} ${step}`), step).toBe(rowsText(MASKED_ROWS));
    const limited = driver === "vertx" ? ["masked_cursor", "masked_stream"] : ["masked_fetch"];
    for (const step of limited) {
      const got = out.get(`${driver} ${step}`)!;
      expect(got.startsWith(rowsText(MASKED_ROWS).slice(0, -1)), `${step}: ${got}`).toBe(true);
      // five rows (ids 1 to 5), none with a clear value: every email starts ***@, every card is masked but its last 4
      expect(got.match(/\[\d, /g)).toHaveLength(5);
      expect(got.match(/\*\*\*@example\.\w+/g)).toHaveLength(5);
      expect(got.match(/\*{12}\d{4}/g)).toHaveLength(5);
    }
    expect(out.get(`${driver} masked_computed`)).toBe("ok [[****, ****, ****, 2]]");
  });

  it.skipIf(skip)(title("a prepared batch into payments is refused whole; one into orders lands whole"), async () => {
    expect(out.get(`${driver} batch_payments`)).toMatch(/^ERR 42501 regate refused this statement: approval required/);
    expect(out.get(`${driver} after_batch`)).toBe("ok [[42]]");
    const base = driver === "r2dbc-binary" ? 100 : 0;
    const [o, p] = driver === "vertx" ? [[62, 63], [62, 63]] : [[72 + base, 73 + base], [72 + base, 73 + base]];
    expect(await amounts("payments", p)).toEqual(p.map((id) => was("payments", id)));
    expect(await amounts("orders", o)).toEqual(o.map(() => (driver === "vertx" ? "62001.00" : "65001.00")));
  });

  it.skipIf(skip)(title("a write held for approval: the driver gets 42501 APPROVAL_PENDING, nothing lands, the session goes on"), async () => {
    const step = driver === "vertx" ? "approval_pipeline_1" : "approval";
    expect(out.get(`${driver} ${step}`)).toMatch(/^ERR 42501 regate refused this statement: still pending as apr_[0-9a-f]{16}; /);
    expect(out.get(`${driver} after_approval`)).toBe("ok [[42]]");
    const id = driver === "vertx" ? 64 : driver === "r2dbc-text" ? 70 : 170;
    expect(await amounts("payments", [id])).toEqual([was("payments", id)]);
  });
});

describe("vertx pipelining", () => {
  it.skipIf(skip)(title("a refused statement between allowed ones, each with its own Sync: those around it run, it and the held write do not"), async () => {
    expect(out.get("vertx pipeline_0")).toBe("ok [[***@example.net]]");
    expect(out.get("vertx pipeline_1")).toMatch(/^ERR 42501 regate refused this statement: DELETE without WHERE/);
    expect(out.get("vertx pipeline_2")).toBe("ok []");
    expect(out.get("vertx pipeline_3")).toBe("ok [[****]]");
    expect(out.get("vertx pipeline_4")).toMatch(/^ERR 42501 regate refused this statement: approval required/);
    expect(out.get("vertx pipeline_5")).toBe("ok [[************3147]]");
    expect(await amounts("orders", [61])).toEqual(["61001.00"]);
    expect(await amounts("payments", [61])).toEqual([was("payments", 61)]);
  });

  it.skipIf(skip)(title("a held write pipelined between allowed ones: held, refused as pending, the ones queued behind it run once"), async () => {
    expect(out.get("vertx approval_pipeline_0")).toBe("ok []");
    expect(out.get("vertx approval_pipeline_2")).toBe("ok [[***@example.net]]");
    expect(out.get("vertx approval_pipeline_3")).toBe("ok []");
    expect(out.get("vertx approval_batch")).toMatch(/^ERR 42501 regate refused this statement: still pending as apr_/);
    expect(await amounts("orders", [64, 65])).toEqual(["63001.00", "63003.00"]);
    expect(await amounts("payments", [64, 66, 67])).toEqual([64, 66, 67].map((id) => was("payments", id)));
  });
});

describe.each(["r2dbc-text", "r2dbc-binary"] as const)("%s statements", (driver) => {
  const base = driver === "r2dbc-binary" ? 100 : 0;
  it.skipIf(skip)(title("a Batch (one simple Query) with a DELETE without WHERE is refused whole: no statement of it runs"), async () => {
    expect(out.get(`${driver} batch_simple`)).toMatch(/^ERR 42501 regate refused this statement: DELETE without WHERE/);
    expect(await amounts("orders", [74 + base, 75 + base])).toEqual([was("orders", 74 + base), was("orders", 75 + base)]);
  });

  it.skipIf(skip)(title("statements subscribed together: a row-limited read masked, the refused DELETE alone fails, the UPDATE after it runs"), async () => {
    const got = out.get(`${driver} merged`)!;
    expect(got).toContain("[[***@example.org], [***@example.net], [***@example.com]]");
    expect(got).toMatch(/ERR 42501 regate refused this statement: DELETE without WHERE/);
    expect(got).toContain(`[[${76 + base}]]`);
    expect(await amounts("orders", [76 + base])).toEqual(["65004.00"]);
  });
});
