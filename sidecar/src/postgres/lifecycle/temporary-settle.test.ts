import { describe, expect, it } from "vitest";
import { analyze, initSqlParser } from "../sql/index.js";
import type { TemporaryHolds } from "../sql/temporary.js";
import { replay, type AnsweredGroup } from "./temporary-settle.js";
import type { Statement } from "./statement.js";

// The table below is made of analyses, taken as the module loads.
await initSqlParser();

const HELD: TemporaryHolds = { tables: [], cols: [], unknown: false };

/** One message: its SQL, the command tags the server sent, and the SQLSTATE that ended it. */
type Sent = [sql: string, tags: string[], sqlstate?: string];

function group(failed: boolean, ...sent: Sent[]): AnsweredGroup {
  const statements = sent.map(([sql, tags, sqlstate]) => {
    const analysis = analyze(sql, { searchPath: ["public"], user: "u", prepared: new Map(), temporary: new Map([["kept", HELD]]) });
    return { analysis, result: { command_tags: tags, ...(sqlstate ? { sqlstate } : {}) } } as unknown as Statement;
  });
  return { statements, failed };
}

const T = "CREATE TEMP TABLE t (a int)";

describe("replay of the answered groups: what the temporary schema holds once the server is idle", () => {
  it.each<[string, AnsweredGroup[], string[] | undefined]>([
    ["a creation alone commits", [group(false, [T, ["CREATE TABLE"]])], ["kept", "t"]],
    ["a creation that failed", [group(true, [T, [], "42P07"])], ["kept"]],
    ["rolled back over three messages", [group(false, ["BEGIN", ["BEGIN"]]), group(false, [T, ["CREATE TABLE"]]), group(false, ["ROLLBACK", ["ROLLBACK"]])], ["kept"]],
    ["COMMIT of a failed block", [group(false, ["BEGIN", ["BEGIN"]]), group(false, [T, ["CREATE TABLE"]]), group(true, ["SELECT 1/0", [], "22012"]), group(false, ["COMMIT", ["ROLLBACK"]])], ["kept"]],
    ["committed, then an error in the same message", [group(true, [`BEGIN; ${T}; COMMIT; SELECT 1/0`, ["BEGIN", "CREATE TABLE", "COMMIT"], "22012"])], ["kept", "t"]],
    ["an error after it in an implicit transaction", [group(true, [`${T}; SELECT 1/0`, ["CREATE TABLE"], "22012"])], ["kept"]],
    ["ROLLBACK TO a savepoint before it", [group(false, [`BEGIN; SAVEPOINT a; ${T}; ROLLBACK TO a; COMMIT`, ["BEGIN", "SAVEPOINT", "CREATE TABLE", "ROLLBACK", "COMMIT"]])], ["kept"]],
    ["ROLLBACK TO the later of two savepoints of one name", [group(false, [`BEGIN; SAVEPOINT a; ${T}; SAVEPOINT a; ROLLBACK TO a; COMMIT`, ["BEGIN", "SAVEPOINT", "CREATE TABLE", "SAVEPOINT", "ROLLBACK", "COMMIT"]])], ["kept", "t"]],
    ["ON COMMIT DROP", [group(false, [`${T} ON COMMIT DROP`, ["CREATE TABLE"]])], ["kept"]],
    ["IF NOT EXISTS ... ON COMMIT DROP of one already there", [group(false, ["CREATE TEMP TABLE IF NOT EXISTS kept (a int) ON COMMIT DROP", ["CREATE TABLE"]])], ["kept"]],
    ["DISCARD TEMP", [group(false, ["DISCARD TEMP", ["DISCARD TEMP"]])], []],
    ["DISCARD TEMP rolled back", [group(false, ["BEGIN; DISCARD TEMP; ROLLBACK", ["BEGIN", "DISCARD TEMP", "ROLLBACK"]])], ["kept"]],
    ["DROP TABLE pg_temp.kept", [group(false, ["DROP TABLE pg_temp.kept", ["DROP TABLE"]])], []],
    ["a Parse that never ran", [group(false, [T, []])], ["kept"]],
    ["still in a block", [group(false, [`BEGIN; ${T}`, ["BEGIN", "CREATE TABLE"]])], undefined],
    ["a quoted savepoint name", [group(false, [`BEGIN; SAVEPOINT "A"; ${T}; ROLLBACK TO "A"; COMMIT`, ["BEGIN", "SAVEPOINT", "CREATE TABLE", "ROLLBACK", "COMMIT"]])], undefined],
    ["PREPARE TRANSACTION", [group(false, [`BEGIN; ${T}; PREPARE TRANSACTION 'x'`, ["BEGIN", "CREATE TABLE", "PREPARE TRANSACTION"]])], undefined],
    ["COMMIT AND CHAIN", [group(false, [`BEGIN; ${T}; COMMIT AND CHAIN; ROLLBACK`, ["BEGIN", "CREATE TABLE", "COMMIT", "ROLLBACK"]])], undefined],
    ["an error the server did not report", [group(false, [T, [], "22012"])], undefined],
    ["a server error regate saw on no statement", [group(true, [T, ["CREATE TABLE"]])], undefined],
    ["a budget cut", [group(true, [T, [], "54000"])], undefined],
  ])("%s", (_name, groups, names) => {
    const now = replay(new Map([["kept", HELD]]), groups);
    expect(now === undefined ? undefined : [...now.keys()].sort()).toEqual(names);
  });
});
