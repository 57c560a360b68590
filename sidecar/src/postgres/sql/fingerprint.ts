// Fingerprint for the decision cache: the parse tree with locations dropped and constants replaced.
// Unlike libpg-query's fingerprint, names are kept (it ignores EXECUTE/FETCH/LISTEN names, aliases and
// casts of constants, so `EXECUTE safe` and `EXECUTE evil` would share a cache entry), and constants
// that the facts depend on are kept too: SET values and set_config() arguments. Statements with the
// same fingerprint therefore have the same facts, apart from `sql`.
import { createHash } from "node:crypto";
import { nameList, unwrap } from "./node.js";
import type { RawStatement } from "./parser.js";

const SKIP_KEYS = new Set(["location", "stmt_location", "stmt_len", "name_location"]);

function isConst(v: unknown): boolean {
  const u = unwrap(v);
  return u !== undefined && u[0] === "A_Const";
}

type ListMode = "plain" | "constants" | "rows";

function canon(v: unknown, keep: boolean, out: string[], mode: ListMode = "plain"): void {
  if (v === null || v === undefined) {
    out.push("~");
    return;
  }
  if (typeof v !== "object") {
    out.push(JSON.stringify(v));
    return;
  }
  if (Array.isArray(v)) {
    // An IN list or ARRAY[...] of constants has one shape whatever its length.
    if (mode === "constants" && !keep && v.length > 0 && v.every(isConst)) {
      out.push("[?*]");
      return;
    }
    out.push("[");
    let previous: string | undefined;
    for (const item of v) {
      const part: string[] = [];
      canon(item, keep, part);
      const s = part.join("");
      // VALUES rows of the same shape collapse: the row count changes no fact.
      if (mode === "rows" && s === previous) continue;
      previous = s;
      out.push(s, ",");
    }
    out.push("]");
    return;
  }
  const u = unwrap(v);
  if (u) {
    const [type, body] = u;
    if (type === "A_Const" && !keep) {
      out.push("?");
      return;
    }
    let keepInside = keep || type === "VariableSetStmt";
    if (type === "FuncCall") {
      const names = nameList(body.funcname);
      if (names && names[names.length - 1] === "set_config") keepInside = true;
    }
    out.push(type, "(");
    canonFields(body, keepInside, out, type);
    out.push(")");
    return;
  }
  out.push("{");
  canonFields(v as Record<string, unknown>, keep, out, "");
  out.push("}");
}

function listMode(type: string, body: Record<string, unknown>, key: string): ListMode {
  if (key === "valuesLists") return "rows";
  if (type === "A_Expr" && key === "rexpr" && body.kind === "AEXPR_IN") return "constants";
  if (type === "A_ArrayExpr" && key === "elements") return "constants";
  return "plain";
}

function canonFields(body: Record<string, unknown>, keep: boolean, out: string[], type: string): void {
  for (const k in body) {
    if (SKIP_KEYS.has(k)) continue;
    out.push(k, ":");
    canon(body[k], keep, out, listMode(type, body, k));
    out.push(";");
  }
}

export function fingerprintStatements(statements: readonly RawStatement[]): string {
  const h = createHash("sha256");
  for (const s of statements) {
    const out: string[] = [];
    canon(s.wrapped, false, out);
    h.update(out.join(""));
    h.update("\n");
  }
  return h.digest("hex").slice(0, 32);
}

/** Unparsable SQL has no shape; its fingerprint is that of the exact text. */
export function fingerprintText(sql: string): string {
  return createHash("sha256").update("\u0000parse_error\u0000").update(sql).digest("hex").slice(0, 32);
}
