import { beforeAll, describe, expect, it } from "vitest";
import { analyze, initSqlParser } from "./index.js";
import type { AnalysisContext } from "./index.js";
import { parseQualifiedName } from "./relation-args.js";
import { PATH_MOVED_BEFORE_LOOKUP } from "./statement.js";

describe("parseQualifiedName reads a relation name as regclass input does", () => {
  it.each([
    ["orders_id_seq", ["orders_id_seq"]],
    ["internal.api_keys_id_seq", ["internal", "api_keys_id_seq"]],
    ["Internal.API_Keys", ["internal", "api_keys"]],
    [' "Internal" . "A.b""c" ', ["Internal", 'A.b"c']],
    ["db.public.s", ["db", "public", "s"]],
    ["a.b.c.d", ["a", "b", "c", "d"]],
    ["ÄBC", ["Äbc"]],
    ["x".repeat(70), ["x".repeat(63)]],
  ])("%s", (text, want) => {
    expect(parseQualifiedName(text)).toEqual(want);
  });

  it.each(["", "16384", "a.", ".a", "a..b", '""', '"a', "a b", 'a"b"'])("gives up on %j", (text) => {
    expect(parseQualifiedName(text)).toBeUndefined();
  });
});

describe("a name looked up when the call runs, beside the statement's own set_config() of search_path", () => {
  const ctx: AnalysisContext = { searchPath: ["public"], user: "agent", prepared: new Map(), catalog: undefined };
  beforeAll(async () => {
    await initSqlParser();
  });
  const moved = (sql: string): boolean => analyze(sql, ctx).statements[0]!.unknown.includes(PATH_MOVED_BEFORE_LOOKUP);
  const SET = "set_config('search_path', 'internal, public', false)";

  it.each([
    `SELECT ${SET}, nextval('s'::text)`,
    `SELECT ${SET}, setval('s'::varchar::regclass, 1)`,
    `SELECT nextval('s'::name) FROM (SELECT ${SET}) x`,
    `SELECT ${SET}, setval(pg_get_serial_sequence('orders', 'id'), 1)`,
    `SELECT ${SET}, get_raw_page('orders', 0)`,
    `SELECT ${SET.replace("false", "true")}, currval('s'::text)`,
  ])("is refused: %s", (sql) => {
    expect(moved(sql)).toBe(true);
  });

  it.each([
    `SELECT ${SET}, nextval('s')`,
    `SELECT ${SET}, nextval('s'::regclass)`,
    `SELECT ${SET}, nextval('public.s'::text)`,
    `SELECT ${SET}, setval(pg_get_serial_sequence('public.orders', 'id'), 1)`,
    "SELECT nextval('s'::text)",
    "SELECT set_config('application_name', 'x', false), nextval('s'::text)",
  ])("is not: %s", (sql) => {
    expect(moved(sql)).toBe(false);
  });
});
