import type { Volatility } from "./sql/types.js";

export interface RelationInfo {
  oid: number;
  schema: string;
  name: string;
  /** pg_class.relkind: r table, v view, m matview, p partitioned, f foreign, ... */
  relkind: string;
  /** Attribute names by attnum (index attnum - 1); dropped columns are "". */
  columns: string[];
  /** The query of a view or materialized view (pg_get_viewdef). */
  definition?: string;
  /** Columns that hold values of other relations' rows, or that PostgreSQL withholds from PUBLIC (see catalog-queries.ts). */
  valueColumns: string[];
  /** A pg_catalog table PostgreSQL withholds from PUBLIC (pg_authid, pg_statistic, ...). */
  withheld: boolean;
  /** A sequence's pg_depend entries on a column (serial, OWNED BY, identity): [schema, table, column] each. */
  ownedBy: [string, string, string][];
  /** A table's columns' sequences, as pg_get_serial_sequence finds them: column -> [schema, sequence] each. */
  serialSequences: Record<string, [string, string][]>;
  /**
   * A sequence's callers in column defaults (`DEFAULT nextval(...)`): [schema, table] each; its own table's
   * partitions and single-parent inheritance children are not listed (SEQUENCE_DEFAULT_OF).
   */
  defaultOf: [string, string][];
  /**
   * The tables this one inherits from or is a partition of, and theirs (pg_inherits, transitively), nearest
   * first: its rows are theirs, and its columns of their names are their columns.
   */
  ancestors: Ancestor[];
  /**
   * The table's generated columns (stored or virtual): column -> the columns of this table its expression reads
   * (pg_depend), or null when it calls a function or operator outside pg_catalog (lineage not known). A column
   * absent here is not generated.
   */
  generated: Record<string, string[] | null>;
  /**
   * Its inheritance children and partitions, and theirs (pg_inherits downwards), nearest first: a statement
   * without ONLY reads and changes their rows through this table.
   */
  descendants: Descendant[];
  /**
   * Its rewrite rules on INSERT, UPDATE or DELETE (not a view's `_RETURN`), by name: writing the relation runs
   * their actions, which regate does not analyse (resolve-rules.ts).
   */
  rules: Rule[];
}

/** A rewrite rule (pg_rewrite) that fires on a write of its relation. */
export interface Rule {
  name: string;
  /** "update", "insert" or "delete" (pg_rewrite.ev_type 2, 3, 4). */
  event: string;
}

const RULE_EVENTS: Record<string, string> = { "2": "update", "3": "insert", "4": "delete" };

/**
 * An inheritance child or partition below a table, with its ancestors outside that table's line (not the table,
 * nor its ancestors or other descendants): the second parent of a child of two, whose rows the child's rows are too.
 */
export interface Descendant {
  schema: string;
  name: string;
  otherAncestors: { schema: string; name: string; columns: string[] }[];
}

type DescendantRow = [string, string, [string, string, string[]][] | undefined];

/** A table another inherits from (INHERITS) or is a partition of, with its column names (dropped ones left out). */
export interface Ancestor {
  schema: string;
  name: string;
  columns: string[];
  /**
   * Its own ancestors (a sub-partition's partitioned middle level is a partition of the top), among the child's,
   * in the child's order: what a statement naming it directly would list as its `inherits`.
   */
  inherits: { schema: string; name: string }[];
}

/** What the catalog says about a function name in one schema (over all its overloads). */
export interface FunctionInfo {
  volatility: Volatility;
  /** Every overload is a system data source (a non-immutable set-returning function of pg_catalog or an extension). */
  exposes: boolean;
}

const VOLATILITY: Record<string, Volatility> = { i: "immutable", s: "stable", v: "volatile" };

/** One ancestor as the ANCESTORS query gives it: schema, name, column names, its parents (pg_inherits, one level). */
type AncestorRow = [string, string, string[], [string, string][]];

/**
 * The ancestors of one table, each with its own ancestors: those of the child's ancestors reached from its parents,
 * parents of parents and so on (the child's list holds every one of them, as it is transitive).
 */
