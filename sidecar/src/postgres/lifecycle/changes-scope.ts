import type { AnalysisResult, StatementFacts } from "../sql/types.js";

// Which statements the rows_changed_per_transaction count must follow, from the facts alone. Declared volatility
// cannot be trusted for this: a STABLE or IMMUTABLE function may call a volatile one that deletes (PostgreSQL
// checks only the function's own statements), and operators, casts, domain CHECKs, row-level security policies
// and view bodies run functions no statement names. So every statement that runs an expression may change
// rows; only those that run none are left out.

/**
 * Kinds that evaluate no expression of the agent's choosing over the database: they change no rows. Not PREPARE:
 * it parses its query when it runs, and parsing reads literals with their types' input functions (a composite's
 * record_in runs a domain column's CHECK, which may call a function that deletes).
 */
const NEVER_CHANGES = new Set<StatementFacts["kind"]>(["transaction", "set", "show", "deallocate", "listen", "notify", "lock", "grant"]);

export function mayChangeRows(st: StatementFacts): boolean {
  // DISCARD and LOAD change no rows; SET CONSTRAINTS ... IMMEDIATE fires the deferred triggers of earlier writes.
  if (st.kind === "utility") return st.node === "ConstraintsSetStmt";
  return !NEVER_CHANGES.has(st.kind);
}

/** Kinds that run inside a transaction block as they do alone (VACUUM, DISCARD ALL, … would fail in one). */
const WRAPPABLE = new Set<StatementFacts["kind"]>([
  "select", "insert", "update", "delete", "merge", "copy", "explain", "execute", "do", "call", "fetch", "cursor",
  "lock", "listen", "notify", "show", "set", "prepare", "deallocate", "grant", "parse_error", "unknown",
]);

/**
 * Statements regate's wrap may hold. DDL too while changed rows are counted (CREATE TABLE AS, a column
 * default or index expression that calls a function, run for every row): one that cannot run in a
 * transaction block (CREATE INDEX CONCURRENTLY, CREATE DATABASE) then fails there with the server's own reason.
 */
export function wrappable(st: StatementFacts, changes: boolean): boolean {
  return st.ddl === null ? WRAPPABLE.has(st.kind) : changes;
}

/** DECLARE ... WITH HOLD: the rest of its query runs at COMMIT, after the last count. */
export function declaresHoldCursor(analysis: AnalysisResult): boolean {
  return analysis.names?.some((n) => n?.space === "cursor" && n.define && n.hold === true) ?? false;
}

/** Leading comments and blanks of a statement's text. */
const LEADING = /^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/;
const COMMITS = /^(?:commit|end|prepare\s+transaction)\b/i;

/** One statement that ends the block by committing it (COMMIT, END, COMMIT AND CHAIN, PREPARE TRANSACTION). */
export function commitsBlock(analysis: AnalysisResult): boolean {
  const sts = analysis.statements;
  return sts.length === 1 && sts[0]!.kind === "transaction" && COMMITS.test(sts[0]!.sql.replace(LEADING, ""));
}
