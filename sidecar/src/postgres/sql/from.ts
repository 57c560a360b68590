// FROM items: tables, CTE references, subqueries, joins, functions, XMLTABLE, JSON_TABLE. Each adds
// its names to the query level and tells how `*` expands over it.
import { CONSTANT, asDerived, asUnknown, merge, plain, type Col, type Lin } from "./lineage.js";
import { bodyOf, list, nameList, rec, str, unwrap, type Rec } from "./node.js";
import { resolveRangeVar, type ResolvedRelation } from "./relations.js";
import { liveCol, resolveAmong, rowSlot, starOf, wholeRow } from "./name-resolution.js";
import { MAX_DEPTH, TooDeep, makeSource, type Cx, type FromItem, type Scope, type Source } from "./scope.js";
import { expr, fromFunction } from "./expr.js";
import { addRows, conjuncts, relate, rowsOf } from "./relate.js";

export interface Alias {
  name: string | undefined;
  colnames: string[];
}

export function aliasOf(v: unknown): Alias | undefined {
  const a = bodyOf(v, "Alias");
  if (!a) return undefined;
  return { name: str(a.aliasname), colnames: nameList(a.colnames) ?? [] };
}

/** Positional renaming (alias column lists); positions after a `*` of unknown width cannot be named. */
export function rename(cols: Col[], names: string[]): Col[] {
  if (names.length === 0) return cols;
  let shifted = false;
  return cols.map((c, i) => {
    if (c.wide) shifted = true;
    return !shifted && i < names.length ? { ...c, name: names[i] as string } : c;
  });
}

/** A FROM item made of query output columns (subquery, CTE reference). */
export function colsSource(refname: string | null, outs: Col[] | null, colnames: string[]): Source {
  if (!outs) return makeSource({ refname, cols: null, derived: true });
  const firstWide = outs.findIndex((c) => c.wide);
  if (firstWide < 0) return makeSource({ refname, cols: rename(outs, colnames), derived: true });
  const rest = merge(outs.slice(firstWide).map((c) => c.lin), true);
  return makeSource({ refname, cols: rename(outs.slice(0, firstWide), colnames), open: true, extra: asUnknown(rest), derived: true });
}

export function single(src: Source): FromItem {
  return { sources: [src], star: () => starOf(src), whole: () => wholeRow(src) };
}

export function fromItem(n: unknown, cx: Cx, level: Scope): FromItem {
  if (++cx.depth > MAX_DEPTH) throw new TooDeep();
  try {
    return fromItemOf(n, cx, level);
  } finally {
    cx.depth--;
  }
}

function fromItemOf(n: unknown, cx: Cx, level: Scope): FromItem {
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
      // The sampling percentage and seed decide which rows there are, and which of the table's rows they are:
      // each row is kept by its place and by them, so with a masked seed (`REPEATABLE (<part of an SSN>)`) the
      // ids kept name the seed, as a WHERE comparing the rows with it would. Made of a value, they relate it
      // to every column of the sampled table.
      const sample = merge([expr(b.args, cx, level), expr(b.repeatable, cx, level)], true);
      addRows(level, sample);
      if (sample !== CONSTANT) for (const src of item.sources) relate(level, merge([rowSlot(src, level), sample], true));
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
  // A temporary relation's every column may hold any value stored in it (temporary.ts).
  const extra: Lin | null = res.holds ? { cols: res.holds.cols, derived: true, unknown: res.holds.unknown } : null;
  return makeSource({ refname, schemas, cols, open, base, extra, target: target ? res.ref : null });
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
      if (def.rows) addRows(level, def.rows);
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
  addRows(level, rowsOf(outs));
  const alias = aliasOf(b.alias);
  const src = colsSource(alias?.name ?? null, outs, alias?.colnames ?? []);
  level.addSource(src);
  return single(src);
}

