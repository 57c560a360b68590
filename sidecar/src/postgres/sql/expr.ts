// Expression walker: records functions, operators, columns and nested statements, and returns the
// lineage of the expression's value. Node types it does not know are still walked child by child, so
// nothing below them is missed.
import { callInputs } from "./call-inputs.js";
import { columnRef } from "./column-ref.js";
import { CONSTANT, UNKNOWN, asDerived, merge, type Col, type Lin } from "./lineage.js";
import { bodyOf, isRangeVarShape, list, nameList, rec, str, stringNode, unwrap, type Rec } from "./node.js";
import { relationArgument } from "./relation-args.js";
import { resolveRangeVar } from "./relations.js";
import { findQualified, resolveName } from "./name-resolution.js";
import { MAX_DEPTH, TooDeep, type Cx, type Scope } from "./scope.js";
import { setConfigCall, settingNameArg } from "./settings.js";
import { addRows, conjuncts, levelOf, relate, rowsLin, rowsOf } from "./relate.js";
import { isRelating } from "./slots.js";
import { CONSTANT_NODES, TRANSPARENT } from "./expr-nodes.js";
import { AGGREGATES, SET_RETURNING, SQL_TEXT_FUNCTIONS } from "./function-kinds.js";

export function expr(v: unknown, cx: Cx, scope: Scope): Lin {
  if (v === null || typeof v !== "object") return CONSTANT;
  if (Array.isArray(v)) return exprList(v, cx, scope);
  const u = unwrap(v);
  if (!u) return bare(v as Rec, cx, scope);
  const [type, body] = u;
  if (CONSTANT_NODES.has(type)) return CONSTANT;
  if (++cx.depth > MAX_DEPTH) throw new TooDeep();
  try {
    return node(type, body, cx, scope);
  } finally {
    cx.depth--;
  }
}

export function exprList(items: readonly unknown[], cx: Cx, scope: Scope): Lin {
  if (items.length === 0) return CONSTANT;
  if (items.length === 1) return asDerived(expr(items[0], cx, scope));
  return merge(items.map((i) => expr(i, cx, scope)), true);
}

function node(type: string, b: Rec, cx: Cx, scope: Scope): Lin {
  switch (type) {
    case "ColumnRef":
      return columnRef(list(b.fields), cx, scope);
    case "FuncCall":
      return funcCall(b, cx, scope);
    case "A_Expr":
      return aExpr(b, cx, scope);
    case "SubLink":
      return subLink(b, cx, scope);
    case "A_Indirection":
      return indirection(b, cx, scope);
    case "MultiAssignRef": {
      const src = unwrap(b.source);
      if (src && src[0] === "SubLink") {
        const outs = subLinkOutputs(src[1], cx, scope);
        const i = typeof b.colno === "number" ? b.colno - 1 : 0;
        return merge([outs[i]?.lin ?? UNKNOWN, rowsOf(outs)], true);
      }
      return asDerived(expr(b.source, cx, scope));
    }
    case "SortBy": {
      const op = nameList(b.useOp);
      if (op && op.length > 0) cx.facts.addOperator(op.join("."));
      return expr(b.node, cx, scope);
    }
    case "CurrentOfExpr":
      return CONSTANT;
    case "RangeVar":
      relation(b, cx);
      return CONSTANT;
    case "TableLikeClause": {
      const rv = rec(b.relation);
      if (rv) cx.facts.addTable(resolveRangeVar(rv, "read", cx.env).ref);
      return CONSTANT;
    }
    case "LockingClause":
      // lockedRels name FROM items, not relations.
      return CONSTANT;
    case "WindowDef":
      windowDef(b, cx, scope);
      return CONSTANT;
    case "JsonArrayAgg":
    case "JsonObjectAgg":
      // JSON_ARRAYAGG / JSON_OBJECTAGG: aggregates, made of the rows of their level.
      return merge([bare(b, cx, scope), rowsLin(scope)], true);
    default:
      // A statement inside an expression or DDL: a sub-select, a rule action, a function body.
      if (type.endsWith("Stmt")) {
        const outs = cx.nested(type, b, scope, scope.ctes);
        return merge([...outs.map((c) => c.lin), rowsOf(outs)], true);
      }
      if (!TRANSPARENT.has(type) && !scope.lenient) cx.facts.addUnknown(`expression node ${type} is not modelled`);
      return bare(b, cx, scope);
  }
}

