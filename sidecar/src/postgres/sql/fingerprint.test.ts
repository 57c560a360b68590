import { beforeAll, describe, expect, it } from "vitest";
import { analyze, fingerprint, initSqlParser } from "./index.js";

beforeAll(async () => {
  await initSqlParser();
});

const same: [string, string][] = [
  ["SELECT * FROM t WHERE id = 1", "select *\n  from t /* c */ where id = 42"],
  ["SELECT * FROM t WHERE name = 'a'", "SELECT * FROM t WHERE name = 'something else'"],
  ["SELECT * FROM t WHERE id IN (1, 2)", "SELECT * FROM t WHERE id IN (1, 2, 3, 4, 5)"],
  ["SELECT ARRAY[1, 2]", "SELECT ARRAY[3]"],
  ["INSERT INTO t VALUES (1, 'a')", "INSERT INTO t VALUES (2, 'b'), (3, 'c'), (4, 'd')"],
  ["SELECT * FROM t LIMIT 10 OFFSET 5", "SELECT * FROM t LIMIT 99 OFFSET 0"],
  ["SELECT 'x'::text", "SELECT 'y'::text"],
  ["SELECT $1", "SELECT $1"],
];

const different: [string, string, string][] = [
  ["SELECT a FROM t", "SELECT b FROM t", "columns"],
  ["SELECT a FROM t", "SELECT a FROM u", "tables"],
  ["SELECT a FROM t", "SELECT a AS b FROM t", "output names"],
  ["SELECT a FROM t", "SELECT a, a FROM t", "output count"],
  ["SELECT * FROM (VALUES (1, 2)) v", "SELECT * FROM (VALUES (1, 2, 3)) v", "VALUES width"],
  ["DELETE FROM t WHERE id = 1", "DELETE FROM t WHERE 1 = 1", "a constant in place of a column"],
  ["EXECUTE safe", "EXECUTE evil", "prepared statement names (libpg-query's fingerprint ignores them)"],
  ["FETCH 1 FROM c1", "FETCH 1 FROM c2", "cursor names"],
  ["SET search_path = public", "SET search_path = evil", "SET values"],
  ["SET standard_conforming_strings = on", "SET standard_conforming_strings = off", "SET values"],
  ["SELECT set_config('search_path', 'a', false)", "SELECT set_config('search_path', 'b', false)", "set_config arguments"],
  ["SELECT set_config('a', 'b', false)", "SELECT set_config('a', 'b', true)", "set_config is_local"],
  ["SELECT current_setting('TimeZone')", "SELECT current_setting('primary_conninfo')", "setting names read"],
  ["BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN ISOLATION LEVEL SERIALIZABLE", "transaction options"],
  ["SELECT 1::int", "SELECT 1::text", "cast types"],
  ["CREATE TEMP TABLE t1 (a int)", "CREATE TEMP TABLE t2 (a int)", "created names"],
  ["SELECT 1", "SELECT 1; SELECT 1", "statement count"],
  ["COPY t TO '/tmp/a'", "COPY t TO '/tmp/b'", "COPY file names"],
  ["SELECT nextval('public.orders_id_seq')", "SELECT nextval('internal.api_keys_id_seq')", "relations named by a function argument"],
  ["SELECT setval('public.s', 1)", "SELECT setval('internal.s', 1)", "relations named by a function argument"],
  ["SELECT pg_sequence_last_value('s'::regclass)", "SELECT pg_sequence_last_value('internal.s'::regclass)", "relations named by a function argument"],
];

describe("fingerprint", () => {
  it.each(same)("ignores constants, comments and layout: %s | %s", (a, b) => {
    expect(fingerprint(a)).toBe(fingerprint(b));
  });

  it.each(different)("tells apart %s | %s (%s)", (a, b) => {
    expect(fingerprint(a)).not.toBe(fingerprint(b));
  });

  it("is what analyze() reports, and 32 hex digits", () => {
    const sql = "SELECT * FROM t WHERE id = 1";
    const r = analyze(sql, { searchPath: ["public"], user: "u", prepared: new Map() });
    expect(r.fingerprint).toBe(fingerprint(sql));
    expect(r.fingerprint).toMatch(/^[0-9a-f]{32}$/);
  });

  it("keys unparsable SQL by its exact text", () => {
    expect(fingerprint("SELEC 1")).not.toBe(fingerprint("SELEC 2"));
    expect(fingerprint("SELEC 1")).toBe(fingerprint("SELEC 1"));
  });
});
