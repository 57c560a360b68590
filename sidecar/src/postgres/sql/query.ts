// SELECT / INSERT / UPDATE / DELETE / MERGE with their CTEs and FROM clauses: relations read and
// written, and the lineage of every result column.
import { CONSTANT, UNKNOWN, asDerived, asUnknown, columnKey, merge, plain, type Col, type Lin } from "./lineage.js";
import { bodyOf, list, nameList, rec, str, unwrap, type Rec } from "./node.js";
import { resolveRangeVar, type ResolvedRelation } from "./relations.js";
import {
  CteEnv,
  MAX_DEPTH,
  Scope,
  TooDeep,
  findQualified,
  makeSource,
  recordWhole,
  resolveAmong,
  starOf,
  wholeRow,
  type Cx,
  type FromItem,
  type Source,
} from "./scope.js";
import { expr } from "./expr.js";
import { figureName } from "./names.js";

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

interface Alias {
  name: string | undefined;
  colnames: string[];
}

function aliasOf(v: unknown): Alias | undefined {
  const a = bodyOf(v, "Alias");
  if (!a) return undefined;
  return { name: str(a.aliasname), colnames: nameList(a.colnames) ?? [] };
}

/** Positional renaming (alias column lists); positions after a `*` of unknown width cannot be named. */
function rename(cols: Col[], names: string[]): Col[] {
  if (names.length === 0) return cols;
  let shifted = false;
  return cols.map((c, i) => {
    if (c.wide) shifted = true;
    return !shifted && i < names.length ? { ...c, name: names[i] as string } : c;
  });
}

/** A FROM item made of query output columns (subquery, CTE reference). */
function colsSource(refname: string | null, outs: Col[] | null, colnames: string[]): Source {
  if (!outs) return makeSource({ refname, cols: null });
  const firstWide = outs.findIndex((c) => c.wide);
  if (firstWide < 0) return makeSource({ refname, cols: rename(outs, colnames) });
  const rest = merge(
    outs.slice(firstWide).map((c) => c.lin),
    true,
  );
  return makeSource({ refname, cols: rename(outs.slice(0, firstWide), colnames), open: true, extra: asUnknown(rest) });
}

function single(src: Source): FromItem {
  return { sources: [src], star: () => starOf(src), whole: () => wholeRow(src) };
}

// ---------------------------------------------------------------- WITH

function withClause(w: unknown, cx: Cx, outer: Scope | null, parent: CteEnv | null): CteEnv | null {
  const wc = bodyOf(w, "WithClause");
  if (!wc) return parent;
  const env = new CteEnv(parent);
  const ctes: Rec[] = [];
  for (const c of list(wc.ctes)) {
    const body = bodyOf(c, "CommonTableExpr");
    if (body) ctes.push(body);
  }
  if (wc.recursive !== true) {
    // Each CTE sees only the ones before it; a same-named table inside its own body is the table.
    for (const c of ctes) env.set(str(c.ctename) ?? "", { cols: cte(c, cx, outer, env) });
    return env;
  }
  for (const c of ctes) env.set(str(c.ctename) ?? "", { cols: null });
  for (const c of ctes) env.set(str(c.ctename) ?? "", { cols: seed(c, cx, outer, env) });
  // Lineage through a recursive reference grows until it stops changing.
  let previous = "";
  for (let pass = 0; pass < 4; pass++) {
    const sig: string[] = [];
    for (const c of ctes) {
      const cols = cte(c, cx, outer, env);
      env.set(str(c.ctename) ?? "", { cols });
      sig.push(signature(cols));
    }
    const now = sig.join("|");
    if (now === previous) return env;
    previous = now;
  }
  cx.facts.addUnknown("recursive CTE lineage did not converge");
  for (const c of ctes) {
    const def = env.find(str(c.ctename) ?? "");
    env.set(str(c.ctename) ?? "", { cols: def?.cols?.map((col) => ({ ...col, lin: asUnknown(col.lin) })) ?? null });
  }
  return env;
}

function signature(cols: Col[]): string {
  return cols.map((c) => `${c.name}:${c.lin.derived ? 1 : 0}${c.lin.unknown ? 1 : 0}:${c.lin.cols.map(columnKey).sort().join(",")}`).join(";");
}

