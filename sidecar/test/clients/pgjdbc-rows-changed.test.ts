// pgjdbc under rows_changed_per_transaction, in both query modes, with the example policy (orders may be
// written with a WHERE): autocommit statements run in regate's own transaction, blocks pgjdbc opens with
// setAutoCommit(false) are counted after each statement and must stay the client's (a COMMIT of regate's would
// end them), executeBatch and reWriteBatchedInserts. Judged by what the database holds. The client is
// sidecar/test/clients/java/rows-changed/JdbcRowsChanged.java, compiled here with javac against the pgjdbc jar
// of scripts/clients-setup.sh.
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

beforeAll(async () => {
  if (jdbc.skip) return;
  jdbc.require();
  work = mkdtempSync(join(tmpdir(), "regate-jdbc-rows-changed-"));
  db = await startPostgres();
  regate = await startRegate(db, { postgres: { budgets: { rows_changed_per_transaction: 5 } } });
  await execOk("javac", ["-cp", `${JAVA_LIB}/*`, "-d", work, join(REPO_ROOT, "sidecar/test/clients/java/rows-changed/JdbcRowsChanged.java")]);
  const url = `jdbc:postgresql://127.0.0.1:${regate.port}/${db.database}?sslmode=disable`;
  const r = await exec("java", ["-cp", `${work}:${JAVA_LIB}/*`, "JdbcRowsChanged", url, AGENT.user, AGENT.token], { timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`JdbcRowsChanged exited ${r.status}: ${r.stderr}`);
  outcomes = new Map(r.stdout.trim().split("\n").map((l) => [l.split(" ").slice(0, 2).join(" "), l.split(" ").slice(2).join(" ")]));
}, 180_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const rows = async (amount: string) => Number((await db.query(`SELECT count(*)::int AS n FROM orders WHERE amount = ${amount}`))[0].n);

describe.each([
  ["extended", "61"],
  ["simple", "62"],
])("pgjdbc preferQueryMode=%s, rows_changed_per_transaction 5", (mode, p) => {
  it.skipIf(jdbc.skip)(jdbc.title("an autocommit UPDATE of every order is rolled back with 54000"), async () => {
    expect(outcomes.get(`${mode} autocommit-all`)).toBe("54000");
    expect(await rows(`${p}01.00`)).toBe(0);
  });

  it.skipIf(jdbc.skip)(jdbc.title("must allow: an autocommit UPDATE of 3 orders commits"), async () => {
    expect(outcomes.get(`${mode} autocommit-few`)).toBe("ok 3");
    expect(await rows(`${p}02.00`)).toBe(3);
  });

  it.skipIf(jdbc.skip)(jdbc.title("a block that reaches 6 changed rows is aborted at the statement that crosses; nothing of it commits"), async () => {
    expect(outcomes.get(`${mode} block-first`)).toBe("ok 3");
    expect(outcomes.get(`${mode} block-second`)).toBe("54000");
    expect(outcomes.get(`${mode} block-after`)).toBe("25P02");
    expect(await rows(`${p}03.00`)).toBe(0);
  });

  it.skipIf(jdbc.skip)(jdbc.title("must allow: a block of 4 changed rows commits at the client's COMMIT"), async () => {
    expect(outcomes.get(`${mode} block-commit`)).toBe("ok 2,ok 2");
    expect(await rows(`${p}04.00`)).toBe(4);
  });

  it.skipIf(jdbc.skip)(jdbc.title("an executeBatch of three 2-row UPDATEs in a block is refused whole"), async () => {
    expect(outcomes.get(`${mode} block-batch`)).toBe("54000");
    expect(await rows(`${p}05.00`)).toBe(0);
  });

  // Extended, the rewritten chunks (8 rows, then 2) are one pipeline before one Sync: one transaction, rolled
  // back whole. Simple, each chunk is a Query of its own, so a transaction of its own: the 8 are rolled back and
  // the 2 commit, as each would if PostgreSQL itself failed the first.
  it.skipIf(jdbc.skip)(jdbc.title("a rewritten 10-row INSERT in autocommit is rolled back per transaction; the connection goes on"), async () => {
    expect(outcomes.get(`${mode} rewrite-insert`)).toBe("54000");
    expect(await rows(`${p}06.00`)).toBe(mode === "extended" ? 0 : 2);
    expect(outcomes.get(`${mode} still-usable`)).toBe("ok");
  });
});
