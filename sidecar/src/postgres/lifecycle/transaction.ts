import { serialize } from "pg-protocol";
import type { AnalysisResult } from "../sql/types.js";
import type { SessionState } from "./state.js";

/**
 * A budget cut must leave the database as if the statement never ran. PostgreSQL computes a write's
 * RETURNING rows before it sends the first one, so by the time a row budget is crossed the write is
 * done; only its transaction can still be undone. So, while a row or byte budget is set:
 *
 * - an autocommit write that returns rows is wrapped in regate's own BEGIN ... COMMIT, and rolled
 *   back instead when its result is cut (same semantics as the implicit transaction it replaces). In
 *   the extended protocol the BEGIN goes as Parse/Bind/Execute/Close of a name of regate's own before
 *   the write's Bind (a Query would drop the client's unnamed statement): PostgreSQL turns the batch's
 *   implicit transaction into that block, and regate ends it after the batch's Sync;
 * - inside the client's transaction block, a cut statement that completed anyway is followed by a
 *   statement that fails, so the block is aborted exactly as the client's error says it is.
 */
const BEGIN = serialize.query("BEGIN");
const COMMIT = serialize.query("COMMIT");
const ROLLBACK = serialize.query("ROLLBACK");
const FAIL_BLOCK = serialize.query("REGATE_BUDGET_EXCEEDED");

export function needsWrap(s: SessionState, analysis: AnalysisResult): boolean {
  const l = s.ctx.budget.limits;
  if (l.rows_per_statement + l.bytes_per_statement + l.rows_per_session + l.bytes_per_session === 0) return false;
  if (s.txStatus !== 0x49 || analysis.statements.length !== 1) return false;
  const st = analysis.statements[0]!;
  return st.writes && st.outputs.length > 0 && st.ddl === null;
}

export function beginWrap(s: SessionState): void {
  s.pending.push({ kind: "internal", final: false });
  s.toServer(BEGIN);
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
}

/** After the wrapped statement's own ReadyForQuery: commit it, or roll it back when it was cut. */
export function endWrap(s: SessionState, cut: boolean): void {
  s.pending.push({ kind: "internal", final: true });
  s.toServer(cut ? ROLLBACK : COMMIT);
}

/** The client's block must fail like the client was told it did. */
export function failBlock(s: SessionState): void {
  s.pending.push({ kind: "internal", final: true, swallowErrors: true });
  s.toServer(FAIL_BLOCK);
}