/** The non-recursive term of `WITH RECURSIVE r AS (base UNION [ALL] step)`. */
function seed(c: Rec, cx: Cx, outer: Scope | null, env: CteEnv): Col[] | null {
  const q = bodyOf(c.ctequery, "SelectStmt");
  if (!q || str(q.op) !== "SETOP_UNION") return null;
  const larg = rec(q.larg);
  if (!larg) return null;
  return decorate(c, rename(select(larg, cx, outer, env), nameList(c.aliascolnames) ?? []), cx, outer, env);
}

function cte(c: Rec, cx: Cx, outer: Scope | null, env: CteEnv): Col[] {
  const q = unwrap(c.ctequery);
  const cols = q ? cx.nested(q[0], q[1], outer, env) : [];
  return decorate(c, rename(cols, nameList(c.aliascolnames) ?? []), cx, outer, env);
}

/** SEARCH and CYCLE add columns, visible in the recursive term too. */
function decorate(c: Rec, cols: Col[], cx: Cx, outer: Scope | null, env: CteEnv): Col[] {
  const byName = (names: string[] | undefined): Lin =>
    merge(
      (names ?? []).map((n) => cols.find((x) => x.name === n)?.lin ?? UNKNOWN),
      true,
    );
  const out = [...cols];
  const search = bodyOf(c.search_clause, "CTESearchClause");
  const seq = str(search?.search_seq_column);
  if (seq) out.push({ name: seq, lin: byName(nameList(search?.search_col_list)) });
  const cycle = bodyOf(c.cycle_clause, "CTECycleClause");
  if (cycle) {
    expr(cycle.cycle_mark_value, cx, new Scope(outer, env));
    expr(cycle.cycle_mark_default, cx, new Scope(outer, env));
    const mark = str(cycle.cycle_mark_column);
    const path = str(cycle.cycle_path_column);
    if (mark) out.push({ name: mark, lin: CONSTANT });
    if (path) out.push({ name: path, lin: byName(nameList(cycle.cycle_col_list)) });
  }
  return out;
}

// ---------------------------------------------------------------- SELECT

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
    expr(b.distinctClause, cx, level);
    expr(b.sortClause, cx, level);
    expr(b.limitOffset, cx, level);
    expr(b.limitCount, cx, level);
    into(b.intoClause, cx);
    return outputs;
  } finally {
    cx.depth--;
  }
}

