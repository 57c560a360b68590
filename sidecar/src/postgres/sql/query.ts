// SELECT / INSERT / UPDATE / DELETE / MERGE with their CTEs and FROM clauses: relations read and
// written, and the lineage of every result column.
import { asUnknown, merge, type Col, type Lin } from "./lineage.js";
import { bodyOf, list, nameList, rec, str, unwrap, type Rec } from "./node.js";
import { conjuncts, relate, rowsOf } from "./relate.js";
import { settle } from "./settle.js";
import { resolveRangeVar } from "./relations.js";
import { MAX_DEPTH, Scope, TooDeep, type CteEnv, type Cx } from "./scope.js";
import type { RelationRef } from "./types.js";
import { expr } from "./expr.js";
import { fromItem } from "./from.js";
import { withClause } from "./with.js";
import { targetList } from "./targets.js";
import { del, insert, mergeStmt, update } from "./dml.js";

export const QUERY_NODES = new Set(["SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);

export function analyzeQuery(type: string, b: Rec, cx: Cx, outer: Scope | null, ctes: CteEnv | null): Col[] {
  if (++cx.depth > MAX_DEPTH) throw new TooDeep();
  try {
    switch (type) {
      case "SelectStmt":
        return select(b, cx, outer, ctes);
      case "InsertStmt":
        return insert(b, cx, outer, ctes);
      case "UpdateStmt":
        return update(b, cx, outer, ctes);
      case "DeleteStmt":
        return del(b, cx, outer, ctes);
      case "MergeStmt":
        return mergeStmt(b, cx, outer, ctes);
      default:
        return [];
    }
  } finally {
    cx.depth--;
  }
}


/** `distinct`: the rows are deduplicated by an enclosing UNION, INTERSECT or EXCEPT (without ALL). */
function select(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null, distinct = false): Col[] {
  if (++cx.depth > MAX_DEPTH) throw new TooDeep();
  try {
    const ctes = withClause(b.withClause, cx, outer, parent);
    let outputs: Col[];
    let level: Scope;
    const rows: Lin[] = [];
    const op = str(b.op) ?? "SETOP_NONE";
    if (op !== "SETOP_NONE") {
      const dedup = distinct || b.all !== true;
      const l = select(rec(b.larg) ?? {}, cx, outer, ctes, dedup);
      const r = select(rec(b.rarg) ?? {}, cx, outer, ctes, dedup);
      outputs = setOperation(l, r);
      level = new Scope(outer, ctes);
      rows.push(rowsOf(l), rowsOf(r));
      // INTERSECT and EXCEPT keep rows by comparing one side's values with the other's.
      if (op !== "SETOP_UNION") rows.push(merge(outputs.map((c) => c.lin), true));
    } else if (b.valuesLists !== undefined) {
      level = new Scope(outer, ctes);
      outputs = values(list(b.valuesLists), cx, level);
    } else {
      level = new Scope(outer, ctes);
      const locking = list(b.lockingClause);
      const fromTables: RelationRef[] = [];
      if (locking.length > 0) cx.facts.record(fromTables);
      try {
        for (const item of list(b.fromClause)) level.items.push(fromItem(item, cx, level));
      } finally {
        cx.facts.stopRecording(fromTables);
      }
      lockRows(locking, list(b.fromClause), fromTables, cx, level);
      outputs = targetList(list(b.targetList), cx, level);
      for (const c of conjuncts(b.whereClause)) relate(level, expr(c, cx, level));
    }
    level.outputs = outputs;
    groupBy(list(b.groupClause), outputs, cx, level);
    for (const c of conjuncts(b.havingClause)) relate(level, expr(c, cx, level));
    expr(b.windowClause, cx, level);
    const distinctOn = list(b.distinctClause);
    // Plain DISTINCT (a list holding one empty node) groups by every output, as a deduplicating set operation does.
    if ((distinct && op === "SETOP_NONE") || (distinctOn.length === 1 && Object.keys(rec(distinctOn[0]) ?? {}).length === 0)) {
      for (const o of outputs) relate(level, o.lin);
    } else {
      orderBy(distinctOn, outputs, cx, level);
    }
    orderBy(list(b.sortClause), outputs, cx, level);
    const limit = merge([expr(b.limitOffset, cx, level), expr(b.limitCount, cx, level)], true);
    // A LIMIT made of two values chooses rows as a WHERE conjunct does: in a correlated subquery,
    // `LIMIT (outer.g = <masked>)::int` keeps a row only for the g equal to the masked value.
    relate(level, limit);
    into(b.intoClause, cx);
    return settle(level, outputs, limit, rows);
  } finally {
    cx.depth--;
  }
}

/**
 * `ORDER BY 2`, `GROUP BY 1`: a constant key names an output by its position. What it relates must not
 * depend on the number (statements that differ only in constants share their facts, template.ts), so it
 * stands for any output: each output is taken as a key on its own.
 */
function position(v: unknown, outputs: Col[], level: Scope): boolean {
  if (unwrap(v)?.[0] !== "A_Const") return false;
  for (const o of outputs) relate(level, o.lin);
  return true;
}

/** Each ORDER BY / DISTINCT ON key chooses rows (and their order) on its own. A bare name that is an output column means that output, not an input column. */
function orderBy(items: unknown[], outputs: Col[], cx: Cx, level: Scope): void {
  for (const item of items) {
    const sort = bodyOf(item, "SortBy");
    const key = sort?.node ?? item;
    const ref = bodyOf(key, "ColumnRef");
    const names = ref ? nameList(ref.fields) : undefined;
    const named = names?.length === 1 ? outputs.find((o) => o.name === names[0]) : undefined;
    if (named) {
      expr(sort?.useOp === undefined ? undefined : { SortBy: { useOp: sort.useOp } }, cx, level);
      relate(level, named.lin);
      continue;
    }
    const l = expr(item, cx, level);
    if (!position(key, outputs, level)) relate(level, l);
  }
}

/** Each grouping key chooses rows on its own; grouping sets are lists of keys. */
function groupBy(items: unknown[], outputs: Col[], cx: Cx, level: Scope): void {
  for (const item of items) {
    const u = unwrap(item);
    if (u?.[0] === "GroupingSet" || u?.[0] === "List") {
      groupBy(list(u[1].content ?? u[1].items), outputs, cx, level);
      continue;
    }
    const l = expr(item, cx, level);
    if (!position(item, outputs, level)) relate(level, l);
  }
}

function setOperation(l: Col[], r: Col[]): Col[] {
  if (l.length === r.length && !l.some((c) => c.wide) && !r.some((c) => c.wide)) {
    return l.map((c, i) => ({ name: c.name, lin: merge([c.lin, (r[i] as Col).lin], "any") }));
  }
  // Column positions cannot be paired: every output may come from any input column.
  const all = asUnknown(
    merge([...l, ...r].map((c) => c.lin), "any"),
  );
  return l.map((c) => ({ name: c.name, lin: all, ...(c.wide ? { wide: true } : {}) }));
}

function values(rows: unknown[], cx: Cx, level: Scope): Col[] {
  const byColumn: Lin[][] = [];
  for (const row of rows) {
    const items = list(bodyOf(row, "List")?.items);
    items.forEach((item, i) => {
      (byColumn[i] ??= []).push(expr(item, cx, level));
    });
  }
  return byColumn.map((lins, i) => ({ name: `column${i + 1}`, lin: merge(lins, "any") }));
}

/**
 * FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE and FOR KEY SHARE lock the rows read from FROM relations (views and
 * subqueries in FROM included, WITH queries and WHERE sub-selects not) until the transaction ends: their
 * writers wait, as under LOCK TABLE, and FOR KEY SHARE alone stops inserts that reference them through a
 * foreign key. So each locked relation is listed with access "write", as LOCK's stronger modes are; the rows
 * themselves do not change (`writes` stays as it was). `OF name` names a FROM item of this level: a table
 * there is locked alone; anything else (a subquery, a join alias, a name not found) locks every relation the
 * FROM clause read.
 */
function lockRows(clauses: unknown[], fromClause: unknown[], fromTables: RelationRef[], cx: Cx, level: Scope): void {
  if (clauses.length === 0) return;
  const writes = cx.facts.writes;
  const all = () => {
    for (const t of fromTables) if (t.access === "read") cx.facts.addTable({ ...t, access: "write", candidates: [...t.candidates] });
  };
  for (const c of clauses) {
    const names = list(bodyOf(c, "LockingClause")?.lockedRels).map((r) => str(rec(unwrap(r)?.[1] ?? r)?.relname) ?? "");
    if (names.length === 0) all();
    for (const name of names) {
      const found = fromNamed(fromClause, name);
      if (found && found !== "other" && !(str(found.schemaname) === undefined && level.ctes?.find(str(found.relname) ?? ""))) {
        cx.facts.addTable(resolveRangeVar(found, "write", cx.env).ref);
      } else {
        all();
      }
    }
  }
  cx.facts.writes = writes;
}

/** The FROM item of this level that `name` refers to: a table's RangeVar, "other" for any other item, or undefined. */
function fromNamed(items: unknown[], name: string): Rec | "other" | undefined {
  for (const item of items) {
    const u = unwrap(item);
    if (!u) continue;
    const [type, b] = u;
    const alias = str(bodyOf(b.alias, "Alias")?.aliasname) ?? str(rec(b.alias)?.aliasname);
    if (type === "RangeVar") {
      if ((alias ?? str(b.relname)) === name) return b;
      continue;
    }
    if (alias === name) return "other";
    if (type === "JoinExpr") {
      const inner = fromNamed([b.larg, b.rarg], name);
      if (inner) return inner;
    } else if (type === "RangeTableSample") {
      const inner = fromNamed([b.relation], name);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** SELECT INTO creates a table and fills it. */
function into(v: unknown, cx: Cx): void {
  const ic = bodyOf(v, "IntoClause");
  const rv = rec(ic?.rel);
  if (!rv) return;
  cx.facts.addTable(resolveRangeVar(rv, "write", cx.env, true).ref);
  cx.facts.ddl ??= { action: "create", object: "table" };
}
