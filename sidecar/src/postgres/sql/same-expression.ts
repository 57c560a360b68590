// Whether two expressions are the same one written twice (`id = id`, `id IN (1, id::int)`, `t.id` and `id`):
// a comparison of an expression with itself chooses no rows, and a negation pairs only the same operands.
// where.ts and where-negation.ts both compare by this one canonical form.
import type { Target } from "./dml.js";
import { nameList, unwrap, type Rec } from "./node.js";

/** Two expressions written the same, positions aside; a column of the target the same bare or qualified. */
export function same(a: unknown, b: unknown, t: Target): boolean {
  return a !== undefined && JSON.stringify(canonical(a, t)) === JSON.stringify(canonical(b, t));
}

/** The parser's offsets into the text: `ARRAY[id]` at two places is the same expression. */
const POSITIONS = new Set(["location", "list_start", "list_end", "rexpr_list_start", "rexpr_list_end"]);

export function canonical(v: unknown, t: Target): unknown {
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
