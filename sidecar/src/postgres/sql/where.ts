// Whether the condition that chooses a write's rows (a WHERE, MERGE's ON, an action's AND) restricts them:
// the `has_where` fact a policy refuses unbounded UPDATE, DELETE and MERGE by.
import type { Target } from "./dml.js";
import { expr } from "./expr.js";
import { CONSTANT, merge, type Lin } from "./lineage.js";
import { bodyOf, list, nameList, rec, str, unwrap, type Rec } from "./node.js";
import { conjuncts, relate } from "./relate.js";
import { same, type ConstantValues } from "./same-expression.js";
import { MAX_DEPTH, TooDeep, type Cx } from "./scope.js";
import { boolConst, complementary } from "./where-negation.js";

/*
 * Whether a row-choosing condition (a WHERE, MERGE's ON or an action's AND) restricts the target's rows.
 * No analysis can tell every tautology, so the rule is structural, and errs towards "every row":
 * - a part restricts only if it refers to the target (`true`, `1 = 1`, `$1`, a USING/FROM table alone: none);
 * - AND restricts if any part does; OR only if every branch does (`id = 5 OR true`, `id = 5 OR $2`: none), and
 *   not when one branch is the negation of another however written (`active OR NOT active`, `x IS TRUE OR x IS
 *   NOT TRUE`, `id = 1 OR id <> 1`, `id < 10 OR 10 <= id`, `a IN (…) OR a NOT IN (…)`, `= ANY` and `<> ALL`);
 * - NOT, IS FALSE and IS NOT TRUE swap the question: each is tracked with its negation (de Morgan), so
 *   `NOT (id = 5 AND false)` is none while `NOT (id = 5)` restricts; IS TRUE and IS NOT FALSE keep it;
 * - a comparison whose two sides are the same expression (`id = id`, `x IS NOT DISTINCT FROM x`,
 *   `coalesce(id, 0) = coalesce(id, 0)`, `id IN (1, id)`, `id = ANY(ARRAY[id])`, `id BETWEEN id AND id`) is
 *   none, whatever the operator; casts and COLLATE are looked through (`id IN (id::int)`);
 * - ALL over an empty array is every row, ANY over one none; LIKE '%' is IS NOT NULL;
 * - IS NOT NULL (IS NOT UNKNOWN, IS DISTINCT FROM NULL) is none: on a NOT NULL column, a primary key, it is every
 *   row; IS NULL restricts;
 * - CASE restricts if every branch does, by its WHEN or its result, and the ELSE by its result alone (a missing
 *   ELSE is NULL, never true: `CASE WHEN id = 5 THEN true END` restricts, `... ELSE true END` does not); COALESCE
 *   if every argument does; a cast is its argument; a truth value compared with `true` or `false` is itself
 *   or its negation, two compared with each other restrict only if both vary;
 * - `false` and NULL are never true: they restrict (`id = 5 OR false` is `id = 5`).
 * Anything else (a column, a function call, a subquery) restricts when it refers to the target.
 */
export interface Restricts {
  /** The condition is not true for every row of the target whatever its values. */
  yes: boolean;
  /** Its negation restricts: the condition is not false (or NULL) for every row. */
  not: boolean;
}

const NONE: Restricts = { yes: false, not: false };
const BOTH: Restricts = { yes: true, not: true };
const negate = (r: Restricts): Restricts => ({ yes: r.not, not: r.yes });
const COMPARISONS = new Set(["=", "<>", "!=", "<", ">", "<=", ">="]);

class Condition {
  readonly lins: Lin[] = [];
  constructor(
    readonly t: Target,
    readonly cx: Cx,
  ) {}

  /** Walks `v` once as an ordinary expression; whether it refers to the target's rows. */
  leaf(v: unknown): boolean {
    const before = this.t.level.targetHits;
    const l = expr(v, this.cx, this.t.level);
    if (l !== CONSTANT) this.lins.push(l);
    return this.t.level.targetHits > before;
  }

  /** Relates what the walked parts are made of, as one row-choosing expression. */
  relate(): void {
    if (this.lins.length > 0) relate(this.t.level, this.lins.length === 1 ? (this.lins[0] as Lin) : merge(this.lins, true));
    this.lins.length = 0;
  }

  of(v: unknown): Restricts {
    const u = unwrap(v);
    if (!u) return this.leaf(v) ? BOTH : NONE;
    if (++this.cx.depth > MAX_DEPTH) throw new TooDeep();
    try {
      return this.node(u[0], u[1], v);
    } finally {
      this.cx.depth--;
    }
  }

