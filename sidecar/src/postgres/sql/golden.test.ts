// Golden facts: testdata/sql/golden.jsonl holds {sql, search_path?, user?, catalog?, prepared?, cursors?,
// expect, note?}. `expect` is partial facts for the single statement, or an array with one entry per
// statement. Keys not listed are not checked; list-valued keys are compared as documented in matchFacts.
// Every result is also validated against testdata/schemas/sql-facts.schema.json.
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { fileURLToPath } from "node:url";
import { analyze, initSqlParser } from "./index.js";
import type { AnalysisContext, CatalogLookup, ColumnRef, StatementFacts } from "./index.js";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

interface GoldenCase {
  line: number;
  sql: string;
  search_path?: string[] | null;
  user?: string;
  catalog?: Record<string, string[]>;
  /** "schema.sequence" -> "schema.table.column": the column a serial or identity sequence belongs to. */
  sequences?: Record<string, string>;
  prepared?: Record<string, string>;
  cursors?: Record<string, string>;
  expect: Record<string, unknown> | Record<string, unknown>[];
  note?: string;
}

function loadGolden(): GoldenCase[] {
  return readFileSync(`${ROOT}testdata/sql/golden.jsonl`, "utf8")
    .split("\n")
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => l.trim() !== "")
    .map(({ l, i }) => ({ line: i + 1, ...(JSON.parse(l) as Omit<GoldenCase, "line">) }));
}

function catalogOf(c: GoldenCase): CatalogLookup | undefined {
  const cat = c.catalog;
  if (!cat) return undefined;
  const owners = Object.entries(c.sequences ?? {}).map(([seq, col]) => [seq.split("."), col.split(".")] as [string[], string[]]);
  return {
    columns: (schema, table) => cat[`${schema}.${table}`],
    sequenceOwner(schema, name) {
      if (!cat[`${schema}.${name}`]) return undefined;
      const o = owners.find(([[s, n]]) => s === schema && n === name)?.[1];
      return o ? { schema: o[0]!, table: o[1]!, column: o[2]! } : null;
    },
    serialSequence(schema, table, column) {
      if (!cat[`${schema}.${table}`]) return undefined;
      const seq = owners.find(([, [s, t, col]]) => s === schema && t === table && col === column)?.[0];
      return seq ? { schema: seq[0]!, name: seq[1]! } : null;
    },
  };
}

function contextOf(c: GoldenCase): AnalysisContext {
  const base: AnalysisContext = {
    searchPath: c.search_path === undefined ? ["$user", "public"] : c.search_path,
    user: c.user ?? "agent",
    prepared: new Map(),
    cursors: new Map(),
    catalog: catalogOf(c),
  };
  const first = (sql: string): StatementFacts => {
    const s = analyze(sql, base).statements[0];
    if (!s) throw new Error(`no statement in ${sql}`);
    return s;
  };
  return {
    ...base,
    prepared: new Map(Object.entries(c.prepared ?? {}).map(([name, sql]) => [name, first(sql)])),
    cursors: new Map(Object.entries(c.cursors ?? {}).map(([name, sql]) => [name, first(sql)])),
  };
}

function columnText(c: ColumnRef, parts: number): string {
  return parts >= 3 ? `${c.schema ?? "null"}.${c.table}.${c.column}` : `${c.table}.${c.column}`;
}

function sortedSet(items: string[]): string[] {
  return [...new Set(items)].sort();
}

/**
 * tables / tables_include: each expected object must match an actual relation on the keys it lists; for
 *   tables, every actual relation must also be matched by one of them.
 * functions / functions_include: "schema.name" or "name" (exact set / subset). operators: exact set.
 * columns, write_inputs: "table.column" or "schema.table.column" (schema "null" when unresolved), exact set.
 * outputs / settings: positional, same length, partial objects; lineage as column strings (exact set).
 * function_inputs: {"name": ["table.column", ...]}: the columns reaching that function's arguments (exact set).
 * unknown: [] means none; otherwise each string must occur in some reason. parse_error: true or a substring.
 * Anything else: deep equality.
 */
