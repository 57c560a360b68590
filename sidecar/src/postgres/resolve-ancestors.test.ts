// Inheritance children and partitions in the facts, with a catalog held in memory: each ancestor is named beside
// the child, with the same access, and the child's columns carry the ancestor's column identity.
import { beforeAll, describe, expect, it } from "vitest";
import type { Catalog, RelationInfo } from "./catalog.js";
import { relationFromRow } from "./catalog-facts.js";
import { buildMaskPlan } from "./mask-plan.js";
import { resolveAnalysis } from "./resolve.js";
import { withAncestors } from "./resolve-ancestors.js";
import { analyze, initSqlParser, type StatementFacts } from "./sql/index.js";

/** An ancestor as [schema, name, columns] or [schema, name, columns, its own ancestors as "schema.name"]. */
type AncestorRow = [string, string, string[]] | [string, string, string[], string[]];

function rel(schema: string, name: string, columns: string[], ancestors: AncestorRow[] = []): RelationInfo {
  return {
    oid: 0,
    schema,
    name,
    relkind: "r",
    columns,
    valueColumns: [],
    withheld: false,
    ownedBy: [],
    serialSequences: {},
    defaultOf: [],
    rules: [],
    ancestors: ancestors.map(([s, n, c, up = []]) => ({ schema: s, name: n, columns: c, inherits: up.map((x) => ({ schema: x.split(".")[0]!, name: x.split(".")[1]! })) })),
  };
}

const CUSTOMERS = ["id", "email", "ssn"];
const relations = [
  rel("public", "customers", CUSTOMERS),
  rel("public", "archive", [...CUSTOMERS, "archived_at"], [["public", "customers", CUSTOMERS]]),
  rel("public", "archive_old", [...CUSTOMERS, "archived_at"], [
    ["public", "archive", [...CUSTOMERS, "archived_at"], ["public.customers"]],
    ["public", "customers", CUSTOMERS],
  ]),
  rel("internal", "audit", ["id", "secret"]),
  rel("public", "audit_2024", ["id", "secret"], [["internal", "audit", ["id", "secret"]]]),
];

/** The part of Catalog that resolveAnalysis asks, over `relations`; `lost` names relations it cannot answer for. */
function memoryCatalog(lost = new Set<string>()): Catalog {
  const find = (schema: string, name: string) =>
    lost.has(`${schema}.${name}`) ? undefined : (relations.find((r) => r.schema === schema && r.name === name) ?? null);
  return {
    generation: 0,
    relation: find,
    columns: (schema: string, name: string) => find(schema, name)?.columns,
    sequenceOwner: () => null,
    serialSequence: () => null,
    functions: () => new Map(),
    ensure: async () => undefined,
    ensureFunctions: async () => undefined,
  } as unknown as Catalog;
}

async function facts(sql: string, catalog = memoryCatalog()): Promise<StatementFacts> {
  const a = await resolveAnalysis(sql, (text, path) => analyze(text, { searchPath: path ?? ["public"], user: "agent", prepared: new Map(), catalog }), catalog);
  return a.statements[0]!;
}

const names = (f: StatementFacts) => f.tables.map((t) => `${t.access} ${t.schema}.${t.name}${t.descendant ? ` (of ${t.descendant.name})` : ""}`);

beforeAll(async () => {
  await initSqlParser();
});

