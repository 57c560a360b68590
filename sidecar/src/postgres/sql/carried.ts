// Statements that run what another statement defined or planned: EXECUTE runs a PREPARE, FETCH and MOVE
// run a DECLARE's query, COMMIT runs the queries of WITH HOLD cursors, EXPLAIN ANALYZE runs its statement
// and reports on the rows. Each carries the facts of what runs.
import { CONSTANT, merge, type Col } from "./lineage.js";
import { bodyOf, constantOf, constText, list, str, stringNode, unwrap, type Rec } from "./node.js";
import { rowsOf } from "./relate.js";
import { Scope, type Cx } from "./scope.js";
import { expr } from "./expr.js";
import type { StatementFacts } from "./types.js";

function inner(q: unknown, cx: Cx): Col[] {
  const u = unwrap(q);
  return u ? cx.nested(u[0], u[1], null, null) : [];
}

function explainAnalyze(options: unknown[]): boolean {
  for (const o of options) {
    const d = bodyOf(o, "DefElem");
    if (str(d?.defname) !== "analyze") continue;
    if (d?.arg === undefined) return true;
    const s = stringNode(d.arg);
    if (s !== undefined) return !["false", "off", "0", "no", "f", "n"].includes(s.toLowerCase());
    const u = unwrap(d.arg);
    if (u?.[0] === "Boolean") return u[1].boolval === true;
    if (u?.[0] === "Integer") return u[1].ival !== undefined && u[1].ival !== 0;
    const c = constantOf(d.arg);
    return c ? constText(c) !== "off" : true;
  }
  return false;
}

export function explain(b: Rec, cx: Cx): Col[] {
  const f = cx.facts;
  const analyze = explainAnalyze(list(b.options));
  f.explainAnalyze = analyze;
  const outs = inner(b.query, cx);
  if (analyze) {
    // The plan of a statement that ran counts the rows each node chose, filtered out and looped over
    // (`actual rows=607`): like count(*), those numbers are made of whatever chose the rows, at any level.
    // So the plan carries every column the statement reads, and what its results are made of.
    const lin = merge([...outs.map((o) => o.lin), rowsOf(outs), { cols: f.readColumns(), derived: true, unknown: false }], true);
    return [{ name: "QUERY PLAN", lin: lin.cols.length === 0 && !lin.unknown ? CONSTANT : lin }];
  }
  // Planned, not run: nothing is written and no setting changes, though the plan still names the relations.
  f.writes = false;
  f.clearWriteInputs();
  f.ddl = null;
  f.settings.length = 0;
  f.roleChange = false;
  return [{ name: "QUERY PLAN", lin: CONSTANT }];
}

export function execute(b: Rec, cx: Cx): Col[] {
  const name = str(b.name) ?? "";
  expr(b.params, cx, new Scope(null, null));
  const p = cx.prepared(name);
  if (!p) {
    cx.facts.addUnknown(`prepared statement "${name}" is not known`);
    return [];
  }
  cx.facts.absorb(p);
  countCarried(p, cx);
  return p.outputs.map((o) => ({ name: o.name, lin: { cols: o.lineage, derived: o.derived, unknown: o.unknown } }));
}

/**
 * FETCH and MOVE both run the cursor's query: MOVE computes the rows it skips, so what that query reads
 * may reach an error or notice text, and its functions run. Only FETCH sends rows.
 */
export function fetch(b: Rec, cx: Cx): Col[] {
  const name = str(b.portalname) ?? "";
  const c = cx.cursor(name);
  if (!c) {
    cx.facts.addUnknown(`cursor "${name}" is not known`);
    return [];
  }
  cx.facts.absorb(c);
  // MOVE sends no row, yet its tag counts the rows it skipped; FETCH's counts the rows it sent.
  countCarried(c, cx);
  if (b.ismove === true) return [];
  return c.outputs.map((o) => ({ name: o.name, lin: { cols: o.lineage, derived: o.derived, unknown: o.unknown } }));
}

/** The rows of what runs are this statement's rows (not absorb's: COMMIT running a cursor reports none). */
function countCarried(f: StatementFacts, cx: Cx): void {
  cx.facts.countRows({ cols: f.row_count_inputs, derived: true, unknown: f.row_count_unknown });
}

/**
 * COMMIT (and PREPARE TRANSACTION, which refuses them) runs the query of every WITH HOLD cursor declared
 * in the transaction to completion, to keep its rows: an error or notice of that query is COMMIT's. Which
 * hold cursors were declared before this transaction (already kept, not run again) is not known here, so
 * every open one counts.
 */
export function commitRuns(b: Rec, cx: Cx): void {
  const kind = str(b.kind);
  if (kind !== "TRANS_STMT_COMMIT" && kind !== "TRANS_STMT_PREPARE") return;
  for (const c of cx.holdCursors()) cx.facts.absorb(c);
}
