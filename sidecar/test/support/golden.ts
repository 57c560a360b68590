import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { MaskRule, PolicyInput, SessionInput } from "../../src/decision/index.js";
import { compileRoutes } from "../../src/http/routes.js";
import { effectiveMethod, findOverrides } from "../../src/http/method.js";
import { parsedQuery, parseRequestTarget } from "../../src/http/path.js";
import { httpInputs } from "../../src/http/to-input.js";
import { packageRoot } from "../../src/paths.js";
import { analyze, initSqlParser, type CatalogLookup } from "../../src/postgres/sql/index.js";
import { postgresInput } from "../../src/postgres/to-input.js";

export interface GoldenExpect {
  outcome: "allow" | "deny" | "approve";
  reason?: string;
  /** The decision's whole mask list, compared as a set: column (Postgres) or field (HTTP) and strategy. */
  masks?: MaskRule[];
  /** Fields the decision's approve object must have, with these values. */
  approve?: Record<string, unknown>;
}

/** Mask rules in one order, so that two lists compare as sets. */
export function sortedMasks(masks: readonly MaskRule[]): MaskRule[] {
  const key = (m: MaskRule) => JSON.stringify([m.column ?? "", m.field ?? "", m.detector ?? "", m.strategy]);
  return [...masks].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export interface GoldenCase {
  name: string;
  input: PolicyInput;
  expect: GoldenExpect;
}

interface Source {
  name: string;
  sql?: string;
  http?: { method: string; path: string; headers?: Record<string, string>; parsed_body?: unknown; mcp?: unknown };
  expect: GoldenExpect;
}

const GOLDEN = join(packageRoot, "testdata", "golden");
export const CASES_FILE = join(GOLDEN, "opa", "cases.json");

/** Fixed values so that the generated inputs are byte-for-byte stable. */
const NOW = Date.UTC(2026, 0, 15, 14, 30);
const SESSION: SessionInput = {
  id: "00000000-0000-4000-8000-000000000000",
  principal: { subject: "golden-agent", groups: ["agents"], claims: {}, auth_method: "scram-sha-256" },
  client: { address: "127.0.0.1", port: 40000 },
  target: "demo-db",
  started_at: new Date(NOW).toISOString(),
};

/** Inputs exactly as the adapters build them, from testdata/golden/sources.yaml. */
export async function buildGoldenCases(): Promise<GoldenCase[]> {
  await initSqlParser();
  const sources = parse(readFileSync(join(GOLDEN, "sources.yaml"), "utf8")) as Source[];
  const catalog = JSON.parse(readFileSync(join(GOLDEN, "catalog.json"), "utf8")) as Record<string, string[]>;
  const lookup = goldenCatalog(catalog, JSON.parse(readFileSync(join(GOLDEN, "sequences.json"), "utf8")) as Record<string, string>);
  const [route] = compileRoutes([{ name: "demo-api", prefix: "/", upstream: "http://127.0.0.1:9100" }]);
  return sources.map((s) => {
    if (s.sql !== undefined) {
      const analysis = analyze(s.sql, { searchPath: ["$user", "public"], user: "app", prepared: new Map(), catalog: lookup });
      return { name: s.name, expect: s.expect, input: postgresInput(SESSION, { message: "query", analysis, searchPath: ["$user", "public"], txStatus: 0x49, nowMs: NOW }) };
    }
    const h = s.http!;
    const body = h.parsed_body === undefined ? { body_size: 0, truncated_body: false, body_parse_error: false } : { body_size: JSON.stringify(h.parsed_body).length, truncated_body: false, body_parse_error: false, content_type: "application/json", parsed_body: h.parsed_body };
    // The path and method go through the gateway's own canonicalisation and override rules.
    const parsed = parseRequestTarget(h.path);
    if (!parsed.ok) throw new Error(`golden case ${s.name}: ${parsed.reason}`);
    const headers = { "content-type": "application/json", ...h.headers };
    const effective = effectiveMethod(h.method, findOverrides(headers, parsedQuery(parsed.target.query), body));
    if (!effective.ok) throw new Error(`golden case ${s.name}: ${effective.reason}`);
    const [input] = httpInputs({
      requestId: SESSION.id,
      principal: SESSION.principal,
      client: SESSION.client,
      route: route!,
      method: effective.result,
      requestMethod: h.method,
      rawPath: parsed.target.raw_path,
      trailingSlash: parsed.target.trailing_slash,
      scheme: "http",
      host: "127.0.0.1:8080",
      rest: parsed.target.path,
      query: parsed.target.query,
      headers,
      body,
      now: NOW,
    });
    return { name: s.name, expect: s.expect, input: { ...input!, session: { ...input!.session, target: "demo-api" } } };
  });
}

/**
 * The demo database as the analysis sees it through regate's catalog: relations' columns (catalog.json) and
 * which column each serial or identity sequence belongs to (sequences.json: "schema.sequence" ->
 * "schema.table.column", as pg_depend records it).
 */
export function goldenCatalog(columns: Record<string, string[]>, sequences: Record<string, string>): CatalogLookup {
  const owners = new Map(Object.entries(sequences).map(([seq, col]) => [seq, col.split(".") as [string, string, string]]));
  return {
    columns: (schema, table) => columns[`${schema}.${table}`],
    sequenceOwner(schema, name) {
      if (columns[`${schema}.${name}`] === undefined) return undefined;
      const o = owners.get(`${schema}.${name}`);
      return o ? { schema: o[0], table: o[1], column: o[2] } : null;
    },
    serialSequence(schema, table, column) {
      if (columns[`${schema}.${table}`] === undefined) return undefined;
      for (const [seq, [s, t, c]] of owners) {
        if (s === schema && t === table && c === column) {
          const [seqSchema, seqName] = seq.split(".") as [string, string];
          return { schema: seqSchema, name: seqName };
        }
      }
      return null;
    },
  };
}

export function goldenFileText(cases: GoldenCase[]): string {
  return `${JSON.stringify({ golden_cases: cases }, null, 1)}\n`;
}
