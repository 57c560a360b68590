import { serialize } from "pg-protocol";
import type { Veto } from "../../decision/index.js";
import type { AnalysisResult, StatementFacts } from "../sql/types.js";
import { flushedUntil } from "./names.js";
import { mayChangeRows, wrappable } from "./changes-scope.js";
import { countChanges, expectOwnExtended, ownExtended, readChangesBase } from "./rows-changed.js";
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
const WRAP_END = "regate_wrap_end";
const SYNC = serialize.sync();
const FAIL_BLOCK = serialize.query("REGATE_BUDGET_EXCEEDED");

function rowsBudgeted(s: SessionState): boolean {
  return s.ctx.budget.rowsBudgeted;
}

function changesBudgeted(s: SessionState): boolean {
  return s.ctx.budget.changesBudgeted;
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
  return flushedUntil(s);
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
  s.batchWrapped = true;
}

/**
 * After the wrapped statement's own ReadyForQuery: commit it, or roll it back when it was cut. Its changed rows
 * are counted first when they are budgeted: a count over the bound fails, and the COMMIT then rolls back.
 */
export function endWrap(s: SessionState, cut: boolean): void {
  if (!cut && changesBudgeted(s)) countChanges(s, false);
  // In the extended protocol under a name of regate's own, then a Sync: a Query would drop the client's unnamed
  // statement, which outlives an extended batch (bound again in the next one). A COMMIT of a failed block rolls
  // it back, extended or not.
  expectOwnExtended(s);
  s.pending.push({ kind: "internal", final: true, ownSync: true });
  s.toServer(Buffer.concat([...ownExtended(WRAP_END, cut ? "ROLLBACK" : "COMMIT"), SYNC]));
}

/** The client's block must fail like the client was told it did. */
export function failBlock(s: SessionState): void {
  s.pending.push({ kind: "internal", final: true, swallowErrors: true });
  s.toServer(FAIL_BLOCK);
}
