// What names are resolved against (name-resolution.ts), modelled on PostgreSQL's parse_relation.c: FROM
// items per query level, outer levels for correlated references, CTE names visible by lexical scope; and
// the context every walker is given.
import type { Access, RelationRef, StatementFacts } from "./types.js";
import type { FactsBuilder } from "./facts.js";
import type { Env } from "./relations.js";
import type { Col, Lin } from "./lineage.js";
import type { Rec } from "./node.js";
import type { LevelRelations } from "./slots.js";

export interface BaseRel {
  schema: string | null;
  table: string;
}

/** One name-bearing FROM item (a table, subquery, function, CTE reference, join alias or pseudo-relation). */
export interface Source {
  refname: string | null;
  /** Schemas a `schema.table.column` reference may name (an aliased relation answers to none). */
  schemas: readonly string[];
  /** Reachable as `refname.column` (false when an aliased join hides it). */
  qualified: boolean;
  /** Its columns answer unqualified names (false for `excluded`, `old`, `new`). */
  unqualified: boolean;
  /** JOIN ... USING merged columns: unqualified names resolve here before the joined sides. */
  priority: boolean;
  /** Known columns; null when only the relation is known. */
  cols: Col[] | null;
  /** Names outside `cols` may still exist (composite function results, short alias lists). */
  open: boolean;
  /** A table or view: names not otherwise known are taken as its columns. */
  base: BaseRel | null;
  /** Lineage every column carries (arguments of a function in FROM). */
  extra: Lin | null;
  /** An aliased join: qualified names look inside these. */
  children: Source[] | null;
  /** A write target: reading its columns also reads it. */
  target: RelationRef | null;
  /** Its columns are made of other values only (a subquery's or CTE's outputs, merged USING columns). */
  derived: boolean;
}

export function makeSource(init: Partial<Source> & { refname: string | null }): Source {
  return {
    schemas: [],
    qualified: true,
    unqualified: true,
    priority: false,
    cols: null,
    open: false,
    base: null,
    extra: null,
    children: null,
    target: null,
    derived: false,
    ...init,
  };
}

/** One FROM-clause entry as a whole, for `*` expansion in PostgreSQL's column order. */
export interface FromItem {
  sources: Source[];
  star(): Col[] | null;
  /** Lineage of all its columns, used when `*` cannot be expanded. */
  whole(): Lin;
}

export interface CteDef {
  cols: Col[] | null;
  /** What its rows are made of (relate.ts rowsOf). */
  rows?: Lin;
}

export class CteEnv {
  private readonly entries = new Map<string, CteDef>();
  constructor(readonly parent: CteEnv | null) {}

  set(name: string, def: CteDef): void {
    this.entries.set(name, def);
  }

  find(name: string): CteDef | undefined {
    for (let e: CteEnv | null = this; e; e = e.parent) {
      const d = e.entries.get(name);
      if (d) return d;
    }
    return undefined;
  }
}

export class Scope {
  readonly sources: Source[] = [];
  readonly items: FromItem[] = [];
  /** References resolved to the write target at this level: whether a WHERE depends on its rows. */
  targetHits = 0;
  /** Output columns, for ORDER BY / GROUP BY references to output names. */
  outputs: Col[] | null = null;
  /** Slots and relations of this level (relate.ts). */
  rel: LevelRelations | undefined;
  readonly lenient: boolean;

  constructor(
    readonly parent: Scope | null,
    readonly ctes: CteEnv | null,
    lenient?: boolean,
  ) {
    this.lenient = lenient ?? parent?.lenient ?? false;
  }

  addSource(s: Source): void {
    this.sources.push(s);
  }
}

/** Everything a walker needs; `nested` analyses a statement found inside another one. */
export interface Cx {
  facts: FactsBuilder;
  env: Env;
  depth: number;
  /** Access for RangeVars met outside FROM clauses (DDL targets). */
  looseAccess: Access;
  /** Inside a definition (view, function, rule, default ...): its expressions run later, if ever. */
  deferred: boolean;
  /** Inside PREPARE: names the statement looks up when it runs (WHERE CURRENT OF's cursor) are not known yet. */
  preparing?: boolean;
  nested(type: string, body: Rec, outer: Scope | null, ctes: CteEnv | null): Col[];
  prepared(name: string): StatementFacts | undefined;
  cursor(name: string): StatementFacts | undefined;
  /** Facts of the open WITH HOLD cursors: COMMIT runs their queries to keep their rows. */
  holdCursors(): StatementFacts[];
}

// Bounds recursion well inside V8's default stack; legitimate statements come nowhere near it.
export const MAX_DEPTH = 1000;

export class TooDeep extends Error {
  constructor() {
    super("statement is nested too deeply to analyse");
  }
}
