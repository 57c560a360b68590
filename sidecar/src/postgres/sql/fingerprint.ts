// Fingerprint for the decision cache: the parse tree with locations dropped and constants replaced.
// Unlike libpg-query's fingerprint, names are kept (it ignores EXECUTE/FETCH/LISTEN names, aliases and
// casts of constants, so `EXECUTE safe` and `EXECUTE evil` would share a cache entry), and constants
// that the facts depend on are kept too: SET values, set_config() and current_setting() arguments and the relation names
// given to nextval() and its kin (relation-args.ts); and every constant when a fact read their values
// (has_where's tautologies, analyze.ts). Statements with the same fingerprint therefore have the same
// facts, apart from `sql`.
import { createHash } from "node:crypto";
import { nameList, unwrap } from "./node.js";
import { takesRelationArgument } from "./relation-args.js";
import type { RawStatement } from "./parser.js";

// Byte positions in the text: they move with the length of constants and comments.
const SKIP_KEYS = new Set(["location", "stmt_location", "stmt_len", "name_location", "list_start", "list_end", "rexpr_list_start", "rexpr_list_end"]);
// Deeper trees (1+1+...+1 nests one level per term) are keyed by their exact text instead.
const MAX_DEPTH = 1000;

class TooDeepToFingerprint extends Error {}

function isConst(v: unknown): boolean {
  const u = unwrap(v);
  return u !== undefined && u[0] === "A_Const";
}

type ListMode = "plain" | "constants" | "rows";

/** Appends the canonical form of `v` to a string; strings are length-prefixed so nothing can collide. */
class Canon {
  out = "";
  private depth = 0;

  value(v: unknown, keep: boolean, mode: ListMode = "plain"): void {
    if (++this.depth > MAX_DEPTH) throw new TooDeepToFingerprint();
    try {
      this.node(v, keep, mode);
    } finally {
      this.depth--;
    }
  }

  private node(v: unknown, keep: boolean, mode: ListMode): void {
    if (v === null || v === undefined) {
      this.out += "~";
      return;
    }
    switch (typeof v) {
      case "string":
        this.out += `${v.length}'${v}`;
        return;
      case "object":
        break;
      default:
        this.out += String(v);
        return;
    }
    if (Array.isArray(v)) {
      this.list(v, keep, mode);
      return;
    }
    const u = unwrap(v);
    if (!u) {
      this.out += "{";
      this.fields(v as Record<string, unknown>, keep, "");
      this.out += "}";
      return;
    }
    const [type, body] = u;
    if (type === "A_Const" && !keep) {
      this.out += "?";
      return;
    }
    if (type === "List" && mode !== "plain") {
      // IN (...) wraps its list in a List node.
      this.out += "List(items:";
      this.list(Array.isArray(body.items) ? body.items : [], keep, mode);
      this.out += ")";
      return;
    }
    let keepInside = keep || type === "VariableSetStmt" || type === "TransactionStmt";
    if (type === "FuncCall") {
      const names = nameList(body.funcname);
      const name = names?.[names.length - 1];
      // current_setting('TimeZone') and current_setting('primary_conninfo') are different facts (settings_read).
      if (name === "set_config" || name === "current_setting" || takesRelationArgument(name)) keepInside = true;
    }
    this.out += type;
    this.out += "(";
    this.fields(body, keepInside, type);
    this.out += ")";
  }

  private list(v: unknown[], keep: boolean, mode: ListMode): void {
    // An IN list or ARRAY[...] of constants has one shape whatever its length.
    if (mode === "constants" && !keep && v.length > 0 && v.every(isConst)) {
      this.out += "[?*]";
      return;
    }
    this.out += "[";
    let previous: string | undefined;
    for (const item of v) {
      if (mode === "rows") {
        // VALUES rows of the same shape collapse: the row count changes no fact.
        const saved = this.out;
        this.out = "";
        this.value(item, keep);
        const row = this.out;
        this.out = saved;
        if (row === previous) continue;
        previous = row;
        this.out += row;
      } else {
        this.value(item, keep);
      }
      this.out += ",";
    }
    this.out += "]";
  }

  private fields(body: Record<string, unknown>, keep: boolean, type: string): void {
    for (const k in body) {
      if (SKIP_KEYS.has(k)) continue;
      this.out += k;
      this.out += ":";
      this.value(body[k], keep, listMode(type, body, k));
      this.out += ";";
    }
  }
}

function listMode(type: string, body: Record<string, unknown>, key: string): ListMode {
  if (key === "valuesLists") return "rows";
  if (type === "A_Expr" && key === "rexpr" && body.kind === "AEXPR_IN") return "constants";
  if (type === "A_ArrayExpr" && key === "elements") return "constants";
  return "plain";
}

/**
 * `keepConstants`: the facts read the values of constants that are otherwise replaced (`id + 1 = id + 1` is no
 * WHERE, `id + 1 = id + 2` is one: AnalysisResult.constant_values), so every constant is kept.
 */
export function fingerprintStatements(statements: readonly RawStatement[], sql: string, keepConstants = false): string {
  const c = new Canon();
  try {
    for (const s of statements) {
      c.value(s.wrapped, keepConstants);
      c.out += "\n";
    }
  } catch (err) {
    if (err instanceof TooDeepToFingerprint) return fingerprintText(sql);
    throw err;
  }
  return createHash("sha256").update(c.out).digest("hex").slice(0, 32);
}

/** Unparsable (or too deep) SQL is keyed by its exact text, in a space apart from tree fingerprints. */
export function fingerprintText(sql: string): string {
  return createHash("sha256").update("\u0000text\u0000").update(sql).digest("hex").slice(0, 32);
}
