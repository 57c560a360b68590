// SELECT / INSERT / UPDATE / DELETE / MERGE with their CTEs and FROM clauses: relations read and
// written, and the lineage of every result column.
import { asUnknown, merge, type Col, type Lin } from "./lineage.js";
import { bodyOf, list, nameList, rec, str, type Rec } from "./node.js";
import { resolveRangeVar } from "./relations.js";
import { MAX_DEPTH, Scope, TooDeep, type CteEnv, type Cx } from "./scope.js";
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


function select(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null): Col[] {
  if (++cx.depth > MAX_DEPTH) throw new TooDeep();
  try {
    const ctes = withClause(b.withClause, cx, outer, parent);
    let outputs: Col[];
    let level: Scope;
    if ((str(b.op) ?? "SETOP_NONE") !== "SETOP_NONE") {
      const l = select(rec(b.larg) ?? {}, cx, outer, ctes);
      const r = select(rec(b.rarg) ?? {}, cx, outer, ctes);
      outputs = setOperation(l, r);
      level = new Scope(outer, ctes);
    } else if (b.valuesLists !== undefined) {
      level = new Scope(outer, ctes);
      outputs = values(list(b.valuesLists), cx, level);
    } else {
      level = new Scope(outer, ctes);
      for (const item of list(b.fromClause)) level.items.push(fromItem(item, cx, level));
      outputs = targetList(list(b.targetList), cx, level);
      expr(b.whereClause, cx, level);
    }
    level.outputs = outputs;
    expr(b.groupClause, cx, level);
    expr(b.havingClause, cx, level);
    expr(b.windowClause, cx, level);
    orderBy(list(b.distinctClause), outputs, cx, level);
    orderBy(list(b.sortClause), outputs, cx, level);
    expr(b.limitOffset, cx, level);
    expr(b.limitCount, cx, level);
    into(b.intoClause, cx);
    return outputs;
  } finally {
    cx.depth--;
  }
}

/** ORDER BY / DISTINCT ON: a bare name that is an output column means that output, not an input column. */
function orderBy(items: unknown[], outputs: Col[], cx: Cx, level: Scope): void {
  for (const item of items) {
    const sort = bodyOf(item, "SortBy");
    const ref = bodyOf(sort?.node ?? item, "ColumnRef");
    const names = ref ? nameList(ref.fields) : undefined;
    if (names?.length === 1 && outputs.some((o) => o.name === names[0])) {
      expr(sort?.useOp === undefined ? undefined : { SortBy: { useOp: sort.useOp } }, cx, level);
      continue;
    }
    expr(item, cx, level);
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

/** SELECT INTO creates a table and fills it. */
function into(v: unknown, cx: Cx): void {
  const ic = bodyOf(v, "IntoClause");
  const rv = rec(ic?.rel);
  if (!rv) return;
  cx.facts.addTable(resolveRangeVar(rv, "write", cx.env, true).ref);
  cx.facts.ddl ??= { action: "create", object: "table" };
}
