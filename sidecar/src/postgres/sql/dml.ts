// INSERT / UPDATE / DELETE / MERGE: the target is written (and read when its columns are used), the
// rest is read; RETURNING gives the outputs. What the written values are made of is recorded apart from
// what only chooses rows (write_inputs).
import { CONSTANT, type Col, type Lin } from "./lineage.js";
import { bodyOf, list, rec, str, unwrap, type Rec } from "./node.js";
import { ownRowsOnly, resolveRangeVar, type ResolvedRelation } from "./relations.js";
import { Scope, type CteEnv, type Cx, type Source } from "./scope.js";
import { expr } from "./expr.js";
import { aliasOf, baseSource, fromItem, single } from "./from.js";
import { withClause } from "./with.js";
import { targetList } from "./targets.js";
import { addRows, conjuncts, relate, rowsOf, sink } from "./relate.js";
import { settle } from "./settle.js";
import { restriction } from "./where.js";
import type { ColumnRef } from "./types.js";

export interface Target {
  res: ResolvedRelation;
  src: Source;
  level: Scope;
}

function target(b: Rec, cx: Cx, outer: Scope | null, ctes: CteEnv | null, inserting = false): Target {
  const rv = rec(b.relation) ?? {};
  // The target of a write is always a relation, never a CTE of the same name. An INSERT has no ONLY: it puts
  // rows into the table named, or into a partition of a partitioned one, never into an inheritance child.
  const named = resolveRangeVar(rv, "write", cx.env);
  const res = inserting ? ownRowsOnly(named, cx.env) : named;
  cx.facts.addTable(res.ref);
  const alias = aliasOf(rv.alias);
  const src = baseSource(res, alias?.name ?? res.ref.name, [], true, alias?.name !== undefined);
  const level = new Scope(outer, ctes);
  level.addSource(src);
  level.items.push(single(src));
  return { res, src, level };
}

/** A written column; a subscript (`SET a[i] = ...`) decides where the value is stored, so it is stored too. */
function writtenColumn(t: Target, rt: Rec | undefined, cx: Cx): void {
  if (!rt) return;
  const name = str(rt.name);
  if (name !== undefined) cx.facts.addColumn({ schema: t.res.lineageSchema, table: t.res.ref.name, column: name });
  sink(t.level, expr(rt.indirection, cx, t.level), (l) => cx.facts.addWriteInput(l));
}

/**
 * A value stored in column `name` of the target (undefined: which column is not known). Its lineage is a
 * write input, except the target column itself: written back where it was read from (a payments upsert's
 * `SET card_number = EXCLUDED.card_number`), it is masked there as before. Into any other column, the
 * target's own masked column is stored like any other table's.
 */
function storedIn(t: Target, name: string | undefined, lin: Lin, cx: Cx): void {
  const schema = t.res.lineageSchema;
  const own = (c: ColumnRef) => name !== undefined && schema !== null && c.schema === schema && c.table === t.res.ref.name && c.column === name;
  // Recorded again when the statement's level ends, with what the rows chosen relate the value to.
  sink(t.level, lin, (l) => cx.facts.addWriteInput(l.cols.some(own) ? { ...l, cols: l.cols.filter((c) => !own(c)) } : l));
}

function setList(items: unknown[], t: Target, cx: Cx): void {
  for (const item of items) {
    const rt = bodyOf(item, "ResTarget");
    writtenColumn(t, rt, cx);
    storedIn(t, str(rt?.name), expr(rt?.val, cx, t.level), cx);
  }
}

/** The target columns values go to, in order: the column list, else the table's columns (undefined: not known). */
function insertColumns(cols: unknown[], t: Target): (string | undefined)[] | undefined {
  if (cols.length > 0) return cols.map((c) => str(bodyOf(c, "ResTarget")?.name));
  return t.res.columns;
}

/** The WHERE of an UPDATE or DELETE; returns what chose the row of `WHERE CURRENT OF` (CONSTANT otherwise). */
function where(w: unknown, t: Target, cx: Cx): Lin {
  if (w === undefined) {
    cx.facts.noteWhere(false);
    return CONSTANT;
  }
  const current = bodyOf(w, "CurrentOfExpr");
  cx.facts.noteWhere(restriction(w, t, cx).yes || current !== undefined);
  return current ? cursorRows(current, cx) : CONSTANT;
}

/**
 * `WHERE CURRENT OF cur` changes the row the cursor stands on: one of the rows its query chose. Chosen by a
 * masked value (`DECLARE cur CURSOR FOR SELECT id FROM orders WHERE id = <part of an SSN>`), FETCH sends
 * that row masked, and the UPDATE's `RETURNING id` would send it in clear. So what chose the cursor's rows
 * chooses this statement's row, as a LIMIT would: every output and the count carry it.
 */