function setOperation(l: Col[], r: Col[]): Col[] {
  if (l.length === r.length && !l.some((c) => c.wide) && !r.some((c) => c.wide)) {
    return l.map((c, i) => ({ name: c.name, lin: merge([c.lin, (r[i] as Col).lin], "any") }));
  }
  // Column positions cannot be paired: every output may come from any input column.
  const all = asUnknown(
    merge(
      [...l, ...r].map((c) => c.lin),
      "any",
    ),
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

export function targetList(items: unknown[], cx: Cx, level: Scope): Col[] {
  const out: Col[] = [];
  let shifted = false;
  for (const item of items) {
    const rt = bodyOf(item, "ResTarget");
    if (!rt) continue;
    const expanded = starTarget(rt.val, cx, level);
    if (expanded) {
      for (const c of expanded) {
        out.push(shifted ? { ...c, lin: asUnknown(c.lin) } : c);
        if (c.wide) shifted = true;
      }
      continue;
    }
    const lin = expr(rt.val, cx, level);
    // After a `*` of unknown width, positions no longer line up with what the client receives.
    out.push({ name: str(rt.name) ?? figureName(rt.val), lin: shifted ? asUnknown(lin) : lin });
  }
  return out;
}

function wideCol(lin: Lin): Col {
  return { name: "*", lin: asUnknown(asDerived(lin)), wide: true };
}

function expandSource(src: Source, level: Scope, cx: Cx): Col[] {
  const lin = wholeRow(src);
  recordWhole(src, level, lin, cx);
  return starOf(src) ?? [wideCol(lin)];
}

/** `*`, `t.*`, `(t).*`, `(f(x)).*` in a target list; undefined for any other target. */
function starTarget(v: unknown, cx: Cx, level: Scope): Col[] | undefined {
  const u = unwrap(v);
  if (!u) return undefined;
  if (u[0] === "ColumnRef") {
    const fields = list(u[1].fields);
    const last = unwrap(fields[fields.length - 1]);
    if (!last || last[0] !== "A_Star") return undefined;
    const names = nameList(fields.slice(0, -1)) ?? [];
    if (names.length === 0) {
      const out: Col[] = [];
      for (const item of level.items) {
        for (const s of item.sources) if (!s.priority && s.children === null) recordWhole(s, level, wholeRow(s), cx);
        const cols = item.star();
        out.push(...(cols ?? [wideCol(item.whole())]));
      }
      if (level.items.length === 0) cx.facts.addUnknown("* without a FROM clause");
      return out;
    }
    const tail = names.slice(-2);
    const found = tail.length === 2 ? findQualified(level, tail[1] as string, tail[0] as string) : findQualified(level, tail[0] as string);
    if (!found) {
      if (!level.lenient) cx.facts.addUnknown(`${names.join(".")}.* could not be resolved`);
      return [wideCol(UNKNOWN)];
    }
    return expandSource(found.src, found.level, cx);
  }
  if (u[0] === "A_Indirection") {
    const ind = list(u[1].indirection);
    const last = unwrap(ind[ind.length - 1]);
    if (!last || last[0] !== "A_Star") return undefined;
    const arg = unwrap(u[1].arg);
    if (ind.length === 1 && arg && arg[0] === "ColumnRef") {
      const names = nameList(arg[1].fields);
      const found = names && names.length === 1 ? findQualified(level, names[0] as string) : undefined;
      if (found) return expandSource(found.src, found.level, cx);
    }
    // (composite).* of a function result or column: the number of columns is not known here.
    const lin = merge([expr(u[1].arg, cx, level), expr(ind.slice(0, -1), cx, level)], true);
    return [wideCol(lin)];
  }
  return undefined;
}

// ---------------------------------------------------------------- FROM

function fromItem(n: unknown, cx: Cx, level: Scope): FromItem {
  const u = unwrap(n);
  const [type, b] = u ?? ["RangeVar", rec(n) ?? {}];
  switch (type) {
    case "RangeVar":
      return rangeVar(b, cx, level);
    case "RangeSubselect":
      return rangeSubselect(b, cx, level);
    case "JoinExpr":
      return join(b, cx, level);
    case "RangeFunction":
      return rangeFunction(b, cx, level);
    case "RangeTableSample": {
      const item = fromItem(b.relation, cx, level);
      expr(b.method, cx, level);
      expr(b.args, cx, level);
      expr(b.repeatable, cx, level);
      return item;
    }
    case "RangeTableFunc":
      return xmlTable(b, cx, level);
    case "JsonTable":
      return jsonTable(b, cx, level);
    default: {
      cx.facts.addUnknown(`FROM item ${type} is not modelled`);
      const lin = asUnknown(expr(b, cx, level));
      const src = makeSource({ refname: null, extra: lin, open: true });
      level.addSource(src);
      return single(src);
    }
  }
}

export function baseSource(res: ResolvedRelation, refname: string, colnames: string[], target: boolean, aliased: boolean): Source {
  const base = { schema: res.lineageSchema, table: res.ref.name };
  let cols: Col[] | null = null;
  let open = false;
  if (res.columns) {
    cols = res.columns.map((c, i) => ({ name: colnames[i] ?? c, lin: plain({ ...base, column: c }) }));
  } else if (colnames.length > 0) {
    // Renamed columns of a relation whose column order is unknown: which base column each is cannot be told.
    const lin: Lin = { cols: [{ ...base, column: "*" }], derived: false, unknown: true };
    cols = colnames.map((name) => ({ name, lin }));
    open = true;
  }
  // PostgreSQL matches `schema.table.col` against the relation's actual schema.
  const schemas = aliased ? [] : res.lineageSchema !== null ? [res.lineageSchema] : res.ref.candidates;
  return makeSource({ refname, schemas, cols, open, base, target: target ? res.ref : null });
}

function rangeVar(rv: Rec, cx: Cx, level: Scope): FromItem {
  const schema = str(rv.schemaname);
  const name = str(rv.relname) ?? "";
  const alias = aliasOf(rv.alias);
  if (schema === undefined) {
    const def = level.ctes?.find(name);
    if (def) {
      const src = colsSource(alias?.name ?? name, def.cols, alias?.colnames ?? []);
      level.addSource(src);
      return single(src);
    }
  }
  const res = resolveRangeVar(rv, "read", cx.env);
  cx.facts.addTable(res.ref);
  const src = baseSource(res, alias?.name ?? name, alias?.colnames ?? [], false, alias?.name !== undefined);
  level.addSource(src);
  return single(src);
}

function rangeSubselect(b: Rec, cx: Cx, level: Scope): FromItem {
  const sub = unwrap(b.subquery);
  // Only a LATERAL subquery may refer to earlier FROM items of the same level.
  const outer = b.lateral === true ? level : level.parent;
  const outs = sub ? cx.nested(sub[0], sub[1], outer, level.ctes) : [];
  const alias = aliasOf(b.alias);
  const src = colsSource(alias?.name ?? null, outs, alias?.colnames ?? []);
  level.addSource(src);
  return single(src);
}

function join(b: Rec, cx: Cx, level: Scope): FromItem {
  const left = fromItem(b.larg, cx, level);
  const right = fromItem(b.rarg, cx, level);
  expr(b.quals, cx, level);
  let using = nameList(b.usingClause) ?? [];
  if (b.isNatural === true) {
    const ls = left.star();
    const rs = right.star();
    if (ls && rs) using = ls.filter((c) => rs.some((r) => r.name === c.name)).map((c) => c.name);
    // Without the catalog the merged names are unknown; unqualified references then come out ambiguous.
  }
  const jointype = str(b.jointype);
  const usingCols: Col[] = using.map((name) => {
    const l = resolveAmong(left.sources, level, name, cx);
    const r = resolveAmong(right.sources, level, name, cx);
    const lin = jointype === "JOIN_FULL" ? merge([l, r], true) : jointype === "JOIN_RIGHT" ? r : l;
    return { name, lin };
  });
  const sources = [...left.sources, ...right.sources];
  const usingAlias = aliasOf(b.join_using_alias);
  if (usingCols.length > 0) {
    const u = makeSource({ refname: usingAlias?.name ?? null, qualified: usingAlias !== undefined, priority: true, cols: usingCols });
    level.addSource(u);
    sources.push(u);
  }
  const star = (): Col[] | null => {
    const ls = left.star();
    const rs = right.star();
    if (!ls || !rs) return null;
    return [...usingCols, ...ls.filter((c) => !using.includes(c.name)), ...rs.filter((c) => !using.includes(c.name))];
  };
  const whole = (): Lin => merge([left.whole(), right.whole()], true);
  const alias = aliasOf(b.alias);
  if (alias?.name) {
    // The alias hides the names of the joined relations.
    for (const s of sources) s.qualified = false;
    const known = star();
    const joined =
      known && alias.colnames.length > 0
        ? makeSource({ refname: alias.name, unqualified: false, cols: rename(known, alias.colnames) })
        : makeSource({ refname: alias.name, unqualified: false, children: [...sources] });
    level.addSource(joined);
    sources.push(joined);
  }
  return { sources, star, whole };
}

function rangeFunction(b: Rec, cx: Cx, level: Scope): FromItem {
  const alias = aliasOf(b.alias);
  const cols: Col[] = [];
  const args: Lin[] = [];
  let known = true;
  let firstName: string | undefined;
  const fns = list(b.functions);
  const rowsFrom = b.is_rowsfrom === true;
  for (const f of fns) {
    const items = list(bodyOf(f, "List")?.items);
    const call = items[0];
    const fname = unwrap(call)?.[0] === "FuncCall" ? (nameList(bodyOf(call, "FuncCall")?.funcname) ?? []).at(-1) : undefined;
    firstName ??= fname;
    // Functions in FROM may always refer to earlier FROM items.
    const lin = asDerived(expr(call, cx, level));
    args.push(lin);
    let defs = list(bodyOf(items[1], "List")?.items);
    if (defs.length === 0 && !rowsFrom) defs = list(b.coldeflist);
    if (defs.length > 0) {
      for (const d of defs) cols.push({ name: str(bodyOf(d, "ColumnDef")?.colname) ?? "?column?", lin });
    } else {
      known = false;
      // A scalar result is named after the alias (or the function); a composite one is not known here.
      const name = !rowsFrom && fns.length === 1 ? (alias?.colnames[0] ?? alias?.name ?? fname ?? "?column?") : (fname ?? "?column?");
      cols.push({ name, lin });
    }
  }
  if (b.ordinality === true) cols.push({ name: "ordinality", lin: CONSTANT });
  const src = makeSource({
    refname: alias?.name ?? firstName ?? null,
    cols: rename(cols, alias?.colnames ?? []),
    open: !known,
    extra: known ? null : merge(args, true),
  });
  level.addSource(src);
  return single(src);
}

function xmlTable(b: Rec, cx: Cx, level: Scope): FromItem {
  const input = merge([expr(b.docexpr, cx, level), expr(b.rowexpr, cx, level), expr(b.namespaces, cx, level)], true);
  const cols: Col[] = [];
  for (const c of list(b.columns)) {
    const col = bodyOf(c, "RangeTableFuncCol");
    if (!col) continue;
    const lin = col.for_ordinality === true ? CONSTANT : merge([input, expr(col.colexpr, cx, level), expr(col.coldefexpr, cx, level)], true);
    cols.push({ name: str(col.colname) ?? "?column?", lin });
  }
  const alias = aliasOf(b.alias);
  const src = makeSource({ refname: alias?.name ?? "xmltable", cols: rename(cols, alias?.colnames ?? []) });
  level.addSource(src);
  return single(src);
}

function jsonTable(b: Rec, cx: Cx, level: Scope): FromItem {
  const input = merge([expr(b.context_item, cx, level), expr(b.pathspec, cx, level), expr(b.passing, cx, level)], true);
  expr(b.on_error, cx, level);
  const cols: Col[] = [];
  const walk = (columns: unknown[]): void => {
    for (const c of columns) {
      const col = bodyOf(c, "JsonTableColumn");
      if (!col) continue;
      if (str(col.coltype) === "JTC_NESTED") {
        expr(col.pathspec, cx, level);
        walk(list(col.columns));
        continue;
      }
      const own = merge([expr(col.pathspec, cx, level), expr(col.on_empty, cx, level), expr(col.on_error, cx, level)], true);
      const lin = str(col.coltype) === "JTC_FOR_ORDINALITY" ? CONSTANT : merge([input, own], true);
      cols.push({ name: str(col.name) ?? "?column?", lin });
    }
  };
  walk(list(b.columns));
  const alias = aliasOf(b.alias);
  const src = makeSource({ refname: alias?.name ?? "json_table", cols: rename(cols, alias?.colnames ?? []) });
  level.addSource(src);
  return single(src);
}

// ---------------------------------------------------------------- INSERT / UPDATE / DELETE / MERGE

interface Target {
  res: ResolvedRelation;
  src: Source;
  level: Scope;
}

function target(b: Rec, cx: Cx, outer: Scope | null, ctes: CteEnv | null): Target {
  const rv = rec(b.relation) ?? {};
  // The target of a write is always a relation, never a CTE of the same name.
  const res = resolveRangeVar(rv, "write", cx.env);
  cx.facts.addTable(res.ref);
  const alias = aliasOf(rv.alias);
  const src = baseSource(res, alias?.name ?? res.ref.name, [], true, alias?.name !== undefined);
  const level = new Scope(outer, ctes);
  level.addSource(src);
  level.items.push(single(src));
  return { res, src, level };
}

function writtenColumn(t: Target, rt: Rec | undefined, cx: Cx): void {
  if (!rt) return;
  const name = str(rt.name);
  if (name !== undefined) cx.facts.addColumn({ schema: t.res.lineageSchema, table: t.res.ref.name, column: name });
  expr(rt.indirection, cx, t.level);
}

function setList(items: unknown[], t: Target, cx: Cx): void {
  for (const item of items) {
    const rt = bodyOf(item, "ResTarget");
    writtenColumn(t, rt, cx);
    expr(rt?.val, cx, t.level);
  }
}

/** Whether a WHERE restricts rows: it must refer to a column of this statement's own relations. */
function where(w: unknown, t: Target, cx: Cx): void {
  if (w === undefined) {
    cx.facts.noteWhere(false);
    return;
  }
  const before = t.level.hits;
  expr(w, cx, t.level);
  const currentOf = unwrap(w)?.[0] === "CurrentOfExpr";
  cx.facts.noteWhere(currentOf || t.level.hits > before);
}

function returning(v: unknown, t: Target, cx: Cx): Col[] {
  const rc = bodyOf(v, "ReturningClause");
  if (!rc) return [];
  let oldName = "old";
  let newName = "new";
  for (const o of list(rc.options)) {
    const opt = bodyOf(o, "ReturningOption");
    if (str(opt?.option) === "RETURNING_OPTION_OLD") oldName = str(opt?.value) ?? oldName;
    if (str(opt?.option) === "RETURNING_OPTION_NEW") newName = str(opt?.value) ?? newName;
  }
  for (const refname of [oldName, newName]) {
    t.level.addSource({ ...t.src, refname, schemas: [], unqualified: false, qualified: true });
  }
  return targetList(list(rc.exprs), cx, t.level);
}

function insert(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null): Col[] {
  const ctes = withClause(b.withClause, cx, outer, parent);
  const t = target(b, cx, outer, ctes);
  for (const c of list(b.cols)) writtenColumn(t, bodyOf(c, "ResTarget"), cx);
  const sel = unwrap(b.selectStmt);
  // The source query does not see the target table's columns.
  if (sel) cx.nested(sel[0], sel[1], outer, ctes);
  const oc = bodyOf(b.onConflictClause, "OnConflictClause");
  if (oc) {
    const infer = bodyOf(oc.infer, "InferClause");
    for (const e of list(infer?.indexElems)) {
      const ie = bodyOf(e, "IndexElem");
      const name = str(ie?.name);
      if (name !== undefined) cx.facts.addColumn({ schema: t.res.lineageSchema, table: t.res.ref.name, column: name });
      expr(ie?.expr, cx, t.level);
    }
    expr(infer?.whereClause, cx, t.level);
    // `excluded` is the proposed row: its columns are the target's, but not a read of stored rows.
    t.level.addSource({ ...t.src, refname: "excluded", schemas: [], unqualified: false, target: null });
    setList(list(oc.targetList), t, cx);
    expr(oc.whereClause, cx, t.level);
  }
  return returning(b.returningClause, t, cx);
}

function update(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null): Col[] {
  const ctes = withClause(b.withClause, cx, outer, parent);
  const t = target(b, cx, outer, ctes);
  for (const item of list(b.fromClause)) t.level.items.push(fromItem(item, cx, t.level));
  setList(list(b.targetList), t, cx);
  where(b.whereClause, t, cx);
  return returning(b.returningClause, t, cx);
}

function del(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null): Col[] {
  const ctes = withClause(b.withClause, cx, outer, parent);
  const t = target(b, cx, outer, ctes);
  for (const item of list(b.usingClause)) t.level.items.push(fromItem(item, cx, t.level));
  where(b.whereClause, t, cx);
  return returning(b.returningClause, t, cx);
}

function mergeStmt(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null): Col[] {
  const ctes = withClause(b.withClause, cx, outer, parent);
  const t = target(b, cx, outer, ctes);
  t.level.items.push(fromItem(b.sourceRelation, cx, t.level));
  expr(b.joinCondition, cx, t.level);
  for (const w of list(b.mergeWhenClauses)) {
    const wc = bodyOf(w, "MergeWhenClause");
    if (!wc) continue;
    expr(wc.condition, cx, t.level);
    const cmd = str(wc.commandType);
    if (cmd === "CMD_INSERT") {
      for (const c of list(wc.targetList)) writtenColumn(t, bodyOf(c, "ResTarget"), cx);
      expr(wc.values, cx, t.level);
    } else {
      setList(list(wc.targetList), t, cx);
    }
  }
  return returning(b.returningClause, t, cx);
}
