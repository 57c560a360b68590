// Whether the condition that chooses a write's rows (a WHERE, MERGE's ON, an action's AND) restricts them:
// the `has_where` fact a policy refuses unbounded UPDATE, DELETE and MERGE by.
import type { Target } from "./dml.js";
import { expr } from "./expr.js";
import { CONSTANT, merge, type Lin } from "./lineage.js";
import { bodyOf, list, nameList, rec, str, unwrap, type Rec } from "./node.js";
import { conjuncts, relate } from "./relate.js";
import { MAX_DEPTH, TooDeep, type Cx } from "./scope.js";

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
        if (complementary(list(b.args), this.t)) return and ? { yes: true, not: false } : { yes: false, not: true };
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
      const when = arg === undefined ? this.of(cw.expr) : this.leaf(cw.expr) || argRefers ? (same(arg, cw.expr, this.t) ? NONE : BOTH) : NONE;
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
    const array = kind === "AEXPR_OP_ANY" || kind === "AEXPR_OP_ALL" ? arrayItems(b.rexpr) : undefined;
    const tautology =
      same(b.lexpr, b.rexpr, this.t) ||
      (kind === "AEXPR_IN" && items.some((i) => same(b.lexpr, i, this.t))) ||
      (kind.includes("BETWEEN") && items.length === 2 && items.every((i) => same(b.lexpr, i, this.t))) ||
      // `id = ANY(ARRAY[1, id])` holds where one element does; ALL over no element at all is true.
      (array !== undefined && (kind === "AEXPR_OP_ANY" ? array.some((i) => same(b.lexpr, i, this.t)) : array.every((i) => same(b.lexpr, i, this.t))));
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
      if (complementary([b.lexpr, b.rexpr], this.t) && (equal || op === "<>" || op === "!=" || kind === "AEXPR_DISTINCT")) {
        return equal ? { yes: true, not: false } : { yes: false, not: true };
      }
      return l.yes && l.not && r.yes && r.not ? BOTH : NONE;
    }
    const refers = this.leaf({ A_Expr: b });
    // ANY over no element at all is never true.
    if (refers && array?.length === 0 && kind === "AEXPR_OP_ANY") return { yes: true, not: false };
    // `status LIKE '%'` matches every value but NULL: it is IS NOT NULL.
    if (!tautology && refers && (op === "~~" || op === "~~*" || op === "!~~" || op === "!~~*") && matchesAll(b.rexpr)) {
      return this.nullTest(true, op.startsWith("!"));
    }
    return refers && !tautology ? BOTH : NONE;
  }
}

/** The elements of an array written out (`ARRAY[a, b]`, `'{}'`), cast or not. */
function arrayItems(v: unknown): unknown[] | undefined {
  const u = unwrap(v);
  if (u?.[0] === "TypeCast") return arrayItems(u[1].arg);
  if (u?.[0] === "A_ArrayExpr") return list(u[1].elements);
  const text = u?.[0] === "A_Const" ? str(rec(u[1].sval)?.sval) : undefined;
  return text !== undefined && /^\s*\{\s*\}\s*$/.test(text) ? [] : undefined;
}

/** A LIKE pattern of `%` alone, which every string matches. */
function matchesAll(v: unknown): boolean {
  const u = unwrap(v);
  if (u?.[0] === "TypeCast") return matchesAll(u[1].arg);
  const text = u?.[0] === "A_Const" ? str(rec(u[1].sval)?.sval) : undefined;
  return text !== undefined && /^%+$/.test(text);
}

/**
 * Whether one of `args` is the negation of another: NOT, IS [NOT] TRUE/FALSE, `= true`/`= false`, or the
 * negated comparison of the same operands (`id = 1` and `id <> 1`, `id < 10` and `10 <= id`).
 */
function complementary(args: unknown[], t: Target): boolean {
  const seen = new Map<string, boolean>();
  for (const a of args) {
    const [key, positive] = polar(a, t);
    if (seen.get(key) === !positive) return true;
    if (!seen.has(key)) seen.set(key, positive);
  }
  return false;
}