function cursorRows(current: Rec, cx: Cx): Lin {
  const name = str(current.cursor_name);
  // PostgreSQL finds the cursor when the statement runs: a PREPAREd one may run on a cursor declared after it.
  const c = name === undefined || cx.preparing ? undefined : cx.cursor(name);
  if (!c) {
    cx.facts.addUnknown(cx.preparing ? "WHERE CURRENT OF in a prepared statement names the cursor open when it runs" : `cursor "${name ?? "$"}" is not known`);
    return { cols: [], derived: true, unknown: true };
  }
  const rows: Lin = { cols: c.row_count_inputs, derived: true, unknown: c.row_count_unknown };
  if (rows.cols.length > 0 || rows.unknown) {
    // The cursor's tables are read through it, as a temporary relation's are (the policy's masks go by them).
    for (const t of c.tables) cx.facts.addTable({ ...t, access: "read", candidates: [...t.candidates] });
    for (const col of rows.cols) cx.facts.addColumn({ ...col });
  }
  return rows;
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

export function insert(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null): Col[] {
  const ctes = withClause(b.withClause, cx, outer, parent);
  const t = target(b, cx, outer, ctes, true);
  for (const c of list(b.cols)) writtenColumn(t, bodyOf(c, "ResTarget"), cx);
  const sel = unwrap(b.selectStmt);
  // The source query does not see the target table's columns. Its columns are the stored values, by
  // position; after a `*` of unknown width, which column each goes to is not known.
  if (sel) {
    const names = insertColumns(list(b.cols), t);
    let shifted = false;
    const source = cx.nested(sel[0], sel[1], outer, ctes);
    source.forEach((c, i) => {
      if (c.wide) shifted = true;
      storedIn(t, shifted ? undefined : names?.[i], c.lin, cx);
    });
    // As many rows are inserted (and counted in the command tag) as the query gives.
    addRows(t.level, rowsOf(source));
  }
  const oc = bodyOf(b.onConflictClause, "OnConflictClause");
  if (oc) {
    const infer = bodyOf(oc.infer, "InferClause");
    for (const e of list(infer?.indexElems)) {
      const ie = bodyOf(e, "IndexElem");
      const name = str(ie?.name);
      if (name !== undefined) cx.facts.addColumn({ schema: t.res.lineageSchema, table: t.res.ref.name, column: name });
      expr(ie?.expr, cx, t.level);
    }
    for (const c of conjuncts(infer?.whereClause)) relate(t.level, expr(c, cx, t.level));
    // `excluded` is the proposed row: its columns are the target's, but not a read of stored rows.
    t.level.addSource({ ...t.src, refname: "excluded", schemas: [], unqualified: false, target: null });
    setList(list(oc.targetList), t, cx);
    for (const c of conjuncts(oc.whereClause)) relate(t.level, expr(c, cx, t.level));
  }
  return settle(t.level, returning(b.returningClause, t, cx));
}

export function update(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null): Col[] {
  const ctes = withClause(b.withClause, cx, outer, parent);
  const t = target(b, cx, outer, ctes);
  for (const item of list(b.fromClause)) t.level.items.push(fromItem(item, cx, t.level));
  setList(list(b.targetList), t, cx);
  const current = where(b.whereClause, t, cx);
  return settle(t.level, returning(b.returningClause, t, cx), current);
}

export function del(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null): Col[] {
  const ctes = withClause(b.withClause, cx, outer, parent);
  const t = target(b, cx, outer, ctes);
  for (const item of list(b.usingClause)) t.level.items.push(fromItem(item, cx, t.level));
  const current = where(b.whereClause, t, cx);
  return settle(t.level, returning(b.returningClause, t, cx), current);
}

export function mergeStmt(b: Rec, cx: Cx, outer: Scope | null, parent: CteEnv | null): Col[] {
  const ctes = withClause(b.withClause, cx, outer, parent);
  const t = target(b, cx, outer, ctes);
  // The server adds MERGE's target to the namespace after its source, so RETURNING * lists the source's
  // columns first; expanded target-first, every mask by position would land on the wrong column.
  t.level.items.unshift(fromItem(b.sourceRelation, cx, t.level));
  const on = restriction(b.joinCondition, t, cx);
  for (const w of list(b.mergeWhenClauses)) {
    const wc = bodyOf(w, "MergeWhenClause");
    if (!wc) continue;
    const own = restriction(wc.condition, t, cx).yes;
    const cmd = str(wc.commandType);
    // An UPDATE or DELETE action changes the target rows the ON condition matches (WHEN MATCHED) or does not
    // (WHEN NOT MATCHED BY SOURCE): `ON true`, or an ON on the source alone, leaves every row in play, as an
    // UPDATE without WHERE does, unless the action's own AND condition names the target's rows.
    // WHEN NOT MATCHED BY SOURCE takes the target rows ON does not match: its negation must restrict them.
    const bySource = str(wc.matchKind) === "MERGE_WHEN_NOT_MATCHED_BY_SOURCE";
    if (cmd === "CMD_UPDATE" || cmd === "CMD_DELETE") cx.facts.noteWhere((bySource ? on.not : on.yes) || own);
    if (cmd === "CMD_INSERT") {
      const targets = list(wc.targetList);
      for (const c of targets) writtenColumn(t, bodyOf(c, "ResTarget"), cx);
      const names = insertColumns(targets, t);
      list(wc.values).forEach((v, i) => storedIn(t, names?.[i], expr(v, cx, t.level), cx));
    } else {
      setList(list(wc.targetList), t, cx);
    }
  }
  return settle(t.level, returning(b.returningClause, t, cx));
}