  private node(type: string, b: Rec, v: unknown): Restricts {
    switch (type) {
      case "BoolExpr": {
        const args = list(b.args).map((a) => this.of(a));
        const op = str(b.boolop);
        if (op === "NOT_EXPR") return negate(args[0] ?? NONE);
        const and = op === "AND_EXPR";
        // `active OR NOT active` is every row where active is not NULL; `x AND NOT x` is no row.
        if (complementary(list(b.args), this.t, this.cx.facts)) return and ? { yes: true, not: false } : { yes: false, not: true };
        // NOT (a AND b) is NOT a OR NOT b: the negation restricts as the dual connective does.
        const any = (k: keyof Restricts) => args.some((a) => a[k]);
        const all = (k: keyof Restricts) => args.length > 0 && args.every((a) => a[k]);
        return and ? { yes: any("yes"), not: all("not") } : { yes: all("yes"), not: any("not") };
      }
      case "BooleanTest": {
        const x = this.of(b.arg);
        const test = str(b.booltesttype);
        if (test === "IS_TRUE" || test === "IS_NOT_FALSE") return x;
        if (test === "IS_FALSE" || test === "IS_NOT_TRUE") return negate(x);
        return this.nullTest(x.yes || x.not, test === "IS_UNKNOWN");
      }
      case "NullTest":
        return this.nullTest(this.leaf(b.arg), str(b.nulltesttype) === "IS_NULL");
      case "TypeCast":
        return this.of(b.arg);
      case "CaseExpr":
        return this.caseExpr(b);
      case "CoalesceExpr": {
        const args = list(b.args).map((a) => this.of(a));
        return { yes: args.every((a) => a.yes), not: args.every((a) => a.not) };
      }
      case "A_Const":
        if (b.isnull === true) return BOTH;
        if ("boolval" in b) return rec(b.boolval)?.boolval === true ? { yes: false, not: true } : { yes: true, not: false };
        return NONE;
      case "A_Expr":
        return this.aExpr(b);
      default:
        return this.leaf(v) ? BOTH : NONE;
    }
  }

  private nullTest(refers: boolean, isNull: boolean): Restricts {
    return isNull ? { yes: refers, not: false } : { yes: false, not: refers };
  }

  private caseExpr(b: Rec): Restricts {
    const arg = b.arg;
    const argRefers = arg !== undefined && this.leaf(arg);
    let yes = true;
    let not = true;
    for (const w of list(b.args)) {
      const cw = bodyOf(w, "CaseWhen");
      if (!cw) continue;
      // `CASE x WHEN v`: the branch is taken where x = v.
      const when = arg === undefined ? this.of(cw.expr) : this.leaf(cw.expr) || argRefers ? (same(arg, cw.expr, this.t, this.cx.facts) ? NONE : BOTH) : NONE;
      const result = this.of(cw.result);
      yes &&= when.yes || result.yes;
      not &&= when.yes || result.not;
    }
    // The ELSE takes the rows no WHEN took: together with the branches' that may be every row, so its result
    // must restrict on its own (a missing ELSE is NULL, never true).
    const def = b.defresult === undefined ? BOTH : this.of(b.defresult);
    return { yes: yes && def.yes, not: not && def.not };
  }

