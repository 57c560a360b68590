// tokio-postgres (Rust) through regate with the example policy, and against PostgreSQL directly, judged by the
// JSON lines the program prints and by the rows in the database. What the driver does on the wire of its own:
// every statement is prepared (Parse named s0, s1, ... + Describe statement + Sync) and then bound asking for
// every result column in binary, with no Describe of the portal; query_typed sends Parse + Bind + Describe
// statement + Execute + Sync at once (the Describe after the Bind); futures joined on one connection pipeline
// their messages; a transaction's bind + query_portal run a named portal with a row limit; simple_query,
// batch_execute, copy_in, copy_out; the cancel key on a connection of its own. The program is
// sidecar/test/clients/rust, built by scripts/clients-setup.sh rust, which builds sqlx-client beside it: the
// scenario and masked binary results through sqlx, judged at the end of this file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { clientAvailability, clientGate, formatRun, runClient, stepOf, type ClientRun } from "./run.js";

const gate = clientGate("tokio-postgres");
const sqlxGate = clientGate("sqlx");
let db: TestPostgres;
let regate: TestRegate;
let through: ClientRun;
let direct: ClientRun;
let sqlxThrough: ClientRun;
let sqlxDirect: ClientRun;
/** What the database held after the run through regate (the direct run writes the same rows after it). */
let after: Record<string, unknown>;
let before: Record<string, unknown>;
let names: string[];
/** id, email, ssn, card_number, phone of customers 1 to 5, as stored. */
let clear: unknown[][];

const ORDERS = [91, 92, 93, 94, 95, 96, 97, 98, 99];
async function snapshot(): Promise<Record<string, unknown>> {
  const amounts = await db.query(`SELECT id, amount::text AS a FROM public.orders WHERE id IN (${ORDERS.join(", ")}) ORDER BY id`);
  const [payment] = await db.query("SELECT amount::text AS a FROM public.payments WHERE id = 96");
  const [copied] = await db.query("SELECT count(*)::int AS n FROM public.orders WHERE amount = 9494.94");
  const [eve] = await db.query("SELECT count(*)::int AS n FROM public.customers WHERE email = 'eve.9494@example.com'");
  const [orders] = await db.query("SELECT count(*)::int AS n FROM public.orders");
  return {
    orders: Object.fromEntries(amounts.map((r: { id: number; a: string }) => [r.id, r.a])),
    payment96: payment.a,
    copied: copied.n,
    eve: eve.n,
    orderCount: orders.n,
  };
}