function ancestorsFromJson(rows: AncestorRow[]): Ancestor[] {
  const key = (schema: string, name: string) => `${schema}\u0000${name}`;
  const parents = new Map(rows.map(([s, n, , p]) => [key(s, n), p ?? []]));
  return rows.map(([schema, name, columns]) => {
    const reached = new Set<string>();
    const stack = [...(parents.get(key(schema, name)) ?? [])];
    for (let next = stack.pop(); next; next = stack.pop()) {
      const k = key(next[0], next[1]);
      if (reached.has(k)) continue;
      reached.add(k);
      stack.push(...(parents.get(k) ?? []));
    }
    const inherits = rows.filter(([s, n]) => reached.has(key(s, n))).map(([s, n]) => ({ schema: s, name: n }));
    return { schema, name, columns, inherits };
  });
}

/** One row of relationsQuery (catalog-queries.ts), in its column order. */
export function relationFromRow(row: (string | null)[]): RelationInfo {
  const [oid, schema, name, relkind, cols, definition, values, withheld, owner, serial, defaultOf, ancestors, generated, descendants, rules] = row;
  const info: RelationInfo = {
    oid: Number(oid),
    schema: schema!,
    name: name!,
    relkind: relkind!,
    columns: JSON.parse(cols!) as string[],
    valueColumns: JSON.parse(values!) as string[],
    withheld: withheld === "t",
    ownedBy: owner ? (JSON.parse(owner) as [string, string, string][]) : [],
    serialSequences: serial ? (JSON.parse(serial) as Record<string, [string, string][]>) : {},
    defaultOf: defaultOf ? (JSON.parse(defaultOf) as [string, string][]) : [],
    ancestors: ancestors ? ancestorsFromJson(JSON.parse(ancestors) as AncestorRow[]) : [],
    generated: generated ? (JSON.parse(generated) as Record<string, string[] | null>) : {},
    descendants: descendants
      ? (JSON.parse(descendants) as DescendantRow[]).map(([s, n, others]) => ({
          schema: s,
          name: n,
          otherAncestors: (others ?? []).map(([os, on, columns]) => ({ schema: os, name: on, columns })),
        }))
      : [],
    rules: rules ? (JSON.parse(rules) as [string, string][]).map(([n, e]) => ({ name: n, event: RULE_EVENTS[e] ?? `ev_type ${e}` })) : [],
  };
  if (definition) info.definition = definition;
  return info;
}

/** pg_proc's provolatile and the set-returning flag of functionsQuery's row. */
export function functionFromRow(volatility: string | null | undefined, exposes: string | null | undefined): FunctionInfo {
  return { volatility: VOLATILITY[volatility ?? ""] ?? "volatile", exposes: exposes === "t" };
}

export function sameRelation(a: RelationInfo | null, b: RelationInfo | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.oid === b.oid &&
    a.schema === b.schema &&
    a.name === b.name &&
    a.relkind === b.relkind &&
    a.definition === b.definition &&
    a.valueColumns.join("\u0000") === b.valueColumns.join("\u0000") &&
    a.withheld === b.withheld &&
    JSON.stringify(a.ownedBy) === JSON.stringify(b.ownedBy) &&
    JSON.stringify(a.serialSequences) === JSON.stringify(b.serialSequences) &&
    JSON.stringify(a.defaultOf) === JSON.stringify(b.defaultOf) &&
    JSON.stringify(a.ancestors) === JSON.stringify(b.ancestors) &&
    JSON.stringify(a.generated) === JSON.stringify(b.generated) &&
    JSON.stringify(a.descendants) === JSON.stringify(b.descendants) &&
    JSON.stringify(a.rules) === JSON.stringify(b.rules) &&
    a.columns.length === b.columns.length &&
    a.columns.every((c, i) => c === b.columns[i])
  );
}

export function sameFunctions(a: ReadonlyMap<string, FunctionInfo>, b: ReadonlyMap<string, FunctionInfo>): boolean {
  if (a.size !== b.size) return false;
  for (const [schema, x] of a) {
    const y = b.get(schema);
    if (!y || y.volatility !== x.volatility || y.exposes !== x.exposes) return false;
  }
  return true;
}
