// Name resolution for column references, modelled on PostgreSQL's parse_relation.c: FROM items per
// query level, outer levels for correlated references, CTE names visible by lexical scope.
import type { Access, ColumnRef, RelationRef, StatementFacts } from "./types.js";
import type { FactsBuilder } from "./facts.js";
import type { Env } from "./relations.js";
import { UNKNOWN, merge, plain, type Col, type Lin } from "./lineage.js";
import type { Rec } from "./node.js";
import { slotFor } from "./relate.js";
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

interface Hit {
  src: Source;
  level: Scope;
  lin: Lin;
  definite: boolean;
  /** Which column of the source: the Col found, else the name (or "*" for the whole row). */
  key: Col | string;
}

const SYSTEM_COLUMNS = new Set(["tableoid", "ctid", "xmin", "xmax", "cmin", "cmax"]);

function baseCol(b: BaseRel, column: string): ColumnRef {
  return { schema: b.schema, table: b.table, column };
}

function lookup(src: Source, name: string, level: Scope, out: Hit[]): void {
  if (src.children) {
    // A merged USING column hides the joined sides' columns of that name.
    const merged: Hit[] = [];
    for (const c of src.children) if (c.priority) lookup(c, name, level, merged);
    if (merged.some((h) => h.definite)) {
      out.push(...merged.filter((h) => h.definite));
      return;
    }
    for (const c of src.children) if (!c.priority) lookup(c, name, level, out);
    return;
  }
  if (src.cols) {
    for (const c of src.cols) {
      if (c.name === name) {
        out.push({ src, level, lin: c.lin, definite: true, key: c });
        return;
      }
    }
    // System columns exist on every table but are not in the catalog's attribute list.
    if (!src.open && !(src.base && SYSTEM_COLUMNS.has(name))) return;
  }
  if (src.base) out.push({ src, level, lin: plain(baseCol(src.base, name)), definite: false, key: name });
  else if (src.extra) out.push({ src, level, lin: { ...src.extra, derived: true }, definite: false, key: name });
  else out.push({ src, level, lin: UNKNOWN, definite: false, key: name });
}

/** Lineage of the whole row of a source (`t`, `t.*` inside an expression). */
export function wholeRow(src: Source): Lin {
  const cols = starOf(src);
  if (cols) return merge(cols.map((c) => c.lin), true);
  if (src.children) return merge(src.children.map(wholeRow), true);
  const parts: Lin[] = src.cols ? src.cols.map((c) => c.lin) : [];
  if (src.base) parts.push({ cols: [baseCol(src.base, "*")], derived: true, unknown: true });
  if (src.extra) parts.push(src.extra);
  if (parts.length === 0) return UNKNOWN;
  return { ...merge(parts, true), derived: true, unknown: true };
}

export function starOf(src: Source): Col[] | null {
  if (src.children) {
    const out: Col[] = [];
    for (const c of src.children) {
      const s = starOf(c);
      if (!s) return null;
      out.push(...s);
    }
    return out;
  }
  return src.cols && !src.open ? src.cols : null;
}

/** Record what resolving to `hit` means: base columns read, a write target read. */
function record(hit: Hit, cx: Cx): void {
  if (hit.src.base) for (const c of hit.lin.cols) cx.facts.addColumn(c);
  if (hit.src.target) {
    hit.level.targetHits++;
    cx.facts.addTable({ ...hit.src.target, candidates: [...hit.src.target.candidates], access: "read" });
  }
}

/** A whole-row reference (`t`, `t.*`): recorded, and its lineage with the row's slot. */
export function recordWhole(src: Source, level: Scope, lin: Lin, cx: Cx): Lin {
  const hit: Hit = { src, level, lin, definite: true, key: "*" };
  record(hit, cx);
  return liveHit(hit);
}

/** A column of `src` as a query level's output or a `*` expansion gives it: with its slot. */
export function liveCol(src: Source, level: Scope, c: Col): Col {
  const s = slotFor(level, src, c, c.lin);
  return { ...c, lin: (s.ref ??= { ...s.base, slots: [s] }) };
}

/** A resolved reference: the column's lineage with its slot. The lineage of a source's column is the same at every reference, so one object serves them all. */
function liveHit(h: Hit): Lin {
  const s = slotFor(h.level, h.src, h.key, h.lin);
  return (s.ref ??= { ...s.base, slots: [s] });
}

function finish(hits: Hit[], cx: Cx): Lin {
  for (const h of hits) record(h, cx);
  if (hits.length === 1) return liveHit(hits[0] as Hit);
  const m = merge(hits.map(liveHit), "any");
  return { ...m, unknown: true };
}

/** Sources reachable as `name.` from `scope`, innermost level first. */
export function findQualified(scope: Scope, name: string, schema?: string): { src: Source; level: Scope } | undefined {
  for (let level: Scope | null = scope; level; level = level.parent) {
    for (const s of level.sources) {
      if (s.qualified && s.refname === name && (schema === undefined || s.schemas.includes(schema))) return { src: s, level };
    }
  }
  return undefined;
}

/** An unqualified column name, as colNameToVar would resolve it; ambiguity without a catalog becomes `unknown`. */
export function resolveName(scope: Scope, name: string, cx: Cx): Lin | undefined {
  const hits: Hit[] = [];
  for (let level: Scope | null = scope; level; level = level.parent) {
    const definite: Hit[] = [];
    const maybe: Hit[] = [];
    const prio: Hit[] = [];
    for (const s of level.sources) {
      if (!s.unqualified) continue;
      const found: Hit[] = [];
      lookup(s, name, level, found);
      for (const h of found) {
        if (h.definite && s.priority) prio.push(h);
        else if (h.definite) definite.push(h);
        else maybe.push(h);
      }
    }
    // A valid statement is not ambiguous, so a merged USING column or a single known column wins.
    if (prio.length > 0) {
      hits.push(...prio);
      return finish(hits, cx);
    }
    if (definite.length > 0) {
      hits.push(...definite);
      return finish(hits, cx);
    }
    hits.push(...maybe);
  }
  // PostgreSQL tries a whole-row reference only when no column matched at any level.
  const row = findQualified(scope, name);
  if (row) {
    hits.push({ src: row.src, level: row.level, lin: wholeRow(row.src), definite: false, key: "*" });
  }
  if (hits.length === 0) {
    const out = scope.outputs?.find((c) => c.name === name);
    return out ? out.lin : undefined;
  }
  return finish(hits, cx);
}

/** `qualifier.name` against one source. Undefined when the source certainly lacks the column. */
export function resolveIn(found: { src: Source; level: Scope }, name: string, cx: Cx): Lin | undefined {
  const hits: Hit[] = [];
  lookup(found.src, name, found.level, hits);
  if (hits.length === 0) return undefined;
  const definite = hits.filter((h) => h.definite);
  return finish(definite.length > 0 ? definite : hits, cx);
}

/** Resolve among some sources only (the two sides of a JOIN ... USING). */
export function resolveAmong(sources: readonly Source[], level: Scope, name: string, cx: Cx): Lin {
  const hits: Hit[] = [];
  for (const s of sources) if (s.unqualified) lookup(s, name, level, hits);
  if (hits.length === 0) return UNKNOWN;
  const definite = hits.filter((h) => h.definite);
  return finish(definite.length > 0 ? definite : hits, cx);
}