/** A bare struct (typed field without wrapper) or an unmodelled node: walk every field. */
function bare(b: Rec, cx: Cx, scope: Scope): Lin {
  if (isRangeVarShape(b)) {
    relation(b, cx);
    return CONSTANT;
  }
  const parts: Lin[] = [];
  for (const k in b) {
    if (k === "location") continue;
    const v = b[k];
    if (v !== null && typeof v === "object") {
      const l = expr(v, cx, scope);
      if (l !== CONSTANT) parts.push(l);
    }
  }
  return parts.length === 0 ? CONSTANT : merge(parts, true);
}

function relation(rv: Rec, cx: Cx): void {
  cx.facts.addTable(resolveRangeVar(rv, cx.looseAccess, cx.env).ref);
}

/**
 * A function of a FROM item (`FROM generate_series(...) g`, one of ROWS FROM's): its rows are the item's own, and
 * rangeFunction says what they are made of. Anything else is an expression.
 */
export function fromFunction(v: unknown, cx: Cx, scope: Scope): Lin {
  const u = unwrap(v);
  if (!u || u[0] !== "FuncCall") return expr(v, cx, scope);
  if (++cx.depth > MAX_DEPTH) throw new TooDeep();
  try {
    return funcCall(u[1], cx, scope, true);
  } finally {
    cx.depth--;
  }
}

function funcCall(b: Rec, cx: Cx, scope: Scope, inFrom = false): Lin {
  const names = nameList(b.funcname) ?? [];
  const name = names[names.length - 1] ?? "";
  const schema = names.length >= 2 ? (names[names.length - 2] as string) : null;
  if (name === "set_config") setConfigCall(list(b.args), cx.facts, cx.deferred);
  if (name === "current_setting") cx.facts.readSetting(settingNameArg(list(b.args)[0]));
  const args = list(b.args);
  if (SQL_TEXT_FUNCTIONS.has(name) || name.startsWith("dblink")) cx.facts.opaque = true;
  // ts_rewrite(tsquery, text) runs its second argument as a query; the three-tsquery form runs nothing.
  if (name === "ts_rewrite" && args.length !== 3) cx.facts.opaque = true;
  relationArgument(name, args, cx);
  let lin = b.agg_star === true || args.length === 0 ? CONSTANT : exprList(args, cx, scope);
  // In an ordered-set aggregate (mode() or percentile_disc() WITHIN GROUP (ORDER BY ssn)) the value is one
  // of the ordered values. Elsewhere ordering and filtering decide which rows count and in what order, not
  // what the value is made of, unless they relate two values (ORDER BY abs(g - ssn), FILTER (WHERE g <= ssn)):
  // then the value carries the relation.
  const parts: Lin[] = [];
  if (b.agg_within_group === true) {
    const order = expr(b.agg_order, cx, scope);
    if (order !== CONSTANT) lin = lin === CONSTANT ? asDerived(order) : merge([lin, order], true);
  } else {
    for (const item of list(b.agg_order)) {
      const l = expr(item, cx, scope);
      if (isRelating(l)) parts.push(l);
    }
  }
  callInputs(cx, scope, schema, name, lin, false);
  for (const c of conjuncts(b.agg_filter)) {
    const l = expr(c, cx, scope);
    if (isRelating(l)) parts.push(l);
  }
  const over = bodyOf(b.over, "WindowDef");
  if (over) windowDef(over, cx, scope);
  // An aggregate or a window function is made of the rows of its level: their number, and what chose them.
  // A plain aggregate belongs to the innermost level its arguments read (PostgreSQL's agglevelsup).
  const aggregate =
    over !== undefined ||
    b.agg_star === true ||
    b.agg_distinct === true ||
    b.agg_within_group === true ||
    b.agg_order !== undefined ||
    b.agg_filter !== undefined ||
    AGGREGATES.has(name);
  if (aggregate) parts.push(rowsLin(over ? scope : levelOf(scope, lin)));
  if (SET_RETURNING.has(name)) {
    addRows(scope, lin);
    // Set-returning functions of a select list run in step, the shorter ones padded with NULLs:
    // `SELECT generate_series(1, <masked>) a, generate_series(1, 1000) b`, filtered on `a IS NULL`, gives the
    // masked value plus one as the first `b`. Each value's row is chosen by them all, as an aggregate's rows are.
    if (!inFrom) parts.push(rowsLin(scope));
  }
  if (parts.length > 0) lin = merge([lin, ...parts], true);
  return lin === CONSTANT ? CONSTANT : asDerived(lin);
}