function matchFacts(actual: StatementFacts, exp: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const a = actual as unknown as Record<string, unknown>;
  for (const [key, want] of Object.entries(exp)) {
    switch (key) {
      case "tables":
      case "tables_include": {
        const items = want as Record<string, unknown>[];
        const got = actual.tables as unknown as Record<string, unknown>[];
        const matches = (w: Record<string, unknown>, g: Record<string, unknown>): boolean =>
          Object.entries(w).every(([k, v]) => JSON.stringify(g[k]) === JSON.stringify(v));
        const missing = items.filter((w) => !got.some((g) => matches(w, g)));
        const extra = key === "tables" ? got.filter((g) => !items.some((w) => matches(w, g))) : [];
        if (missing.length > 0 || extra.length > 0) {
          problems.push(`${key}: missing ${JSON.stringify(missing)} unexpected ${JSON.stringify(extra)}`);
        }
        break;
      }
      case "functions":
      case "functions_include": {
        const got = sortedSet(actual.functions.map((f) => (f.schema === null ? f.name : `${f.schema}.${f.name}`)));
        const w = sortedSet(want as string[]);
        const ok = key === "functions" ? JSON.stringify(got) === JSON.stringify(w) : w.every((x) => got.includes(x));
        if (!ok) problems.push(`${key}: want ${w.join(",")} got ${got.join(",")}`);
        break;
      }
      case "operators": {
        const got = sortedSet(actual.operators);
        const w = sortedSet(want as string[]);
        if (JSON.stringify(got) !== JSON.stringify(w)) problems.push(`operators: want ${w.join(" ")} got ${got.join(" ")}`);
        break;
      }
      case "columns":
      case "write_inputs": {
        const w = sortedSet(want as string[]);
        const parts = (w[0] ?? "").split(".").length;
        const got = sortedSet(actual[key].map((c) => columnText(c, parts)));
        if (JSON.stringify(got) !== JSON.stringify(w)) problems.push(`${key}: want ${w.join(" ")} got ${got.join(" ")}`);
        break;
      }
      case "outputs":
      case "settings": {
        const w = want as Record<string, unknown>[];
        const got = a[key] as Record<string, unknown>[];
        if (got.length !== w.length) {
          problems.push(`${key}: want ${w.length} got ${got.length}: ${JSON.stringify(got)}`);
          break;
        }
        w.forEach((item, i) => {
          const g = got[i] as Record<string, unknown>;
          for (const [k, v] of Object.entries(item)) {
            if (k === "lineage") {
              const wl = sortedSet(v as string[]);
              const parts = (wl[0] ?? "").split(".").length;
              const gl = sortedSet((g.lineage as ColumnRef[]).map((c) => columnText(c, parts)));
              if (JSON.stringify(gl) !== JSON.stringify(wl)) problems.push(`${key}[${i}].lineage: want ${wl.join(" ")} got ${gl.join(" ")}`);
            } else if (JSON.stringify(g[k]) !== JSON.stringify(v)) {
              problems.push(`${key}[${i}].${k}: want ${JSON.stringify(v)} got ${JSON.stringify(g[k])}`);
            }
          }
        });
        break;
      }
      case "function_inputs": {
        // {"name": ["table.column" | "schema.table.column", ...]}: exact set per function listed.
        for (const [name, cols] of Object.entries(want as Record<string, string[]>)) {
          const f = actual.functions.find((x) => x.name === name);
          const wl = sortedSet(cols);
          const parts = (wl[0] ?? "").split(".").length;
          const gl = f ? sortedSet(f.inputs.map((c) => columnText(c, parts))) : [];
          if (!f || JSON.stringify(gl) !== JSON.stringify(wl)) problems.push(`function_inputs.${name}: want ${wl.join(" ")} got ${f ? gl.join(" ") : "no such function"}`);
        }
        break;
      }
      case "unknown": {
        const w = want as string[];
        if (w.length === 0 && actual.unknown.length > 0) problems.push(`unknown: want none got ${JSON.stringify(actual.unknown)}`);
        for (const s of w) if (!actual.unknown.some((u) => u.includes(s))) problems.push(`unknown: want "${s}" got ${JSON.stringify(actual.unknown)}`);
        break;
      }
      case "parse_error":
        if (want === true ? actual.parse_error === undefined : !(actual.parse_error ?? "").includes(want as string)) {
          problems.push(`parse_error: want ${JSON.stringify(want)} got ${JSON.stringify(actual.parse_error)}`);
        }
        break;
      default:
        if (JSON.stringify(a[key]) !== JSON.stringify(want)) problems.push(`${key}: want ${JSON.stringify(want)} got ${JSON.stringify(a[key])}`);
    }
  }
  return problems;
}

const cases = loadGolden();
const ajv = new Ajv({ allErrors: true, strict: true });
const validateFacts = ajv.compile(JSON.parse(readFileSync(`${ROOT}testdata/schemas/sql-facts.schema.json`, "utf8")) as object);

beforeAll(async () => {
  await initSqlParser();
});

describe("golden SQL facts (testdata/sql/golden.jsonl)", () => {
  it("has a few hundred cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(300);
  });

  for (const c of cases) {
    const title = `line ${c.line}: ${c.sql.replace(/\s+/g, " ").slice(0, 90)}`;
    it(title, () => {
      const result = analyze(c.sql, contextOf(c));
      const wants = Array.isArray(c.expect) ? c.expect : [c.expect];
      const problems: string[] = [];
      if (result.statements.length !== wants.length) problems.push(`statements: want ${wants.length} got ${result.statements.length}`);
      wants.forEach((w, i) => {
        const s = result.statements[i];
        if (s) for (const p of matchFacts(s, w)) problems.push(`[${i}] ${p}`);
      });
      for (const s of result.statements) {
        if (!validateFacts(s)) problems.push(`schema: ${ajv.errorsText(validateFacts.errors)}`);
      }
      if (problems.length > 0) {
        throw new Error(`${problems.join("\n")}\n--- facts:\n${JSON.stringify(result.statements)}`);
      }
    });
  }
});
