// Templates (template.ts) and the property that lets statements of one template share an analysis
// (lifecycle/analyse.ts): when a statement's facts equal its template's (each constant a parameter), every
// other statement of that template has those facts too. Checked over the golden statements, statements
// written to make constants matter, and the shared SQL corpus (PostgreSQL's regression suite, ...), each
// with its constants replaced by values an attacker would pick.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { analyze, initSqlParser } from "./index.js";
import { literalTemplate } from "./template.js";
import type { AnalysisContext, StatementFacts } from "./types.js";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const CORPUS = process.env["REGATE_SQL_CORPUS"] ?? fileURLToPath(new URL("../shared/research/sql-corpus.jsonl", `file://${ROOT}`));

const ctx: AnalysisContext = { searchPath: ["$user", "public"], user: "agent", prepared: new Map(), cursors: new Map() };
const facts = (sql: string) => {
  const a = analyze(sql, ctx);
  return { error: a.parse_error, count: a.statements.length, json: JSON.stringify(a.statements.map(({ sql: _s, ...rest }: StatementFacts) => rest)) };
};

beforeAll(async () => {
  await initSqlParser();
});

describe("literalTemplate", () => {
  it.each([
    ["SELECT abalance FROM pgbench_accounts WHERE aid = 42;", "SELECT abalance FROM pgbench_accounts WHERE aid = $1;", "n"],
    ["select * from t where a = 'x' and b = 1.5e3 and c = .5 and d = 'O''Brien'", "select * from t where a = $1 and b = $2 and c = $3 and d = $4", "snns"],
    ['SELECT "a b", t1.c FROM "T" t1 WHERE "x""y" = 7', 'SELECT "a b", t1.c FROM "T" t1 WHERE "x""y" = $1', "n"],
    ["UPDATE orders SET status = 'paid' WHERE id = 3", "UPDATE orders SET status = $1 WHERE id = $2", "sn"],
    ["SELECT x::int FROM t LIMIT 10 OFFSET 5", "SELECT x::int FROM t LIMIT $1 OFFSET $2", "nn"],
  ])("%s", (sql, text, kinds) => {
    expect(literalTemplate(sql)).toEqual({ text, kinds });
  });

  it.each([
    "SELECT 1 -- comment",
    "SELECT /* c */ 1",
    "SELECT $$x$$",
    "SELECT $1",
    "SELECT E'\\x41'",
    "SELECT 'a\\b'",
    "SELECT B'101'",
    "SELECT X'ff'",
    "SELECT U&'\\0041'",
    "SELECT N'x'",
    "SELECT 'a'\n'b'",
    "SELECT 0x1F",
    "SELECT 1_000",
    "SELECT 5abc",
    "SELECT 1; SELECT 2",
    "SELECT 'unterminated",
    'SELECT "unterminated',
    "SELECT id FROM t",
    "SELECT 1e",
    "SELECT `x`",
  ])("gives up on case %#", (sql) => {
    expect(literalTemplate(sql)).toBeUndefined();
  });
});

/** Every statement of `sql`'s template with its constants replaced by each value of the same kind. */
function variants(sql: string, count: number): string[] {
  const t = literalTemplate(sql);
  if (!t) return [];
  const numbers = ["0", "1", "2", "7", "99999999999", "3.5", "1e3"];
  const strings = ["''", "'x'", "'internal.api_keys'", "'public.orders'", "'search_path'", "'select secret from internal.api_keys'", "'pg_catalog.pg_authid'", "'delete'", "'O''Brien'", "'1'", "'true'", "'false'", "'on'", "'internal'"];
  const out: string[] = [];
  for (let v = 0; v < count; v++) {
    let k = 0;
    out.push(t.text.replace(/(?<![A-Za-z0-9_$])\$(\d+)/g, (_m, d: string) => {
      const kind = t.kinds[Number(d) - 1];
      k++;
      return kind === "n" ? numbers[(v + k) % numbers.length]! : strings[(v + k) % strings.length]!;
    }));
  }
  return out;
}

