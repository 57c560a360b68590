// The one SQL parser: PostgreSQL 18's own grammar compiled to WASM (libpg-query). A second parser
// would be a parser differential, so nothing else in regate reads SQL text.
import { hasSqlDetails, loadModule, parseSync } from "libpg-query";
import { list, rec, unwrap, type Rec } from "./node.js";

let loading: Promise<void> | undefined;
let ready = false;

export async function initSqlParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    ready = true;
  });
  await loading;
}

export function parserReady(): boolean {
  return ready;
}

export interface RawStatement {
  node: string;
  body: Rec;
  /** The whole `{"Type": {...}}` node, for fingerprinting. */
  wrapped: unknown;
  sql: string;
}

export type ParseOutcome = { ok: true; statements: RawStatement[] } | { ok: false; error: string };

// Lone surrogates have no UTF-8 form; the WASM side and Buffer would encode them differently and the
// byte offsets below would no longer line up.
const LONE_SURROGATE = /\p{Surrogate}/u;

export function parseSql(sql: string): ParseOutcome {
  // The C parser stops at NUL and would see only a prefix of what the server rejects or runs.
  if (sql.includes("\0")) return { ok: false, error: "SQL contains a NUL byte" };
  if (LONE_SURROGATE.test(sql)) return { ok: false, error: "SQL is not valid UTF-16 (lone surrogate)" };
  if (sql.trim() === "") return { ok: true, statements: [] };
  let tree: unknown;
  try {
    tree = parseSync(sql);
  } catch (err) {
    return { ok: false, error: parseErrorMessage(err) };
  }
  const stmts = list(rec(tree)?.stmts);
  // stmt_location/stmt_len count UTF-8 bytes, not UTF-16 code units.
  const bytes = Buffer.from(sql, "utf8");
  const statements: RawStatement[] = [];
  for (const raw of stmts) {
    const r = rec(raw);
    const u = unwrap(r?.stmt);
    if (!r || !u) return { ok: false, error: "parser returned an unexpected tree" };
    const start = typeof r.stmt_location === "number" ? r.stmt_location : 0;
    const end = typeof r.stmt_len === "number" && r.stmt_len > 0 ? start + r.stmt_len : bytes.length;
    statements.push({ node: u[0], body: u[1], wrapped: r.stmt, sql: bytes.subarray(start, end).toString("utf8").trim() });
  }
  return { ok: true, statements };
}

function parseErrorMessage(err: unknown): string {
  if (hasSqlDetails(err) && err.sqlDetails) {
    const d = err.sqlDetails;
    return typeof d.cursorPosition === "number" && d.cursorPosition >= 0 ? `${d.message} (at offset ${d.cursorPosition})` : d.message;
  }
  return err instanceof Error ? err.message : String(err);
}
