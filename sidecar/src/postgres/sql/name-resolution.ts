// Name resolution for column references, modelled on PostgreSQL's parse_relation.c (colNameToVar and
// scanRTEForColumn): a name is looked up in the sources of each query level (scope.ts), innermost first.
import type { ColumnRef } from "./types.js";
import { UNKNOWN, merge, plain, type Col, type Lin } from "./lineage.js";
import { slotFor } from "./relate.js";
import type { BaseRel, Cx, Scope, Source } from "./scope.js";

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
  if (src.base) out.push({ src, level, lin: src.extra ? merge([plain(baseCol(src.base, name)), src.extra], true) : plain(baseCol(src.base, name)), definite: false, key: name });
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

/** The whole row of `src` as a slot of `level`, not read as a value: for what chooses the source's rows by their place. */
export function rowSlot(src: Source, level: Scope): Lin {
  return liveHit({ src, level, lin: wholeRow(src), definite: true, key: "*" });
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