/** Statements whose template shares (facts equal the template's) but some variant's facts differ. */
function counterexamples(statements: string[], count = 14): string[] {
  const bad: string[] = [];
  for (const sql of statements) {
    const t = literalTemplate(sql);
    if (!t) continue;
    const a = facts(sql);
    const tf = facts(t.text);
    // analyse.ts shares only in this case: one statement, parsed, facts equal to the template's.
    if (a.error !== undefined || tf.error !== undefined || a.count !== 1 || a.json !== tf.json) continue;
    for (const b of variants(sql, count)) {
      const bf = facts(b);
      // A variant PostgreSQL would not even parse never reaches a decision: the server refuses it.
      if (bf.error !== undefined) continue;
      if (bf.json !== a.json) bad.push(`${sql}  ->  ${b}\n  shared: ${a.json}\n  own:    ${bf.json}`);
    }
  }
  return bad;
}

const ADVERSARIAL = [
  "SELECT 'internal.api_keys'::regclass",
  "SELECT * FROM t WHERE oid = 'internal.api_keys'::regclass",
  "SELECT query_to_xml('select secret from internal.api_keys', true, true, '')",
  "SELECT set_config('search_path', 'public', false)",
  "SELECT nextval('public.orders_id_seq')",
  "SELECT has_table_privilege('internal.api_keys', 'select')",
  "SELECT pg_read_file('/etc/passwd')",
  "SELECT to_regclass('internal.api_keys')",
  "SELECT id, email FROM customers ORDER BY 1",
  "SELECT id, email FROM customers ORDER BY 2 DESC LIMIT 5",
  "SELECT id FROM customers GROUP BY 1",
  "DELETE FROM orders WHERE true",
  "DELETE FROM orders WHERE 1 = 1",
  "UPDATE orders SET status = 'x' WHERE false",
  "SELECT current_setting('search_path')",
  "SELECT pg_catalog.set_config('role', 'postgres', false)",
  "SELECT * FROM customers WHERE email LIKE '%@example.com'",
  "COPY (SELECT 1) TO STDOUT",
  "SELECT dblink('dbname=x', 'select 1')",
  "SELECT xmlparse(document '<a/>')",
  "SELECT lo_import('/etc/passwd')",
  "SELECT * FROM json_populate_record(null::customers, '{\"id\": 1}')",
  "SELECT 'x' AS \"select\"",
  "SELECT id FROM customers WHERE id IN (1, 2, 3)",
  "SELECT date '2020-01-01'",
  "SELECT interval '1 day'",
  "SELECT 1::text::regclass",
  "WITH d AS (DELETE FROM orders RETURNING id) SELECT 'x', count(*) FROM d",
  "SELECT * FROM orders TABLESAMPLE SYSTEM (10)",
  "SELECT * FROM generate_series(1, 10)",
  "SELECT format('select %s', 'secret')",
  "SELECT pg_sleep(1)",
  "EXPLAIN ANALYZE SELECT 1",
  "SET search_path = 'internal'",
  "SELECT id FROM orders FOR UPDATE SKIP LOCKED LIMIT 1",
];

describe("statements of one template share their facts", () => {
  it("a statement whose facts name a constant does not share: its facts differ from its template's", () => {
    for (const sql of ["SELECT set_config('search_path', 'internal', false)", "SET search_path = 'internal'", "SELECT pg_catalog.set_config('role', 'postgres', false)"]) {
      expect(facts(sql).json, sql).not.toBe(facts(literalTemplate(sql)!.text).json);
    }
  });

  it("golden statements and statements where constants could matter", () => {
    const golden = readFileSync(`${ROOT}testdata/sql/golden.jsonl`, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => (JSON.parse(l) as { sql: string }).sql);
    expect(counterexamples([...golden, ...ADVERSARIAL])).toEqual([]);
  });

  it.skipIf(!existsSync(CORPUS) && process.env["REGATE_SKIP_CORPUS"] === "1")("the shared SQL corpus", { timeout: 300_000 }, () => {
    const corpus = readFileSync(CORPUS, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => (JSON.parse(l) as { sql: string }).sql);
    const withTemplate = corpus.filter((sql) => literalTemplate(sql) !== undefined);
    expect(withTemplate.length).toBeGreaterThan(1000);
    // Three variants each (a number and a string apiece, cycling): the full fourteen run on the statements above.
    expect(counterexamples(withTemplate, 3)).toEqual([]);
  });
});
