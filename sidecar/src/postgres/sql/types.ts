// Facts about one SQL statement, as they appear in the policy input (`input.postgres.statements[i]`).
// testdata/schemas/sql-facts.schema.json is the normative form; keys are snake_case as OPA's are.
import type { TemporaryChange, TemporaryRelations } from "./temporary.js";

export type StatementKind =
  | "select"
  | "insert"
  | "update"
  | "delete"
  | "merge"
  | "copy"
  | "ddl"
  | "truncate"
  | "grant"
  | "transaction"
  | "set"
  | "show"
  | "explain"
  | "prepare"
  | "execute"
  | "deallocate"
  | "do"
  | "call"
  | "cursor"
  | "fetch"
  | "lock"
  | "listen"
  | "notify"
  | "vacuum"
  | "utility"
  | "parse_error"
  | "unknown";

export type Access = "read" | "write";

export interface RelationRef {
  /** Explicit schema, else the first schema PostgreSQL would search (the catalog's answer when one is given); null if the search_path is unknown. */
  schema: string | null;
  name: string;
  /** "write": the statement changes the relation's rows or definition, or takes a lock that blocks writers. */
  access: Access;
  /** Every schema an unqualified name could resolve to, in PostgreSQL's order; [schema] when explicit; [] if unknown. */
  candidates: string[];
  /**
   * `ONLY name`: inheritance children are not included. Also set where the statement cannot reach them without
   * saying so: an INSERT or COPY of a table that is not partitioned, a relation a built-in is given by name.
   */
  only: boolean;
  /**
   * Set by the catalog: reading this relation reads values of other relations (planner statistics) or
   * other sessions' activity, which the policy cannot see as columns.
   */
  exposes?: boolean;
  /**
   * Set from the catalog for a sequence that belongs to a table's column (serial or identity: pg_depend
   * 'a' or 'i' on the column): that column. Inserting into the table moves the sequence; moving it
   * changes no row.
   */
  owned_by?: ColumnRef;
  /**
   * Set from the catalog for a table that inherits from others (INHERITS) or is a partition: every such
   * ancestor, transitively (pg_inherits), nearest first. Its rows are their rows: each ancestor is listed in
   * `tables` too, with the same access and `descendant` naming this table, and its columns of their names are
   * their columns in `columns`, lineage, `write_inputs` and function inputs.
   */
  inherits?: RelationName[];
  /**
   * Set from the catalog for a table the statement names without ONLY that has inheritance children or
   * partitions: every descendant, transitively (pg_inherits downwards), nearest first. Reading or changing
   * the table reads or changes their rows, under its columns, wherever their schemas are.
   */
  descendants?: RelationName[];
  /**
   * Set on an entry the catalog adds: this relation is an ancestor (parent, partitioned table) of the table
   * named here, which the statement reads or writes; or another parent (or its ancestor) of this descendant
   * of a table the statement names without ONLY (a child of two parents). Its rows are this relation's rows.
   */
  descendant?: RelationName;
}

export interface RelationName {
  schema: string;
  name: string;
}

export interface ColumnRef {
  /** Schema of the table: explicit, or resolved through the catalog; null when unqualified and unresolved (see tables[].candidates). */
  schema: string | null;
  table: string;
  /** "*" stands for every column of the table (a `*` or whole-row reference the catalog could not expand). */
  column: string;
}

export interface OutputColumn {
  name: string;
  /** Base columns whose values feed this output, or that the rows chosen relate it to (`g = ssn`: README.md). */
  lineage: ColumnRef[];
  /** false only when the value is a plain column reference (possibly through aliases, subqueries, CTEs and set operations). */
  derived: boolean;
  /** The analysis could not establish the lineage exactly; `lineage` is then the known part or a superset. */
  unknown: boolean;
}

export type Volatility = "immutable" | "stable" | "volatile";

export interface FunctionRef {
  /** null when the call is unqualified (resolved through the search_path at run time). */
  schema: string | null;
  name: string;
  /**
   * Base columns whose values reach this function's arguments (with what the rows chosen relate them to),
   * or decide how many times it runs, over every call in the statement.
   */
  inputs: ColumnRef[];
  /** An argument's lineage could not be established exactly (`inputs` is then the known part). */
  inputs_unknown: boolean;
  /**
   * pg_proc.provolatile through the catalog: the least stable of every function the name may resolve
   * to. Absent when no catalog was consulted; "volatile" when the catalog knows no such function.
   */
  volatility?: Volatility;
  /** The catalog says this function is the data source of a system view that exposes table contents or other sessions' statements. */
  exposes?: boolean;
  /**
   * Through the catalog, for an unqualified call: every schema holding a function of this name (sorted).
   * PostgreSQL picks among them by the search_path and the argument types, so a function of another
   * schema may be the one that runs, whatever pg_catalog holds.
   */
  candidates?: string[];
}

export interface SettingChange {
  /** GUC name in lower case; "all" for RESET ALL; "*" when set_config's name is not a constant. */
  name: string;
  /** The value as PostgreSQL would store it; null for RESET/DEFAULT or when not a constant (then `unknown` says so). */
  value: string | null;
  action: "set" | "reset" | "set_config" | "startup";
  local: boolean;
}

export interface DdlFacts {
  action: string;
  object: string;
}

export interface CopyFacts {
  direction: "from" | "to";
  target: "stdio" | "file" | "program";
  query: boolean;
}

