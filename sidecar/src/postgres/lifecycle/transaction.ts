import { serialize } from "pg-protocol";
import type { Veto } from "../../decision/index.js";
import type { AnalysisResult, StatementFacts } from "../sql/types.js";
import type { Statement } from "./statement.js";
import { answered } from "./names.js";
import { countChanges, readChangesBase } from "./rows-changed.js";
import type { SessionState } from "./state.js";

/**
 * A budget cut must leave the database as if the statement never ran. PostgreSQL computes a write's
 * RETURNING rows before it sends the first one, so by the time a row budget is crossed the write is
 * done; only its transaction can still be undone. So, while a row or byte budget is set:
 *
 * - an autocommit write that returns rows (or a Query of several statements holding one) is wrapped in
 *   regate's own BEGIN ... COMMIT, and rolled back instead when its result is cut (same semantics as
 *   the implicit transaction it replaces). In
 *   the extended protocol the BEGIN goes as Parse/Bind/Execute/Close of a name of regate's own before
 *   the write's Bind (a Query would drop the client's unnamed statement): PostgreSQL turns the batch's
 *   implicit transaction into that block, and regate ends it after the batch's Sync;
 * - inside the client's transaction block, a cut statement that completed anyway is followed by a
 *   statement that fails, so the block is aborted exactly as the client's error says it is;
 * - nothing may end the transaction behind such a write before its result is complete: see
 *   cutCannotUndo and settleFirst.
 */
const BEGIN = serialize.query("BEGIN");
const COMMIT = serialize.query("COMMIT");
const ROLLBACK = serialize.query("ROLLBACK");
const FAIL_BLOCK = serialize.query("REGATE_BUDGET_EXCEEDED");
const FLUSH = serialize.flush();

function rowsBudgeted(s: SessionState): boolean {
  return s.ctx.budget.rowsBudgeted;
}

function changesBudgeted(s: SessionState): boolean {
  return s.ctx.budget.changesBudgeted;
}

/** Kinds that run inside a transaction block as they do alone (VACUUM, CREATE DATABASE, … would fail in one). */
const WRAPPABLE = new Set<StatementFacts["kind"]>(["select", "insert", "update", "delete", "merge", "copy", "explain", "execute", "do", "call", "fetch", "lock", "listen", "notify", "show", "set"]);

/**
 * A statement that may change rows: a write, or a statement running code the analysis cannot see into (a
 * function the catalog does not vouch for as immutable or stable, DO, CALL, EXECUTE, FETCH of a cursor).
 * For the rows_changed_per_transaction budget, counted by the server after the group that ran it.
 */
export function mayChangeRows(st: StatementFacts): boolean {
  if (st.writes || st.opaque || st.unknown.length > 0 || st.ddl !== null) return true;
  if (st.kind === "do" || st.kind === "call" || st.kind === "execute" || st.kind === "fetch" || st.kind === "copy") return true;
  return st.functions.some((f) => f.volatility !== "immutable" && f.volatility !== "stable");
}

/** A write whose result a cut can interrupt after the write itself is done. */
const returningWrite = (st: StatementFacts): boolean => st.writes && st.outputs.length > 0;

/**
 * Whether regate wraps the message in its own transaction. A Query of several statements runs as one
 * implicit transaction, so it is wrapped as a whole (a cut then rolls all of it back, as any error in
 * it would); one that also carries transaction control is refused instead (cutCannotUndo, uncountable).
 */
export function needsWrap(s: SessionState, analysis: AnalysisResult): boolean {
  if (s.txStatus !== 0x49 || analysis.statements.length === 0) return false;
  const sts = analysis.statements;
  const changes = changesBudgeted(s);
  const wanted = (rowsBudgeted(s) && sts.some(returningWrite)) || (changes && sts.some(mayChangeRows));
  return wanted && sts.every((st) => wrappable(st, changes));
}

