// A condition OR its negation does not restrict a write's rows (has_where): this file tells when two conditions
// are each other's negation however written (NOT, IS [NOT] TRUE/FALSE, `= false`, `<>` for `=`, NOT IN,
// NOT BETWEEN, `<> ALL` for `= ANY`), so where.ts can read `active OR NOT active` or `id < 10 OR 10 <= id`
// as not restricting.
import type { Target } from "./dml.js";
import { list, nameList, rec, str, unwrap } from "./node.js";
import { canonical, type ConstantValues } from "./same-expression.js";
import { MAX_DEPTH } from "./scope.js";

/**
 * Whether one of `args` is the negation of another: NOT, IS [NOT] TRUE/FALSE, `= true`/`= false`, or the
 * negated comparison of the same operands (`id = 1` and `id <> 1`, `id < 10` and `10 <= id`).
 */
export function complementary(args: unknown[], t: Target, marks?: ConstantValues): boolean {
  // With every number and string constant as one placeholder: when even then no two are each other's
  // negation, the constants' values cannot make them so (`id = 1 OR id <> 2` and `id = 1 OR id <> 1`).
  if (marks !== undefined) {
    const erase = { constants: false };
    if (!negationIn(args, t, erase)) return false;
    // No constant met: nothing was erased, so the search just made is the one below.
    if (!erase.constants) return true;
    marks.constantValues = true;
  }
  return negationIn(args, t);
}

function negationIn(args: unknown[], t: Target, erase?: { constants: boolean }): boolean {
  const seen = new Map<string, boolean>();
  for (const a of args) {
    const [key, positive] = polar(a, t, erase);
    if (seen.get(key) === !positive) return true;
    if (!seen.has(key)) seen.set(key, positive);
  }
  return false;
}

/** A condition as a base expression and whether it is that expression or its negation. */
function polar(v: unknown, t: Target, erase: { constants: boolean } | undefined, depth = 0): [string, boolean] {
  const flip = ([k, p]: [string, boolean]): [string, boolean] => [k, !p];
  const u = depth < MAX_DEPTH ? unwrap(v) : undefined;
  const b = u?.[1];
  if (u?.[0] === "BoolExpr" && str(b?.boolop) === "NOT_EXPR") return flip(polar(list(b?.args)[0], t, erase, depth + 1));
  if (u?.[0] === "BooleanTest") {
    const test = str(b?.booltesttype);
    if (test === "IS_TRUE" || test === "IS_NOT_FALSE") return polar(b?.arg, t, erase, depth + 1);
    if (test === "IS_FALSE" || test === "IS_NOT_TRUE") return flip(polar(b?.arg, t, erase, depth + 1));
  }
  if (u?.[0] === "A_Expr" && b !== undefined) {
    const kind = str(b.kind) ?? "";
    const op = nameList(b.name)?.join(".") ?? "";
    const c = boolConst(b.lexpr) ?? boolConst(b.rexpr);
    if (kind === "AEXPR_OP" && c !== undefined && (op === "=" || op === "<>" || op === "!=")) {
      const r = polar(boolConst(b.lexpr) === undefined ? b.lexpr : b.rexpr, t, erase, depth + 1);
      return c === (op === "=") ? r : flip(r);
    }
    const p = opPolar(kind, op === "!=" ? "<>" : op, JSON.stringify(canonical(b.lexpr, t, erase)), JSON.stringify(canonical(b.rexpr, t, erase)));
    if (p) return p;
  }
  return [JSON.stringify(canonical(v, t, erase)), true];
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

/** A `true` or `false` constant, cast or not, as its value. */
export function boolConst(v: unknown): boolean | undefined {
  const u = unwrap(v);
  if (u?.[0] === "TypeCast") return boolConst(u[1].arg);
  if (u?.[0] !== "A_Const" || !("boolval" in u[1])) return undefined;
  return rec(u[1].boolval)?.boolval === true;
}
