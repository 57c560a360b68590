// Target lists (SELECT list, RETURNING): output columns, with `*` expanded where the columns are known.
import { UNKNOWN, asDerived, asUnknown, merge, type Col, type Lin } from "./lineage.js";
import { bodyOf, list, nameList, str, unwrap } from "./node.js";
import { findQualified, recordWhole, starOf, wholeRow } from "./name-resolution.js";
import type { Cx, Scope, Source } from "./scope.js";
import { expr } from "./expr.js";
import { withSlots } from "./from.js";
import { figureName } from "./names.js";

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
  const lin = recordWhole(src, level, wholeRow(src), cx);
  const cols = starOf(src);
  return cols ? withSlots(cols, leafSources(src), level) : [wideCol(lin)];
}

function leafSources(src: Source): Source[] {
  return src.children ? [src, ...src.children.flatMap(leafSources)] : [src];
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
        const rows: Lin[] = [];
        for (const s of item.sources) if (!s.priority && s.children === null) rows.push(recordWhole(s, level, wholeRow(s), cx));
        const cols = item.star();
        out.push(...(cols ? withSlots(cols, item.sources, level) : [wideCol(merge([item.whole(), ...rows], true))]));
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