/**
 * Statements regate's wrap may hold. DDL too while changed rows are counted (CREATE TABLE AS, a column
 * default that calls a function, run for every row): one that cannot run in a transaction block (CREATE
 * INDEX CONCURRENTLY, CREATE DATABASE) then fails there, as uncountable, with the server's own reason.
 */
function wrappable(st: StatementFacts, changes: boolean): boolean {
  return st.ddl === null ? WRAPPABLE.has(st.kind) : changes;
}

/**
 * One Query that both writes with RETURNING and ends or opens a transaction: the server runs all of it
 * before regate can act on a cut (`INSERT ... RETURNING ...; COMMIT` commits what the cut claims to
 * withhold), and neither regate's BEGIN nor a failed block can undo that. Refused while a row or byte
 * budget is set; sent as separate messages, each is handled as the module comment says.
 */
export function cutCannotUndo(s: SessionState, analysis: AnalysisResult | undefined): Veto | undefined {
  if (!analysis || analysis.statements.length < 2 || !rowsBudgeted(s)) return undefined;
  const sts = analysis.statements;
  if (!sts.some(returningWrite) || !sts.some((st) => st.kind === "transaction")) return undefined;
  return { reason: "a write with RETURNING cannot share a Query with transaction control while row or byte budgets are set; send them as separate statements", error_code: "FEATURE_UNSUPPORTED" };
}

/**
 * In the client's own block, the rows a group changed are counted after it (rows-changed.ts): a group that may
 * change rows, while rows_changed_per_transaction is set. Outside a block, needsWrap wraps it instead.
 */
export function needsCount(s: SessionState, analysis: AnalysisResult): boolean {
  return changesBudgeted(s) && s.txStatus === 0x54 && analysis.statements.some(mayChangeRows);
}

/**
 * Transaction control executed inside an extended batch changes the server's status with no ReadyForQuery
 * to say so (that comes at the Sync). While a row budget is set, a BEGIN there (a driver may open its block so,
 * in the batch of its first statement) is taken as the block it opens, so a later write in the batch is
 * counted in it rather than wrapped (a wrap's COMMIT would end the client's block); after any other, the
 * status is unknown until the Sync, and rows_changed_per_transaction refuses changes until then (decode.ts).
 */
export function batchTransactionRan(s: SessionState, analysis: AnalysisResult | undefined, tag: string): void {
  if (!analysis || !(rowsBudgeted(s) || changesBudgeted(s)) || !analysis.statements.some((st) => st.kind === "transaction")) return;
  // Its batch's Sync already went: what follows is another batch, and that Sync's ReadyForQuery tells the status.
  if (s.pending.some((p) => p.kind === "sync")) return;
  if (tag === "BEGIN" || tag === "START TRANSACTION") s.txStatus = 0x54;
  else s.batchStatusUnknown = true;
}

/**
 * What the rows_changed_per_transaction count cannot follow, refused while it is set: TRUNCATE (the server
 * does not count the rows it empties); a Query that both changes rows and ends or opens a transaction (the
 * server would commit before regate could count); a Query sent inside an extended batch not yet synced,
 * when either may change rows (it shares the batch's transaction, whose count waits for the Sync); and a
 * FunctionCall (a function the analysis cannot see, in a transaction of its own).
 */
