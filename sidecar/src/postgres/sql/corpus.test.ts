// The shared corpus (PostgreSQL's regression suite, its docs, pg_dump output, driver and ORM captures;
// ../shared/research/sql-corpus.jsonl beside the repository) runs through analyze(): nothing may throw,
// every statement yields facts or a clean parse error, statements with one fingerprint have the same
// facts (so the decision cache can key on it), and no function call or relation in the tree is missed.
//
// A missing corpus fails the suite: a test that skips silently passes whatever happens. REGATE_SQL_CORPUS points
// at another copy; REGATE_SKIP_CORPUS=1 is the one way to skip it (a clone without shared/ beside it).
import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { parseSync } from "libpg-query";
import { analyze, initSqlParser } from "./index.js";
import type { AnalysisContext, StatementFacts } from "./index.js";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const CORPUS = process.env["REGATE_SQL_CORPUS"] ?? fileURLToPath(new URL("../shared/research/sql-corpus.jsonl", `file://${ROOT}`));
const present = existsSync(CORPUS);
const skip = !present && process.env["REGATE_SKIP_CORPUS"] === "1";

const ctx: AnalysisContext = { searchPath: ["$user", "public"], user: "agent", prepared: new Map(), cursors: new Map() };

function withoutSql(statements: StatementFacts[]): string {
  return JSON.stringify(statements.map(({ sql: _sql, ...rest }) => rest));
}

function loadCorpus(): { source: string; sql: string }[] {
  if (!present) {
    throw new Error(
      `${CORPUS} not found: clone shared/ beside the repository, point REGATE_SQL_CORPUS at the file, or set REGATE_SKIP_CORPUS=1 to skip`,
    );
  }
  return readFileSync(CORPUS, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { source: string; sql: string });
}

/** Names of every FuncCall and RangeVar anywhere in a raw tree, found by shape, minus names that are not relations. */
function namesInTree(stmt: unknown): { functions: Set<string>; relations: Set<string> } {
  const functions = new Set<string>();
  const relations = new Set<string>();
  const notRelations = new Set<string>();
  const walk = (v: unknown, key: string): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, key);
      return;
    }
    if (v === null || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    const only = keys.length === 1 ? (keys[0] as string) : "";
    if (/^[A-Z]/.test(only)) {
      const b = o[only] as Record<string, unknown>;
      const last = (l: unknown): string => {
        const items = l as { String?: { sval?: string } }[];
        return items[items.length - 1]?.String?.sval ?? "";
      };
      if (only === "FuncCall") functions.add(last(b.funcname));
      if (only === "CommonTableExpr") notRelations.add(String(b.ctename));
      if (only === "LockingClause" || only === "ConstraintsSetStmt") walkNames(b, notRelations);
      walk(b, only);
      return;
    }
    if (typeof o.relname === "string" && "relpersistence" in o && key !== "typevar") relations.add(o.relname);
    if (key === "CallStmt" && Array.isArray(o.funcname)) functions.add(String((o.funcname.at(-1) as { String: { sval: string } }).String.sval));
    for (const k of keys) walk(o[k], k);
  };
  walk(stmt, "");
  for (const n of notRelations) relations.delete(n);
  return { functions, relations };
}

/** Relation names under a node (FOR UPDATE OF aliases, SET CONSTRAINTS names), which name no relation. */
function walkNames(v: unknown, into: Set<string>): void {
  if (Array.isArray(v)) for (const x of v) walkNames(x, into);
  else if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.relname === "string") into.add(o.relname);
    for (const x of Object.values(o)) walkNames(x, into);
  }
}

function count<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

beforeAll(async () => {
  await initSqlParser();
});

