// Column references in expressions (`c`, `t.c`, `s.t.c`, `t.*`, `t.f` as the call `f(t)`), resolved against
// the query levels in scope (name-resolution.ts); one that cannot be resolved is recorded as unknown unless
// the scope is lenient.
import { callInputs } from "./call-inputs.js";
import { UNKNOWN, asDerived, merge, type Lin } from "./lineage.js";
import { stringNode } from "./node.js";
import { findQualified, recordWhole, resolveIn, resolveName, wholeRow } from "./name-resolution.js";
import type { Cx, Scope } from "./scope.js";

function unresolved(what: string, cx: Cx, scope: Scope): Lin {
  if (!scope.lenient) cx.facts.addUnknown(`column reference ${what} could not be resolved`);
  return UNKNOWN;
}

export function columnRef(fields: unknown[], cx: Cx, scope: Scope): Lin {
  const names: string[] = [];
  let star = false;
  for (const f of fields) {
    const s = stringNode(f);
    if (s !== undefined) names.push(s);
    else star = true;
  }
  if (star) {
    if (names.length === 0) {
      const parts: Lin[] = [];
      for (const s of scope.sources) {
        if (!s.unqualified || s.priority) continue;
        parts.push(recordWhole(s, scope, wholeRow(s), cx));
      }
      return merge(parts, true);
    }
    const q = qualifier(names, scope);
    if (!q) return unresolved(`${names.join(".")}.*`, cx, scope);
    return recordWhole(q.src, q.level, wholeRow(q.src), cx);
  }
  if (names.length === 1) {
    return resolveName(scope, names[0] as string, cx) ?? unresolved(names[0] as string, cx, scope);
  }
  // a.b: column b of relation a; else field b of composite column a.
  // a.b.c: column c of schema-qualified relation a.b; else field c of column b of relation a.
  const tail = names.length > 3 ? names.slice(names.length - 3) : names;
  if (tail.length === 3) {
    const f = findQualified(scope, tail[1] as string, tail[0] as string);
    if (f) return resolveIn(f, tail[2] as string, cx) ?? attributeCall(f, tail[2] as string, cx);
  }
  const q = findQualified(scope, tail[0] as string);
  if (q) {
    const l = resolveIn(q, tail[1] as string, cx) ?? attributeCall(q, tail[1] as string, cx);
    return tail.length === 2 ? l : asDerived(l);
  }
  const col = resolveName(scope, tail[0] as string, cx);
  return col ? asDerived(col) : unresolved(names.join("."), cx, scope);
}

function qualifier(names: string[], scope: Scope): ReturnType<typeof findQualified> {
  const n = names.length > 2 ? names.slice(names.length - 2) : names;
  if (n.length === 2) return findQualified(scope, n[1] as string, n[0] as string);
  return findQualified(scope, n[0] as string);
}

/** `t.f` where t has no column f: PostgreSQL reads it as the call f(t). */
function attributeCall(found: NonNullable<ReturnType<typeof findQualified>>, name: string, cx: Cx): Lin {
  cx.facts.addUnknown(`${name}(${found.src.refname ?? "?"}) called with attribute notation`);
  const l = recordWhole(found.src, found.level, wholeRow(found.src), cx);
  callInputs(cx, found.level, null, name, l, true);
  return { ...l, derived: true, unknown: true };
}