describe("a statement that names a child names its ancestors", () => {
  it("reads: the child with inherits, each ancestor with descendant, nearest first", async () => {
    const f = await facts("SELECT ssn FROM archive_old");
    expect(names(f)).toEqual(["read public.archive_old", "read public.archive (of archive_old)", "read public.customers (of archive_old)"]);
    expect(f.tables[0]!.inherits).toEqual([
      { schema: "public", name: "archive" },
      { schema: "public", name: "customers" },
    ]);
    expect(f.outputs[0]!.lineage).toEqual([
      { schema: "public", table: "archive_old", column: "ssn" },
      { schema: "public", table: "archive", column: "ssn" },
      { schema: "public", table: "customers", column: "ssn" },
    ]);
  });

  it("an ancestor that is itself a child or partition (the middle level) carries its own ancestors", async () => {
    const f = await facts("UPDATE archive_old SET ssn = NULL WHERE id = 1");
    const middle = f.tables.find((t) => t.name === "archive")!;
    expect(middle).toMatchObject({ access: "write", descendant: { schema: "public", name: "archive_old" }, inherits: [{ schema: "public", name: "customers" }] });
    expect(f.tables.find((t) => t.name === "customers")!.inherits).toBeUndefined();
  });

  it("a child's own column is not given to an ancestor that lacks it; * is given to every ancestor", async () => {
    const f = await facts("SELECT archived_at, a FROM archive a");
    expect(f.outputs[0]!.lineage).toEqual([{ schema: "public", table: "archive", column: "archived_at" }]);
    expect(f.outputs[1]!.lineage.map((c) => `${c.table}.${c.column}`)).toContain("customers.ssn");
  });

  it("writes: the ancestors with access write; stored values and function inputs carry the ancestor's columns", async () => {
    const f = await facts("INSERT INTO public.audit_2024 SELECT id, ssn FROM archive WHERE pg_notify('c', email) IS NULL");
    expect(names(f)).toContain("write internal.audit (of audit_2024)");
    expect(f.write_inputs).toContainEqual({ schema: "public", table: "customers", column: "ssn" });
    expect(f.functions.find((x) => x.name === "pg_notify")!.inputs).toContainEqual({ schema: "public", table: "customers", column: "email" });
    expect(f.columns).toContainEqual({ schema: "public", table: "customers", column: "email" });
  });

  it("an ancestor the statement names itself is listed once", async () => {
    const f = await facts("SELECT c.ssn FROM customers c JOIN archive a USING (id)");
    expect(names(f)).toEqual(["read public.customers", "read public.archive"]);
  });

  it("through a view over a child", async () => {
    const view = { ...rel("public", "v", ["ssn"]), relkind: "v", definition: "SELECT ssn FROM public.archive" };
    relations.push(view);
    try {
      const f = await facts("SELECT ssn FROM v");
      expect(names(f)).toContain("read public.customers (of archive)");
      expect(f.outputs[0]!.lineage).toContainEqual({ schema: "public", table: "customers", column: "ssn" });
    } finally {
      relations.pop();
    }
  });

  it("facts resolved again keep one entry per ancestor", async () => {
    const catalog = memoryCatalog();
    const once = await facts("SELECT ssn FROM archive_old", catalog);
    const twice = await withAncestors({ statements: [once], fingerprint: "" }, catalog);
    expect(twice.statements[0]).toEqual(once);
  });

  it("a relation the catalog cannot answer for is reported unknown (the example policy refuses)", async () => {
    // Known when the statement was analysed, aged out and not fetched again by the time ancestors are asked.
    const analysed = await facts("SELECT ssn FROM public.archive");
    const a = await withAncestors({ statements: [{ ...analysed, tables: analysed.tables.slice(0, 1) }], fingerprint: "" }, memoryCatalog(new Set(["public.archive"])));
    const f = a.statements[0]!;
    expect(f.unknown).toContain("the catalog could not say whether public.archive inherits from another table");
  });
});

describe("the catalog's row of a table's ancestors", () => {
  it("each ancestor's own ancestors follow from the parents the catalog lists for it, in the child's order", () => {
    // A sub-partition: leaf of mid of top, and a second parent of mid (multiple inheritance) named other.
    const ancestors = [
      ["public", "mid", ["id", "at"], [["public", "top"], ["public", "other"]]],
      ["public", "top", ["id", "at"], []],
      ["public", "other", ["id"], [["x", "root"]]],
      ["x", "root", ["id"], []],
    ];
    const row = ["7", "public", "leaf", "r", JSON.stringify(["id", "at"]), null, "[]", null, null, null, null, JSON.stringify(ancestors)];
    const info = relationFromRow(row);
    const own = (name: string) => info.ancestors.find((a) => a.name === name)!.inherits.map((a) => `${a.schema}.${a.name}`);
    expect(info.ancestors.map((a) => a.name)).toEqual(["mid", "top", "other", "root"]);
    expect(own("mid")).toEqual(["public.top", "public.other", "x.root"]);
    expect(own("other")).toEqual(["x.root"]);
    expect(own("top")).toEqual([]);
  });
});

describe("mask plan: the server's table OID and attnum name the ancestor's column too", () => {
  it("a child's column whose lineage is unknown is masked by the parent's rule", () => {
    const field = { name: "ssn", tableOid: 7, attnum: 3, typeOid: 25, typlen: -1, typmod: -1, format: 0 };
    const f = { outputs: [{ name: "ssn", lineage: [], derived: false, unknown: true }] } as unknown as StatementFacts;
    const plan = buildMaskPlan([{ column: "public.customers.ssn", strategy: "redact" }], f, [field], () => ["public.archive.ssn", "public.customers.ssn"]);
    expect(plan?.columns.get(0)).toEqual({ kind: "rule", strategy: "redact", textual: true });
  });
});
