// WITH clauses: which CTE names are visible where, and the columns each CTE produces.
import { CONSTANT, UNKNOWN, asUnknown, columnKey, merge, type Col, type Lin } from "./lineage.js";
import { bodyOf, list, nameList, rec, str, unwrap, type Rec } from "./node.js";
import { CteEnv, Scope, type CteDef, type Cx } from "./scope.js";
import { rowsOf } from "./relate.js";
import { expr } from "./expr.js";
import { rename } from "./from.js";

export function withClause(w: unknown, cx: Cx, outer: Scope | null, parent: CteEnv | null): CteEnv | null {
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
    for (const c of ctes) env.set(str(c.ctename) ?? "", cte(c, cx, outer, env));
    return env;
  }
  for (const c of ctes) env.set(str(c.ctename) ?? "", { cols: null });
  for (const c of ctes) env.set(str(c.ctename) ?? "", seed(c, cx, outer, env));
  // Lineage through a recursive reference grows until it stops changing; a chain of CTEs that refer
  // to later ones needs a pass per link. The cap bounds the work a hostile statement can cause.
  let previous = "";
  const passes = Math.min(ctes.length + 2, 16);
  for (let pass = 0; pass < passes; pass++) {
    // Alternate the direction so chains that point forward or backward both settle quickly.
    for (const c of pass % 2 === 0 ? ctes : [...ctes].reverse()) {
      env.set(str(c.ctename) ?? "", cte(c, cx, outer, env));
    }
    const now = ctes.map((c) => signature(env.find(str(c.ctename) ?? ""))).join("|");
    if (now === previous) return env;
    previous = now;
  }
  cx.facts.addUnknown("recursive CTE lineage did not converge");
  for (const c of ctes) {
    const def = env.find(str(c.ctename) ?? "");
    env.set(str(c.ctename) ?? "", { cols: def?.cols?.map((col) => ({ ...col, lin: asUnknown(col.lin) })) ?? null, rows: def?.rows ? asUnknown(def.rows) : undefined });
  }
  return env;
}

/** What a pass settled: columns and rows by lineage, and the outer columns they still wait on (relate.ts). */
function signature(def: CteDef | undefined): string {
  const lin = (l: Lin) => `${l.derived ? 1 : 0}${l.unknown ? 1 : 0}:${l.cols.map(columnKey).sort().join(",")}:${(l.slots ?? []).map((s) => s.id).sort().join(",")}`;
  return `${(def?.cols ?? []).map((c) => `${c.name}:${lin(c.lin)}`).join(";")}|${lin(def?.rows ?? CONSTANT)}`;
}

/** The non-recursive term of `WITH RECURSIVE r AS (base UNION [ALL] step)`. */
function seed(c: Rec, cx: Cx, outer: Scope | null, env: CteEnv): CteDef {
  const q = bodyOf(c.ctequery, "SelectStmt");
  if (!q || str(q.op) !== "SETOP_UNION") return { cols: null };
  const larg = rec(q.larg);
  if (!larg) return { cols: null };
  const outs = cx.nested("SelectStmt", larg, outer, env);
  return { cols: decorate(c, rename(outs, nameList(c.aliascolnames) ?? []), cx, outer, env), rows: rowsOf(outs) };
}

function cte(c: Rec, cx: Cx, outer: Scope | null, env: CteEnv): CteDef {
  const q = unwrap(c.ctequery);
  const outs = q ? cx.nested(q[0], q[1], outer, env) : [];
  return { cols: decorate(c, rename(outs, nameList(c.aliascolnames) ?? []), cx, outer, env), rows: rowsOf(outs) };
}

/** SEARCH and CYCLE add columns, visible in the recursive term too. */
function decorate(c: Rec, cols: Col[], cx: Cx, outer: Scope | null, env: CteEnv): Col[] {
  const byName = (names: string[] | undefined): Lin =>
    merge((names ?? []).map((n) => cols.find((x) => x.name === n)?.lin ?? UNKNOWN), true);
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