beforeAll(async () => {
  if (gate.skip) return;
  gate.require();
  db = await startPostgres();
  regate = await startRegate(db);
  // Directly, PostgreSQL's own "permission denied" is the 42501 the refused DELETE gets (see README.md).
  await db.query("REVOKE DELETE ON public.orders FROM app_md5");
  names = (await db.query("SELECT full_name FROM public.customers WHERE id <= 3 ORDER BY id")).map((r: { full_name: string }) => r.full_name);
  clear = (await db.query("SELECT id, email, ssn, card_number, phone FROM public.customers WHERE id <= 5 ORDER BY id")).map((r: Record<string, unknown>) => [r["id"], r["email"], r["ssn"], r["card_number"], r["phone"]]);
  before = await snapshot();
  const env = { EXPECT_NAMES: JSON.stringify(names) };
  through = await runClient("tokio-postgres", regate.url(), { ...env, REGATE: "1" });
  after = await snapshot();
  direct = await runClient("tokio-postgres", db.url("app_md5"), { ...env, REGATE: undefined });
  // sqlx writes nothing: it runs after the snapshots
  if (clientAvailability("sqlx").available) {
    sqlxThrough = await runClient("sqlx", regate.url(), { ...env, REGATE: "1" });
    sqlxDirect = await runClient("sqlx", db.url("app_md5"), { ...env, REGATE: undefined });
  }
}, 300_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const rowsOf = (run: ClientRun, step: string) => stepOf(run, step)?.rows;
const MASKED = [
  [1, "***@example.org", null, "************8924", "****"],
  [2, "***@example.net", "****", "************3147", "****"],
  [3, "***@example.com", "****", "************3235", "****"],
];
const REFUSED_DELETE = /^42501: regate refused this statement: DELETE without WHERE/;

describe("tokio-postgres through regate", () => {
  it.skipIf(gate.skip)(gate.title("runs every step as expected, and the connection lives to the end"), () => {
    expect(through.ok, formatRun(through)).toBe(true);
    expect(stepOf(through, "connection_open")?.ok).toBe(true);
  });

  it.skipIf(gate.skip)(gate.title("the scenario: rows, a parameter, 42501 (extended and simple) and the session lives, 25P02, ROLLBACK recovers"), () => {
    expect(rowsOf(through, "select_rows")).toEqual(names.map((n, i) => [i + 1, n]));
    expect(rowsOf(through, "select_param")).toEqual([[2, names[1]]]);
    for (const step of ["deny", "deny_simple", "tx_deny", "deny_typed"]) expect(stepOf(through, step), step).toMatchObject({ ok: true, sqlstate: "42501", error: expect.stringMatching(REFUSED_DELETE) });
    expect(stepOf(through, "tx_aborted")).toMatchObject({ ok: true, sqlstate: "25P02" });
    expect(rowsOf(through, "after_rollback")).toEqual(names.map((n, i) => [i + 1, n]));
  });

  it.skipIf(gate.skip)(gate.title("masked columns in binary results: prepared, bound again, streamed, by query_typed, and computed from them"), () => {
    for (const step of ["masked_binary", "masked_typed", "masked_raw"]) expect(rowsOf(through, step), step).toEqual(MASKED);
    expect(stepOf(through, "masked_prepared")?.["types"]).toEqual(["int4", "text", "text", "text", "text"]);
    for (const i of [0, 1, 2]) expect(rowsOf(through, `masked_prepared_${i}`)).toEqual(MASKED.slice(0, 2));
    // length(ssn) int4, ssn::bytea, ARRAY[email] text[]: shown as text, each the redaction token
    expect(rowsOf(through, "masked_computed")).toEqual([["****", "****", "****", 2]]);
    // query_typed Describes the statement after its Bind: told text there, it gets the token, not NULL
    expect(rowsOf(through, "masked_computed_typed")).toEqual({ types: ["text", "text", "text", "int4"], rows: [["****", "****", "****", 2]] });
    // the whole row, a composite type tokio-postgres would look up in pg_type: text, masked whole
    expect(rowsOf(through, "masked_whole_row")).toEqual([["****", 2]]);
    expect(rowsOf(through, "after_whole_row")).toEqual([[42]]);
  });

  it.skipIf(gate.skip)(gate.title("pipelined statements with a refused one among them: it alone fails, the others answer masked, the writes land"), () => {
    expect(rowsOf(through, "pipeline_0")).toEqual([["***@example.net"]]);
    expect(stepOf(through, "pipeline_1")).toMatchObject({ sqlstate: "42501", error: expect.stringMatching(REFUSED_DELETE) });
    expect(rowsOf(through, "pipeline_2")).toEqual([["****", "****"]]);
    expect(rowsOf(through, "pipeline_3")).toBe(1);
    expect(rowsOf(through, "pipeline_4")).toEqual([["************3147", 2]]);
    for (const id of [1, 2, 3]) {
      expect(rowsOf(through, `pipeline_prepared_${id}_email`)).toEqual([[MASKED[id - 1]![1]]]);
      expect(stepOf(through, `pipeline_prepared_${id}_deny`)).toMatchObject({ ok: true, sqlstate: "42501" });
      expect(rowsOf(through, `pipeline_prepared_${id}_phone`)).toEqual([["****", id]]);
      expect(rowsOf(through, `pipeline_prepared_${id}_update`)).toBe(1);
    }
    expect(rowsOf(through, "pipeline_typed_0")).toEqual([["****", "****", "****", 2]]);
    expect(stepOf(through, "pipeline_typed_1")).toMatchObject({ ok: true, sqlstate: "42501", error: expect.stringMatching(REFUSED_DELETE) });
    expect(rowsOf(through, "pipeline_typed_2")).toEqual([["****", 2]]);
    expect(rowsOf(through, "after_pipeline")).toEqual([[42]]);
  });

  it.skipIf(gate.skip)(gate.title("portals with a row limit in a transaction over the masked table: every page masked"), () => {
    const pages = rowsOf(through, "portal_pages") as unknown[][][];
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    const rows = pages.flat();
    expect(rows.slice(0, 3)).toEqual(MASKED);
    for (const [k, row] of rows.entries()) {
      expect(row[0]).toBe(k + 1);
      expect(row[1]).toMatch(/^\*\*\*@example\.(org|net|com)$/);
      expect(row[3]).toMatch(/^\*{12}\d{4}$/);
      expect(row[4]).toBe("****");
    }
    expect(rowsOf(through, "portal_interleaved")).toEqual([[[MASKED[0]], [MASKED[0]]], [[MASKED[1]], [MASKED[1]]], [[], [MASKED[2]]]]);
    expect(rowsOf(through, "savepoint")).toEqual(["42501", 1]);
  });

  it.skipIf(gate.skip)(gate.title("simple_query masked as text; a refused statement in a simple Query or batch_execute refuses the whole"), () => {
    expect(rowsOf(through, "simple_query")).toEqual([...MASKED.map((r) => [String(r[0]), ...r.slice(1, 4)]), "complete 3", ["42"], "complete 1"]);
    expect(stepOf(through, "simple_query_deny")).toMatchObject({ ok: true, sqlstate: "42501", error: expect.stringMatching(REFUSED_DELETE) });
    expect(stepOf(through, "batch_execute_deny")).toMatchObject({ ok: true, sqlstate: "42501", error: expect.stringMatching(REFUSED_DELETE) });
    expect(stepOf(through, "write_payments")).toMatchObject({ ok: true, sqlstate: "42501", error: expect.stringMatching(/approval required/) });
  });

  it.skipIf(gate.skip)(gate.title("COPY: out of masked columns refused, out of clear ones sent; into orders lands, into customers refused"), () => {
    expect(stepOf(through, "copy_out_masked")).toMatchObject({ ok: true, sqlstate: "42501", error: expect.stringMatching(/COPY of tables with masked columns/) });
    expect(rowsOf(through, "copy_out_unmasked")).toBe(names.map((n, i) => `${i + 1}\t${n}\n`).join(""));
    expect(rowsOf(through, "copy_in")).toBe(2);
    expect(stepOf(through, "copy_in_masked")).toMatchObject({ ok: true, sqlstate: "42501" });
    expect(rowsOf(through, "after_copy")).toEqual([[42]]);
  });

  it.skipIf(gate.skip)(gate.title("cancel_query through regate cancels the running statement (57014); the session goes on"), () => {
    expect(stepOf(through, "cancel")).toMatchObject({ ok: true, sqlstate: "57014" });
    expect(rowsOf(through, "after_cancel")).toEqual([[42]]);
  });

  it.skipIf(gate.skip)(gate.title("the database holds the allowed writes and none of the refused ones"), () => {
    const was = before["orders"] as Record<number, string>;
    expect(after).toEqual({
      // 98 and 99 as they were: the batch with the refused DELETE in it ran none of its statements
      orders: { ...was, 91: "91001.00", 92: "92001.00", 93: "92002.00", 94: "92003.00", 95: "94001.00", 96: "93001.00", 97: "93002.00" },
      payment96: before["payment96"],
      copied: 2,
      eve: 0,
      orderCount: (before["orderCount"] as number) + 2,
    });
  });
});

describe("tokio-postgres against PostgreSQL directly (proves the program)", () => {
  it.skipIf(gate.skip)(gate.title("runs every step, reading the clear values in binary"), () => {
    expect(direct.ok, formatRun(direct)).toBe(true);
    expect(rowsOf(direct, "select_rows")).toEqual(names.map((n, i) => [i + 1, n]));
    for (const step of ["masked_binary", "masked_typed", "masked_raw"]) expect(rowsOf(direct, step), step).toEqual(clear.slice(0, 3));
    expect((rowsOf(direct, "portal_pages") as unknown[][]).flat()).toEqual(clear);
    expect(stepOf(direct, "masked_computed_typed")?.rows).toMatchObject({ types: ["int4", "bytea", "_text", "int4"] });
    expect(rowsOf(direct, "copy_out_masked")).toBe(clear.slice(0, 3).map((r) => `${r[0]}\t${r[2] ?? "\\N"}\n`).join(""));
    expect(stepOf(direct, "cancel")).toMatchObject({ ok: true, sqlstate: "57014" });
  });

  it.skipIf(gate.skip)(gate.title("reports failure when the denial does not happen"), async () => {
    const run = await runClient("tokio-postgres", db.url("app_scram"), { DENY_SQL: "SELECT 1", EXPECT_NAMES: JSON.stringify(["Nobody", "Nobody", "Nobody"]) });
    expect(run.ok, formatRun(run)).toBe(false);
    expect(run.exitCode).toBe(1);
    expect(stepOf(run, "connect")?.ok).toBe(true);
    for (const step of ["deny", "tx_aborted", "select_rows", "pipeline_1"]) expect(stepOf(run, step)?.ok, step).toBe(false);
  });
});

// sqlx, built beside it: its own protocol code (named statements sqlx_s_N cached per connection, binary results).
describe("sqlx through regate, and directly", () => {
  it.skipIf(sqlxGate.skip)(sqlxGate.title("the scenario, masked binary results (named, unnamed, streamed, computed), COPY out of masked columns refused"), () => {
    sqlxGate.require();
    expect(sqlxThrough.ok, formatRun(sqlxThrough)).toBe(true);
    expect(rowsOf(sqlxThrough, "select_rows")).toEqual(names.map((n, i) => [i + 1, n]));
    for (const step of ["deny", "deny_simple", "tx_deny"]) expect(stepOf(sqlxThrough, step), step).toMatchObject({ ok: true, sqlstate: "42501", error: expect.stringMatching(/^regate refused this statement: DELETE without WHERE/) });
    expect(stepOf(sqlxThrough, "tx_aborted")).toMatchObject({ ok: true, sqlstate: "25P02" });
    for (const step of ["masked_binary_0", "masked_binary_1", "masked_unnamed", "masked_stream"]) expect(rowsOf(sqlxThrough, step), step).toEqual(MASKED);
    for (const step of ["masked_computed", "masked_computed_unnamed"]) expect(rowsOf(sqlxThrough, step), step).toEqual([["****", "****", "****", 2]]);
    expect(stepOf(sqlxThrough, "copy_out_masked")).toMatchObject({ ok: true, sqlstate: "42501", error: expect.stringMatching(/COPY of tables with masked columns/) });
  });

  it.skipIf(sqlxGate.skip)(sqlxGate.title("directly: every step, the clear values read in binary"), () => {
    sqlxGate.require();
    expect(sqlxDirect.ok, formatRun(sqlxDirect)).toBe(true);
    for (const step of ["masked_binary_0", "masked_unnamed", "masked_stream"]) expect(rowsOf(sqlxDirect, step), step).toEqual(clear.slice(0, 3));
    expect(rowsOf(sqlxDirect, "copy_out_masked")).toBe(clear.slice(0, 3).map((r) => `${r[0]}\t${r[2] ?? "\\N"}\n`).join(""));
  });
});