describe("shared SQL corpus", () => {
  if (skip) console.warn(`SKIPPED the SQL corpus (REGATE_SKIP_CORPUS=1): ${CORPUS} not found`);

  it.skipIf(skip)(
    "analyses every entry without throwing; facts are schema-valid and a function of the fingerprint",
    () => {
      const entries = loadCorpus();
      // A truncated or emptied file is as good as a missing one.
      expect(entries.length).toBeGreaterThan(1000);
      const ajv = new Ajv({ allErrors: true, strict: true });
      const validate = ajv.compile(JSON.parse(readFileSync(`${ROOT}testdata/schemas/sql-facts.schema.json`, "utf8")) as object);

      const kinds = new Map<string, number>();
      const reasons = new Map<string, number>();
      const byFingerprint = new Map<string, { facts: string; sql: string }>();
      const throws: string[] = [];
      const invalid: string[] = [];
      const internal: string[] = [];
      const unstable: string[] = [];
      const micros: number[] = [];
      let statements = 0;
      let withUnknown = 0;
      let parseErrors = 0;

      for (const { sql } of entries) {
        let result;
        const t0 = process.hrtime.bigint();
        try {
          result = analyze(sql, ctx);
        } catch (err) {
          throws.push(`${String(err)} :: ${sql.slice(0, 120)}`);
          continue;
        }
        micros.push(Number(process.hrtime.bigint() - t0) / 1000);
        if (result.parse_error !== undefined) {
          parseErrors++;
          expect(result.statements).toHaveLength(1);
          expect(result.statements[0]?.kind).toBe("parse_error");
          expect(result.parse_error.length).toBeGreaterThan(0);
        }
        for (const s of result.statements) {
          statements++;
          count(kinds, s.kind);
          if (s.unknown.length > 0 && s.kind !== "parse_error") withUnknown++;
          for (const u of s.unknown) count(reasons, u.replace(/"[^"]*"/g, '"…"').replace(/reference \S+ could/, "reference … could"));
          if (s.unknown.some((u) => u.startsWith("internal analysis error"))) internal.push(`${s.unknown.join("; ")} :: ${s.sql.slice(0, 120)}`);
          const text = s.sql.slice(0, 120);
          if (!validate(s)) invalid.push(`${ajv.errorsText(validate.errors)} :: ${text}`);
        }
        const facts = withoutSql(result.statements);
        const seen = byFingerprint.get(result.fingerprint);
        if (!seen) byFingerprint.set(result.fingerprint, { facts, sql });
        else if (seen.facts !== facts && result.parse_error === undefined) unstable.push(`${seen.sql.slice(0, 80)}  <>  ${sql.slice(0, 80)}`);
      }

      micros.sort((a, b) => a - b);
      const mean = micros.reduce((a, b) => a + b, 0) / micros.length;
      const p99 = micros[Math.floor(micros.length * 0.99)] ?? 0;
      console.log(
        [
          `corpus: ${entries.length} entries, ${statements} statements, ${parseErrors} parse errors, ` +
            `${withUnknown} statements with unknown reasons, ${byFingerprint.size} distinct fingerprints`,
          `analyze per entry (cold, includes parse + fingerprint): mean ${mean.toFixed(1)} us, p99 ${p99.toFixed(1)} us`,
          `kinds: ${[...kinds].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(" ")}`,
          `unknown reasons: ${[...reasons].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v}× ${k}`).join(" | ")}`,
        ].join("\n"),
      );

      expect(throws).toEqual([]);
      expect(internal).toEqual([]);
      expect(invalid.slice(0, 10)).toEqual([]);
      expect(unstable.slice(0, 40)).toEqual([]);
      // Every statement type in the corpus is modelled.
      expect(kinds.get("unknown") ?? 0).toBe(0);
    },
    120_000,
  );

  it.skipIf(skip)(
    "reports every function call and relation present in the parse tree",
    () => {
      const missed: string[] = [];
      for (const { sql } of loadCorpus()) {
        const result = analyze(sql, ctx);
        if (result.parse_error !== undefined) continue;
        const tree = parseSync(sql) as unknown as { stmts: { stmt: unknown }[] };
        tree.stmts.forEach((raw, i) => {
          const facts = result.statements[i];
          if (!facts) return;
          const { functions, relations } = namesInTree(raw.stmt);
          const fnames = new Set(facts.functions.map((f) => f.name));
          const tnames = new Set(facts.tables.map((t) => t.name));
          const lostF = [...functions].filter((n) => !fnames.has(n));
          const lostT = [...relations].filter((n) => !tnames.has(n));
          if (lostF.length > 0 || lostT.length > 0) missed.push(`functions ${lostF.join(",")} relations ${lostT.join(",")} :: ${facts.sql.slice(0, 120)}`);
        });
      }
      expect(missed.slice(0, 20)).toEqual([]);
    },
    120_000,
  );
});