  private aExpr(b: Rec): Restricts {
    const kind = str(b.kind) ?? "";
    const op = nameList(b.name)?.join(".") ?? "";
    const items = list(bodyOf(b.rexpr, "List")?.items);
    const array = kind === "AEXPR_OP_ANY" || kind === "AEXPR_OP_ALL" ? arrayItems(b.rexpr, this.cx.facts) : undefined;
    const tautology =
      same(b.lexpr, b.rexpr, this.t, this.cx.facts) ||
      (kind === "AEXPR_IN" && items.some((i) => same(b.lexpr, i, this.t, this.cx.facts))) ||
      (kind.includes("BETWEEN") && items.length === 2 && items.every((i) => same(b.lexpr, i, this.t, this.cx.facts))) ||
      // `id = ANY(ARRAY[1, id])` holds where one element does; ALL over no element at all is true.
      (array !== undefined && (kind === "AEXPR_OP_ANY" ? array.some((i) => same(b.lexpr, i, this.t, this.cx.facts)) : array.every((i) => same(b.lexpr, i, this.t, this.cx.facts))));
    // `x IS DISTINCT FROM NULL` is `x IS NOT NULL`.
    const withNull = isNull(b.lexpr) ? b.rexpr : isNull(b.rexpr) ? b.lexpr : undefined;
    if (!tautology && withNull !== undefined && (kind === "AEXPR_DISTINCT" || kind === "AEXPR_NOT_DISTINCT")) {
      this.cx.facts.addOperator(op);
      return this.nullTest(this.leaf(withNull), kind === "AEXPR_NOT_DISTINCT");
    }
    const comparison = COMPARISONS.has(op) && kind === "AEXPR_OP";
    const distinct = kind === "AEXPR_DISTINCT" || kind === "AEXPR_NOT_DISTINCT";
    if (!tautology && (comparison || distinct) && (truthValued(b.lexpr) || truthValued(b.rexpr))) {
      // A truth value compared: `(id = 5 OR true) = true` is the truth value itself.
      if (op) this.cx.facts.addOperator(op);
      const l = this.of(b.lexpr);
      const r = this.of(b.rexpr);
      const c = boolConst(b.lexpr) ?? boolConst(b.rexpr);
      const x = boolConst(b.lexpr) === undefined ? l : r;
      const equal = op === "=" || kind === "AEXPR_NOT_DISTINCT";
      if (c !== undefined && (equal || op === "<>" || op === "!=" || kind === "AEXPR_DISTINCT")) return c === equal ? x : negate(x);
      // `active <> NOT active` is `active OR NOT active`; `active = NOT active` is no row.
      if (complementary([b.lexpr, b.rexpr], this.t, this.cx.facts) && (equal || op === "<>" || op === "!=" || kind === "AEXPR_DISTINCT")) {
        return equal ? { yes: true, not: false } : { yes: false, not: true };
      }
      return l.yes && l.not && r.yes && r.not ? BOTH : NONE;
    }
    const refers = this.leaf({ A_Expr: b });
    // ANY over no element at all is never true.
    if (refers && array?.length === 0 && kind === "AEXPR_OP_ANY") return { yes: true, not: false };
    // `status LIKE '%'` matches every value but NULL: it is IS NOT NULL.
    if (!tautology && refers && (op === "~~" || op === "~~*" || op === "!~~" || op === "!~~*") && matchesAll(b.rexpr, this.cx.facts)) {
      return this.nullTest(true, op.startsWith("!"));
    }
    return refers && !tautology ? BOTH : NONE;
  }
}

/**
 * The elements of an array written out (`ARRAY[a, b]`, `'{}'`), cast or not. Reading a string constant's value
 * is told to `marks`: `'{}'` and `'{1}'` share a template (same-expression.ts).
 */
function arrayItems(v: unknown, marks: ConstantValues): unknown[] | undefined {
  const u = unwrap(v);
  if (u?.[0] === "TypeCast") return arrayItems(u[1].arg, marks);
  if (u?.[0] === "A_ArrayExpr") return list(u[1].elements);
  const text = u?.[0] === "A_Const" ? str(rec(u[1].sval)?.sval) : undefined;
  if (text !== undefined) marks.constantValues = true;
  return text !== undefined && /^\s*\{\s*\}\s*$/.test(text) ? [] : undefined;
}

/** A LIKE pattern of `%` alone, which every string matches; a pattern's value read is told to `marks` (`'%'` and `'a%'`). */
function matchesAll(v: unknown, marks: ConstantValues): boolean {
  const u = unwrap(v);
  if (u?.[0] === "TypeCast") return matchesAll(u[1].arg, marks);
  const text = u?.[0] === "A_Const" ? str(rec(u[1].sval)?.sval) : undefined;
  if (text !== undefined) marks.constantValues = true;
  return text !== undefined && /^%+$/.test(text);
}

function isNull(v: unknown): boolean {
  const u = unwrap(v);
  if (u?.[0] === "TypeCast") return isNull(u[1].arg);
  return u?.[0] === "A_Const" && u[1].isnull === true;
}

/** A node whose value is a truth value made of conditions. */
function truthValued(v: unknown): boolean {
  const u = unwrap(v);
  if (!u) return false;
  if (u[0] === "TypeCast") return truthValued(u[1].arg);
  if (u[0] === "A_Const") return "boolval" in u[1];
  if (u[0] === "A_Expr") return COMPARISONS.has(nameList(u[1].name)?.join(".") ?? "") || str(u[1].kind) !== "AEXPR_OP";
  return u[0] === "BoolExpr" || u[0] === "BooleanTest" || u[0] === "NullTest";
}

/** Walks a row-choosing condition (relating its parts, the conjuncts of an AND) and tells what it restricts. */
export function restriction(w: unknown, t: Target, cx: Cx): Restricts {
  const c = new Condition(t, cx);
  const parts = conjuncts(w).map((part) => {
    const r = c.of(part);
    c.relate();
    return r;
  });
  return { yes: parts.some((p) => p.yes), not: parts.length > 0 && parts.every((p) => p.not) };
}