/**
 * A window: its PARTITION BY and ORDER BY keys choose rows, and the order rows come in, for the whole level.
 * Its frame offsets (`ROWS BETWEEN (SELECT ...) PRECEDING`) decide how many rows each window function sees:
 * `count(*)` over such a frame is the offset itself, so they count as the level's rows, which every
 * aggregate and window function there carries (a named window is walked with the level's WINDOW clause).
 */
function windowDef(b: Rec, cx: Cx, scope: Scope): void {
  for (const item of list(b.partitionClause)) relate(scope, expr(item, cx, scope));
  for (const item of list(b.orderClause)) relate(scope, expr(item, cx, scope));
  addRows(scope, merge([expr(b.startOffset, cx, scope), expr(b.endOffset, cx, scope)], true));
}

const BETWEEN_OPS: Record<string, string[]> = {
  AEXPR_BETWEEN: [">=", "<="],
  AEXPR_BETWEEN_SYM: [">=", "<="],
  AEXPR_NOT_BETWEEN: ["<", ">"],
  AEXPR_NOT_BETWEEN_SYM: ["<", ">"],
};

function aExpr(b: Rec, cx: Cx, scope: Scope): Lin {
  const kind = str(b.kind) ?? "";
  const ops = BETWEEN_OPS[kind];
  if (ops) for (const op of ops) cx.facts.addOperator(op);
  else {
    const name = nameList(b.name);
    if (name && name.length > 0) cx.facts.addOperator(name.join("."));
  }
  const l = expr(b.lexpr, cx, scope);
  const r = expr(b.rexpr, cx, scope);
  if (l === CONSTANT && r === CONSTANT) return CONSTANT;
  return merge([l, r], true);
}

function subLinkOutputs(b: Rec, cx: Cx, scope: Scope): Col[] {
  const u = unwrap(b.subselect);
  if (!u) return [];
  return cx.nested(u[0], u[1], scope, scope.ctes);
}

function subLink(b: Rec, cx: Cx, scope: Scope): Lin {
  const op = nameList(b.operName);
  const kind = str(b.subLinkType) ?? "";
  if (op && op.length > 0) cx.facts.addOperator(op.join("."));
  else if (kind === "ANY_SUBLINK") cx.facts.addOperator("=");
  const test = expr(b.testexpr, cx, scope);
  const outs = subLinkOutputs(b, cx, scope);
  // Which rows the subquery has (and so whether one exists, which comes first) is made of what chose them.
  const rows = rowsOf(outs);
  switch (kind) {
    case "EXISTS_SUBLINK":
      return rows === CONSTANT ? CONSTANT : asDerived(rows);
    case "EXPR_SUBLINK":
    case "ARRAY_SUBLINK":
      return rows === CONSTANT ? asDerived(outs[0]?.lin ?? CONSTANT) : merge([outs[0]?.lin ?? CONSTANT, rows], true);
    default:
      return merge([test, ...outs.map((o) => o.lin), rows], true);
  }
}

function indirection(b: Rec, cx: Cx, scope: Scope): Lin {
  const ind = list(b.indirection);
  const arg = unwrap(b.arg);
  // (t).col is column col of t, not the whole row.
  if (arg && arg[0] === "ColumnRef") {
    const fields = nameList(arg[1].fields);
    const first = stringNode(ind[0]);
    if (fields && fields.length === 1 && first !== undefined && findQualified(scope, fields[0] as string)) {
      // PostgreSQL reads a one-name reference as a column first, at every query level, and as a table only
      // when no column has that name: where one may, the whole column's value (any of its fields) counts too.
      const asColumn = resolveName(scope, fields[0] as string, cx);
      const l = columnRef([...list(arg[1].fields), ind[0]], cx, scope);
      // What follows the field (`(s).a[(SELECT ...)]`) chooses which element is the value: it is made of it.
      const rest = ind.length > 1 ? expr(ind.slice(1), cx, scope) : CONSTANT;
      if (asColumn) return merge([l, asColumn, rest], true);
      return ind.length > 1 ? merge([l, rest], true) : l;
    }
  }
  const l = expr(b.arg, cx, scope);
  const idx = expr(ind, cx, scope);
  return merge([l, idx], true);
}