function join(b: Rec, cx: Cx, level: Scope): FromItem {
  const left = fromItem(b.larg, cx, level);
  const right = fromItem(b.rarg, cx, level);
  for (const c of conjuncts(b.quals)) relate(level, expr(c, cx, level));
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
    // USING (x) is ON l.x = r.x: the two columns are related.
    relate(level, merge([l, r], true));
    const lin = jointype === "JOIN_FULL" ? merge([l, r], true) : jointype === "JOIN_RIGHT" ? r : l;
    return { name, lin };
  });
  const sources = [...left.sources, ...right.sources];
  const usingAlias = aliasOf(b.join_using_alias);
  if (usingCols.length > 0) {
    const u = makeSource({ refname: usingAlias?.name ?? null, qualified: usingAlias !== undefined, priority: true, cols: usingCols, derived: true });
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
    // Renamed, the joined columns are references to the joined sides' columns: their slots.
    const joined =
      known && alias.colnames.length > 0
        ? makeSource({ refname: alias.name, unqualified: false, cols: rename(withSlots(known, sources, level), alias.colnames), derived: true })
        : makeSource({ refname: alias.name, unqualified: false, children: [...sources] });
    level.addSource(joined);
    sources.push(joined);
    // `*` gives the columns under the names the alias list gave them, as the server sends them.
    if (joined.cols) {
      const renamed = joined.cols;
      return { sources, star: () => renamed, whole };
    }
  }
  return { sources, star, whole };
}

/** Columns of these sources (a `*` expansion) as references: each with its slot at `level`. */
export function withSlots(cols: Col[], sources: readonly Source[], level: Scope): Col[] {
  const owner = new Map<Col, Source>();
  for (const s of sources) for (const c of s.cols ?? []) owner.set(c, s);
  return cols.map((c) => {
    const src = owner.get(c);
    return src ? liveCol(src, level, c) : c;
  });
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
    const lin = asDerived(fromFunction(call, cx, level));
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
  // The functions' arguments decide how many rows there are, and so the ordinal numbers.
  const rows = merge(args, true);
  // ROWS FROM runs its functions in step and pads the shorter ones with NULLs: in `ROWS FROM (generate_series(1,
  // <masked>), generate_series(1, 1000)) r(a, b)` the first `b` beside a NULL `a` is the masked value plus one.
  // So every column is made of every function's arguments.
  if (fns.length > 1 && rows !== CONSTANT) for (const c of cols) c.lin = merge([c.lin, rows], true);
  addRows(level, rows);
  if (b.ordinality === true) cols.push({ name: "ordinality", lin: rows === CONSTANT ? CONSTANT : asDerived(rows) });
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
  addRows(level, input);
  const cols: Col[] = [];
  for (const c of list(b.columns)) {
    const col = bodyOf(c, "RangeTableFuncCol");
    if (!col) continue;
    const lin = col.for_ordinality === true ? input : merge([input, expr(col.colexpr, cx, level), expr(col.coldefexpr, cx, level)], true);
    cols.push({ name: str(col.colname) ?? "?column?", lin });
  }
  const alias = aliasOf(b.alias);
  const src = makeSource({ refname: alias?.name ?? "xmltable", cols: rename(cols, alias?.colnames ?? []) });
  level.addSource(src);
  return single(src);
}

function jsonTable(b: Rec, cx: Cx, level: Scope): FromItem {
  const input = merge([expr(b.context_item, cx, level), expr(b.pathspec, cx, level), expr(b.passing, cx, level)], true);
  addRows(level, input);
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
      const lin = str(col.coltype) === "JTC_FOR_ORDINALITY" ? input : merge([input, own], true);
      cols.push({ name: str(col.name) ?? "?column?", lin });
    }
  };
  walk(list(b.columns));
  const alias = aliasOf(b.alias);
  const src = makeSource({ refname: alias?.name ?? "json_table", cols: rename(cols, alias?.colnames ?? []) });
  level.addSource(src);
  return single(src);
}
