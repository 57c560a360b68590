// pgjdbc batches through regate with the example policy, in both query modes: reWriteBatchedInserts (rows of
// a batch rewritten into multi-row INSERTs, pipelined before one Sync) and Statement.executeBatch. A refused
// batch must leave the database as it was, the rows before the refusal included (the server runs a pipeline
// up to its Sync as one implicit transaction); an allowed one must land whole; the connection then still
// reads masked. The client is sidecar/test/clients/java/batches/JdbcBatches.java, compiled here with javac
// against the pgjdbc jar of scripts/clients-setup.sh.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, execOk } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";
import { clientGate, REPO_ROOT } from "./run.js";

const jdbc = clientGate("jdbc");
const JAVA_LIB = join(REPO_ROOT, "sidecar/test/clients/java/target/lib");

let db: TestPostgres;
let regate: TestRegate;
let work: string;
/** "<mode> <step>" -> outcome, from one run of the client over both modes. */
let outcomes: Map<string, string>;
let before: { amount: string }[];

beforeAll(async () => {
  if (jdbc.skip) return;
  jdbc.require();
  work = mkdtempSync(join(tmpdir(), "regate-jdbc-batches-"));
  db = await startPostgres();
  regate = await startRegate(db);
  before = await db.query("SELECT amount::text FROM orders WHERE id IN (44, 144, 45, 145) ORDER BY id");
  await execOk("javac", ["-cp", `${JAVA_LIB}/*`, "-d", work, join(REPO_ROOT, "sidecar/test/clients/java/batches/JdbcBatches.java")]);
  const url = `jdbc:postgresql://127.0.0.1:${regate.port}/${db.database}?sslmode=disable`;
  const r = await exec("java", ["-cp", `${work}:${JAVA_LIB}/*`, "JdbcBatches", url, AGENT.user, AGENT.token], { timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`JdbcBatches exited ${r.status}: ${r.stderr}`);
  outcomes = new Map(r.stdout.trim().split("\n").map((l) => [l.split(" ").slice(0, 2).join(" "), l.split(" ").slice(2).join(" ")]));
}, 180_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const rows = async (table: "orders" | "payments", amount: string) => Number((await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE amount = ${amount}`))[0].n);

describe.each([
  ["extended", "44"],
  ["simple", "45"],
])("pgjdbc preferQueryMode=%s, reWriteBatchedInserts=true", (mode, p) => {
  it.skipIf(jdbc.skip)(jdbc.title("must allow: a rewritten batch into orders lands every row"), async () => {
    expect(outcomes.get(`${mode} rewrite-orders`)).toBe("ok");
    expect(await rows("orders", `${p}01.00`)).toBe(5);
  });

  it.skipIf(jdbc.skip)(jdbc.title("a rewritten batch into payments is refused (approval required) and lands no row"), async () => {
    expect(outcomes.get(`${mode} rewrite-payments`)).toBe("42501");
    expect(await rows("payments", `${p}02.00`)).toBe(0);
  });

  it.skipIf(jdbc.skip)(jdbc.title("a rewritten batch that stores a masked column in orders is refused and lands no row"), async () => {
    expect(outcomes.get(`${mode} rewrite-stores-masked`)).toBe("42501");
    expect(await rows("orders", `${p}03.00`)).toBe(0);
  });

  // Extended, the batch is one pipeline before one Sync: the server's implicit transaction rolls back the UPDATE
  // before the refused statement and skips the one after. Simple, each statement is a Query of its own, so the
  // server runs both UPDATEs, as it does when PostgreSQL itself fails the DELETE (checked against it directly).
  it.skipIf(jdbc.skip)(jdbc.title("a Statement batch with a DELETE without WHERE in the middle: the DELETE runs nothing, the rest as the server would"), async () => {
    expect(outcomes.get(`${mode} statement-batch`)).toBe("42501");
    const ids = mode === "extended" ? [44, 144] : [45, 145];
    const now = await db.query(`SELECT amount::text FROM orders WHERE id IN (${ids.join(", ")}) ORDER BY id`);
    const then = mode === "extended" ? [before[0], before[2]] : [{ amount: `${p}04.00` }, { amount: `${p}04.00` }];
    expect(now).toEqual(then);
  });

  it.skipIf(jdbc.skip)(jdbc.title("in a transaction, the refused payments batch fails it: the orders batch before it is rolled back"), async () => {
    expect(outcomes.get(`${mode} transaction`)).toBe("42501");
    expect(await rows("orders", `${p}05.00`)).toBe(0);
    expect(await rows("payments", `${p}05.00`)).toBe(0);
  });

  it.skipIf(jdbc.skip)(jdbc.title("the connection goes on and reads masked, past prepareThreshold"), () => {
    expect(outcomes.get(`${mode} masked-after`)).toBe("****");
  });
});