export function uncountable(s: SessionState, statement: Statement, analysis: AnalysisResult | undefined): Veto | undefined {
  if (!changesBudgeted(s)) return undefined;
  const next = "send it as a statement of its own, or ask an operator to lift rows_changed_per_transaction for this agent";
  if (statement.message === "function_call") return { reason: `a FunctionCall cannot be counted against rows_changed_per_transaction; call the function with SELECT instead`, error_code: "FEATURE_UNSUPPORTED" };
  if (!analysis) return undefined;
  const sts = analysis.statements;
  if (sts.some((st) => st.kind === "truncate")) return { reason: "TRUNCATE empties tables without counting the rows, so it is refused while rows_changed_per_transaction is set; DELETE the rows with a WHERE instead", error_code: "FEATURE_UNSUPPORTED" };
  const changes = sts.some(mayChangeRows);
  // A holdable cursor's query runs at COMMIT, after the last count: one that may change rows cannot be counted.
  if (sts.some((st) => st.kind === "cursor" && mayChangeRows(st))) {
    return { reason: "a cursor over a query that may change rows cannot be counted against rows_changed_per_transaction (WITH HOLD runs it at COMMIT); run the query itself", error_code: "FEATURE_UNSUPPORTED" };
  }
  if (s.txStatus === 0x49 && changes && !sts.every((st) => wrappable(st, true))) {
    return { reason: `this statement may change rows outside a transaction regate can count them in (rows_changed_per_transaction); ${next}`, error_code: "FEATURE_UNSUPPORTED" };
  }
  if (statement.message === "query" && sts.length > 1 && changes && sts.some((st) => st.kind === "transaction")) {
    return { reason: `a Query that changes rows cannot also hold transaction control while rows_changed_per_transaction is set; ${next}`, error_code: "FEATURE_UNSUPPORTED" };
  }
  if (statement.message === "query" && s.group.length > 0 && (changes || s.batchChanged)) {
    return { reason: "a Query inside an extended batch that changes rows cannot be counted against rows_changed_per_transaction; send Sync first", error_code: "FEATURE_UNSUPPORTED" };
  }
  return undefined;
}

/**
 * Messages that must not reach the server before it has answered everything sent earlier, while a row
 * or byte budget is set: a write with RETURNING (whether regate wraps it depends on the transaction
 * status the server is really in, not the one a pipelined BEGIN or COMMIT is about to change) and
 * transaction control (pipelined behind such a write in the same batch, a COMMIT, END or COMMIT AND
 * CHAIN would commit it before regate could act on its cut; once the write is answered, a cut skips
 * the rest of the batch as the server would after an error).
 */
export function settleFirst(s: SessionState, analysis: AnalysisResult): Promise<void> | undefined {
  if (s.pending.length === 0) return undefined;
  const rows = rowsBudgeted(s);
  const changes = changesBudgeted(s);
  if (!rows && !changes) return undefined;
  if (!analysis.statements.some((st) => st.kind === "transaction" || (rows && returningWrite(st)) || (changes && mayChangeRows(st)))) return undefined;
  // Within an extended batch the server holds its answers until Sync or Flush: ask for them.
  s.toServer(FLUSH);
  return answered(s, () => s.pending.length === 0);
}

export function beginWrap(s: SessionState): void {
  s.pending.push({ kind: "internal", final: false });
  s.toServer(BEGIN);
  readChangesBase(s, false);
}

const WRAP_NAME = "regate_wrap_begin";
const BEGIN_EXTENDED = Buffer.concat([
  serialize.parse({ name: WRAP_NAME, text: "BEGIN", types: [] }),
  serialize.bind({ statement: WRAP_NAME, portal: WRAP_NAME, values: [] }),
  serialize.execute({ portal: WRAP_NAME }),
  serialize.close({ type: "S", name: WRAP_NAME }),
]);

/** BEGIN inside an extended batch, without touching the client's unnamed statement or portal. */
export function beginWrapExtended(s: SessionState): void {
  for (let i = 0; i < 4; i++) s.pending.push({ kind: "internal", final: false, extended: true });
  s.toServer(BEGIN_EXTENDED);
  readChangesBase(s, true);
}

/**
 * After the wrapped statement's own ReadyForQuery: commit it, or roll it back when it was cut. Its changed rows
 * are counted first when they are budgeted: a count over the bound fails, and the COMMIT then rolls back.
 */
export function endWrap(s: SessionState, cut: boolean): void {
  if (!cut && changesBudgeted(s)) countChanges(s, false);
  s.pending.push({ kind: "internal", final: true });
  s.toServer(cut ? ROLLBACK : COMMIT);
}

/** The client's block must fail like the client was told it did. */
export function failBlock(s: SessionState): void {
  s.pending.push({ kind: "internal", final: true, swallowErrors: true });
  s.toServer(FAIL_BLOCK);
}
