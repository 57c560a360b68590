// Whether two expressions are the same one written twice (`id = id`, `id IN (1, id::int)`, `t.id` and `id`):
// a comparison of an expression with itself chooses no rows, and a negation pairs only the same operands.
// where.ts and where-negation.ts both compare by this one canonical form.
import type { Target } from "./dml.js";
import { nameList, unwrap, type Rec } from "./node.js";

/**
 * Where a judgement read the values of a statement's constants, not only where they stand. Statements that
 * differ only in constants share their facts (lifecycle/analyse.ts, template.ts) unless one of these is set:
 * `id + 1 = id + 1` is no restriction, `id + 1 = id + 2` is one, and the two share a template.
 */
export interface ConstantValues {
  constantValues: boolean;
}

/**
 * Two expressions written the same, positions aside; a column of the target the same bare or qualified.
 * When the answer may depend on the values of their constants (they are the same with every number and
 * string constant taken as one placeholder), `marks` is told.
 */
export function same(a: unknown, b: unknown, t: Target, marks?: ConstantValues): boolean {
  if (a === undefined) return false;
  if (marks !== undefined) {
    const hit = { constants: false };
    if (JSON.stringify(canonical(a, t, hit)) !== JSON.stringify(canonical(b, t, hit))) return false;
    // No constant met: nothing was erased, so the comparison just made is the one below.
    if (!hit.constants) return true;
    marks.constantValues = true;
  }
  return JSON.stringify(canonical(a, t)) === JSON.stringify(canonical(b, t));
}

/**
 * A number or a plain string constant: what template.ts takes out of a statement's text. `true`, `false` and
 * NULL are keywords there, part of every statement of the template.
 */
export function isTemplatedConstant(v: unknown): boolean {
  const u = unwrap(v);
  return u?.[0] === "A_Const" && u[1].isnull !== true && !("boolval" in u[1]);
}

/** The parser's offsets into the text: `ARRAY[id]` at two places is the same expression. */
const POSITIONS = new Set(["location", "list_start", "list_end", "rexpr_list_start", "rexpr_list_end"]);

/** `erase`: every number and string constant becomes one placeholder, and `erase.constants` says one was met. */
export function canonical(v: unknown, t: Target, erase?: { constants: boolean }): unknown {
  if (Array.isArray(v)) return v.map((x) => canonical(x, t, erase));
  if (v === null || typeof v !== "object") return v;
  if (erase !== undefined && isTemplatedConstant(v)) {
    erase.constants = true;
    return "?";
  }
  const u = unwrap(v);
  // A cast or a collation is looked through: `id = id::int`, `id = id COLLATE "C"` are the same. A cast that
  // changes the value (`created_at::date = created_at`) is read so too, erring towards every row.
  if (u?.[0] === "TypeCast" || u?.[0] === "CollateClause") return canonical(u[1].arg, t, erase);
  if (u?.[0] === "ColumnRef") {
    const names = nameList(u[1].fields);
    if (names && names.length >= 2 && targetNames(t).has(names.slice(0, -1).join("."))) return { ColumnRef: names.slice(-1) };
    if (names) return { ColumnRef: names };
  }
  const out: Rec = {};
  for (const k of Object.keys(v).sort()) if (!POSITIONS.has(k)) out[k] = canonical((v as Rec)[k], t, erase);
  return out;
}

function targetNames(t: Target): Set<string> {
  const names = new Set<string>();
  if (t.src.refname !== null) names.add(t.src.refname);
  if (t.src.refname === t.res.ref.name && t.res.ref.schema !== null) names.add(`${t.res.ref.schema}.${t.res.ref.name}`);
  return names;
}