/** A condition as a base expression and whether it is that expression or its negation. */
function polar(v: unknown, t: Target, depth = 0): [string, boolean] {
  const flip = ([k, p]: [string, boolean]): [string, boolean] => [k, !p];
  const u = depth < MAX_DEPTH ? unwrap(v) : undefined;
  const b = u?.[1];
  if (u?.[0] === "BoolExpr" && str(b?.boolop) === "NOT_EXPR") return flip(polar(list(b?.args)[0], t, depth + 1));
  if (u?.[0] === "BooleanTest") {
    const test = str(b?.booltesttype);
    if (test === "IS_TRUE" || test === "IS_NOT_FALSE") return polar(b?.arg, t, depth + 1);
    if (test === "IS_FALSE" || test === "IS_NOT_TRUE") return flip(polar(b?.arg, t, depth + 1));
  }
  if (u?.[0] === "A_Expr" && b !== undefined) {
    const kind = str(b.kind) ?? "";
    const op = nameList(b.name)?.join(".") ?? "";
    const c = boolConst(b.lexpr) ?? boolConst(b.rexpr);
    if (kind === "AEXPR_OP" && c !== undefined && (op === "=" || op === "<>" || op === "!=")) {
      const r = polar(boolConst(b.lexpr) === undefined ? b.lexpr : b.rexpr, t, depth + 1);
      return c === (op === "=") ? r : flip(r);
    }
    const p = opPolar(kind, op === "!=" ? "<>" : op, JSON.stringify(canonical(b.lexpr, t)), JSON.stringify(canonical(b.rexpr, t)));
    if (p) return p;
  }
  return [JSON.stringify(canonical(v, t)), true];
}

const NEGATED: Record<string, string> = { "=": "<>", "<>": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">" };

/** An operator expression as a positive form and its sign: `a <> b` is NOT `a = b`, `a NOT IN (…)` NOT `a IN (…)`. */
function opPolar(kind: string, op: string, l: string, r: string): [string, boolean] | undefined {
  const key = (...k: string[]) => JSON.stringify(k);
  switch (kind) {
    case "AEXPR_OP":
      // Each comparison as `a = b` (either order) or `a < b`; `!~`, `!~~` are `~`, `~~` negated.
      if (op === "=" || op === "<>") return [key("=", ...[l, r].sort()), op === "="];
      if (op === "<" || op === ">=") return [key("<", l, r), op === "<"];
      if (op === ">" || op === "<=") return [key("<", r, l), op === ">"];
      break;
    case "AEXPR_IN":
      return [key("IN", l, r), op === "="];
    case "AEXPR_BETWEEN":
    case "AEXPR_NOT_BETWEEN":
    case "AEXPR_BETWEEN_SYM":
    case "AEXPR_NOT_BETWEEN_SYM":
      return [key(kind.replace("NOT_", ""), l, r), !kind.includes("NOT_")];
    case "AEXPR_DISTINCT":
    case "AEXPR_NOT_DISTINCT":
      return [key("=", ...[l, r].sort()), kind === "AEXPR_NOT_DISTINCT"];
    case "AEXPR_OP_ANY":
    case "AEXPR_OP_ALL": {
      // `x <> ALL(a)` is NOT `x = ANY(a)`.
      const any = kind === "AEXPR_OP_ANY" ? op : NEGATED[op];
      if (any !== undefined) return [key("ANY", any, l, r), kind === "AEXPR_OP_ANY"];
      break;
    }
  }
  if (/^!~/.test(op)) return [key(op.slice(1), l, r), false];
  if (/^~/.test(op)) return [key(op, l, r), true];
  return undefined;
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

function boolConst(v: unknown): boolean | undefined {
  const u = unwrap(v);
  if (u?.[0] === "TypeCast") return boolConst(u[1].arg);
  if (u?.[0] !== "A_Const" || !("boolval" in u[1])) return undefined;
  return rec(u[1].boolval)?.boolval === true;
}

/** Two expressions written the same, positions aside; a column of the target the same bare or qualified. */
function same(a: unknown, b: unknown, t: Target): boolean {
  return a !== undefined && JSON.stringify(canonical(a, t)) === JSON.stringify(canonical(b, t));
}

/** The parser's offsets into the text: `ARRAY[id]` at two places is the same expression. */
const POSITIONS = new Set(["location", "list_start", "list_end", "rexpr_list_start", "rexpr_list_end"]);

function canonical(v: unknown, t: Target): unknown {
  if (Array.isArray(v)) return v.map((x) => canonical(x, t));
  if (v === null || typeof v !== "object") return v;
  const u = unwrap(v);
  // A cast or a collation is looked through: `id = id::int`, `id = id COLLATE "C"` are the same. A cast that
  // changes the value (`created_at::date = created_at`) is read so too, erring towards every row.
  if (u?.[0] === "TypeCast" || u?.[0] === "CollateClause") return canonical(u[1].arg, t);
  if (u?.[0] === "ColumnRef") {
    const names = nameList(u[1].fields);
    if (names && names.length >= 2 && targetNames(t).has(names.slice(0, -1).join("."))) return { ColumnRef: names.slice(-1) };
    if (names) return { ColumnRef: names };
  }
  const out: Rec = {};
  for (const k of Object.keys(v).sort()) if (!POSITIONS.has(k)) out[k] = canonical((v as Rec)[k], t);
  return out;
}

function targetNames(t: Target): Set<string> {
  const names = new Set<string>();
  if (t.src.refname !== null) names.add(t.src.refname);
  if (t.src.refname === t.res.ref.name && t.res.ref.schema !== null) names.add(`${t.res.ref.schema}.${t.res.ref.name}`);
  return names;
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