export interface StatementFacts {
  kind: StatementKind;
  /** Raw libpg-query node type, e.g. "SelectStmt"; "" for a parse error. */
  node: string;
  sql: string;
  tables: RelationRef[];
  columns: ColumnRef[];
  outputs: OutputColumn[];
  functions: FunctionRef[];
  operators: string[];
  /** null when the statement contains no UPDATE or DELETE; otherwise false if any of them lacks a row-restricting WHERE. */
  has_where: boolean | null;
  writes: boolean;
  /**
   * Base columns whose values may be stored by a write of this statement: INSERT values and source
   * query columns, UPDATE and ON CONFLICT DO UPDATE SET expressions (subscripts included), MERGE INSERT
   * values and UPDATE SET expressions, SELECT INTO and CREATE TABLE AS columns; over every write in the
   * statement (CTEs, EXECUTE of a PREPARE). Columns read only to choose rows (WHERE, joins, USING/FROM,
   * ON CONFLICT arbiters, MERGE conditions) are not listed; RETURNING is in `outputs`. A target column's
   * own value written back into that column (`SET c = lower(c)`, `SET c = EXCLUDED.c`) is not listed
   * either: it stays where it was, masked as before.
   */
  write_inputs: ColumnRef[];
  /** A stored value's lineage could not be established exactly (`write_inputs` is then the known part). */
  write_inputs_unknown: boolean;
  /**
   * Base columns the number of rows the statement returns or changes is made of: what a count(*) of those
   * rows would take on (relate.ts), at the statement's own level: the rows an INSERT's query gives, the rows
   * an UPDATE, DELETE or MERGE chooses, a cursor's rows for FETCH and MOVE, a prepared statement's for
   * EXECUTE, the rows SELECT INTO and CREATE TABLE AS store. A command tag reports that number
   * (`INSERT 0 n`, `MOVE n`) whether or not any row is sent.
   */
  row_count_inputs: ColumnRef[];
  /** The row count's lineage could not be established exactly (`row_count_inputs` is then the known part). */
  row_count_unknown: boolean;
  ddl: DdlFacts | null;
  settings: SettingChange[];
  /**
   * Server settings whose value the statement reads by name (SHOW x, current_setting('x')), in lower case as
   * PostgreSQL looks them up; "*" for every setting or one the analysis cannot name: SHOW ALL, a name that is
   * not a plain string constant. The views and functions that list settings are judged by their columns and names.
   */
  settings_read: string[];
  role_change: boolean;
  copy: CopyFacts | null;
  explain_analyze: boolean;
  opaque: boolean;
  unknown: string[];
  parse_error?: string;
}

export interface CatalogLookup {
  /** Ordered attribute names of a table or view; undefined when the relation is not known. */
  columns(schema: string, table: string): string[] | undefined;
  /** The column a sequence belongs to (serial or identity); null: none, or not a sequence; undefined: not known. */
  sequenceOwner?(schema: string, name: string): ColumnRef | null | undefined;
  /** The sequence that belongs to a table's column (what pg_get_serial_sequence returns); null: none; undefined: not known. */
  serialSequence?(schema: string, table: string, column: string): { schema: string; name: string } | null | undefined;
  /** Whether a table is partitioned (routes the rows put into it to its partitions); undefined: not known. */
  partitioned?(schema: string, table: string): boolean | undefined;
}

export interface AnalysisContext {
  /** null = unknown. "$user" entries are replaced by `user`. */
  searchPath: string[] | null;
  user: string;
  /** SQL-level PREPARE name -> facts of that PREPARE, for EXECUTE. */
  prepared: ReadonlyMap<string, StatementFacts>;
  /** DECLARE name -> facts of that DECLARE, for FETCH. */
  cursors?: ReadonlyMap<string, StatementFacts>;
  catalog?: CatalogLookup;
  /** Relations the session may have made in its temporary schema, and what they may hold (temporary.ts). */
  temporary?: TemporaryRelations;
}

/**
 * What one statement does to the session's names, from its parse tree: names as the server reads them
 * (case folded, Unicode escapes decoded, cut to 63 bytes). Not part of the policy input.
 */
export type NameEffect =
  | { space: "statement" | "cursor"; define: boolean; /** null: ALL */ name: string | null; hold?: boolean }
  | { space: "transaction"; ends: "chain" | "rollback" }
  /** DISCARD ALL: every prepared statement, portal and cursor. */
  | { space: "all" };

export interface AnalysisResult {
  statements: StatementFacts[];
  fingerprint: string;
  parse_error?: string;
  /** Per statement, where it changes names (lifecycle/names.ts); absent when none does. */
  names?: (NameEffect | undefined)[];
  /** What the message's statements store in the session's temporary schema (temporary.ts); absent when nothing. */
  temporary?: TemporaryChange[];
  /**
   * Some fact depends on the values of the statement's constants, not only on where they stand (has_where:
   * `id + 1 = id + 1`, `status LIKE '%'`): statements of its template must each be analysed (lifecycle/analyse.ts).
   */
  constant_values?: true;
  /**
   * The catalog generation and search_path the facts were taken under (lifecycle/analyse.ts); "" when
   * the message itself changes the search_path. PostgreSQL plans a prepared statement again when either
   * changes, so its facts must be taken again too (lifecycle/names.ts).
   */
  taken?: string;
}
