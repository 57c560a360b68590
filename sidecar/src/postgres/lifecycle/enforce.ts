import { serialize } from "pg-protocol";
import type { Decision } from "../../decision/index.js";
import type { Pending, Portal, PreparedStatement } from "../pending.js";
import type { Frame } from "../protocol/index.js";
import type { AnalysisResult, StatementFacts } from "../sql/types.js";
import { applyChanges } from "../sql/temporary.js";
import { expectCopyIn } from "./copy-in.js";
import { unmaskedRefusal } from "./function-call.js";
import { heldAtBind } from "./hold.js";
import { changesSqlNames } from "./names.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";
import { countBatch, countBeforeCommit, needsCount, readChangesBase } from "./rows-changed.js";
import { beginWrap, beginWrapExtended, needsWrap } from "./transaction.js";

/**
 * A refused message is replaced by one the server is sure to reject (a syntax error): the server then
 * does exactly what it does for any failed statement (aborts the transaction block, skips to Sync),
 * so transaction semantics stay the server's own. Its error is swapped for regate's refusal.
 */
const POISON_SQL = "REGATE_POLICY_DENIED";
const POISON_QUERY = serialize.query(POISON_SQL);
const POISON_PARSE = serialize.parse({ name: "regate_policy_denied", text: POISON_SQL, types: [] });
const DESCRIBE_PORTAL = (name: string) => serialize.describe({ type: "P", name });

/** Stage 4 for a Query: forward it as the client sent it, or the poison in its place. */
export function enforceQuery(s: SessionState, f: Frame, statement: Statement): void {
  const decision = statement.decision!;
  if (decision.outcome !== "allow") {
    s.pending.push({ kind: "query", denial: decision, index: 0, stmt: statement });
    return s.toServer(POISON_QUERY);
  }
  const analysis = statement.analysis!;
  const wrapped = needsWrap(s, analysis);
  const counted = !wrapped && needsCount(s, analysis);
  applyAllowed(s, analysis);
  if (wrapped) beginWrap(s);
  else if (counted) readChangesBase(s, false);
  if (wrapped || counted) s.wrapOpen = true;
  const sqlNames = changesSqlNames(analysis);
  if (sqlNames) s.sqlNamesInFlight++;
  const entry: Pending = { kind: "query", decision, analysis, index: 0, stmt: statement, ...(wrapped ? { wrapped } : {}), ...(counted ? { counted } : {}), ...(sqlNames ? { sqlNames } : {}) };
  countBeforeCommit(s, analysis, false);
  s.pending.push(entry);
  expectCopyIn(s, entry, analysis);
  s.toServer(f.raw);
}

/** Stage 4 for a Parse; `decision` is undefined when it waits for the Bind values. */
export function enforceParse(s: SessionState, f: Frame, prepared: PreparedStatement, statement: Statement): void {
  const decision = prepared.decision;
  // An approve goes on (a Parse runs nothing) and is held at the Bind that executes it (hold.ts).
  if (decision && decision.outcome !== "allow" && !heldAtBind(s, decision)) return poison(s, decision, statement);
  if (decision) applyAllowed(s, prepared.analysis);
  // A Parse runs code of the agent's choosing too: a composite literal is read by record_in, which runs a domain
  // column's CHECK (a function that deletes) during parse analysis. So the counters' base is read before it, not
  // at the first Bind, and the batch is counted at its Sync even with no Bind (rows-changed.ts); with a row budget
  // too, regate's wrap (and its base read) begins before it for the same reason.
  if (!countBatch(s, prepared.analysis) && s.ctx.budget.changesBudgeted && needsWrap(s, prepared.analysis)) beginWrapExtended(s);
  // The name is the statement's once the server says ParseComplete (names.ts).
  s.pending.push({ kind: "parse", statement: prepared, stmt: statement });
  s.toServer(f.raw);
}

/** Stage 4 for a Bind: the portal exists only if its decision allows it. */
export function enforceBind(s: SessionState, f: Frame, portal: Portal, statement: Statement, fresh: boolean): void {
  const decision = portal.decision;
  if (decision.outcome !== "allow") return poison(s, decision, statement);
  if (fresh) applyAllowed(s, portal.statement.analysis);
  // Applied at its Parse too, but a DISCARD TEMP since (temporary-settle.ts) emptied pg_temp, and this run makes it again.
  else applyTemporary(s, portal.statement.analysis);
  // Counted in the batch's own transaction, before its Sync (rows-changed.ts); asked again when already counted
  // from a Parse: a BEGIN executed since (answered, settleFirst) makes it the block's. Else, with a row budget, the
  // implicit transaction of this batch becomes regate's own, ended at its Sync (transaction.ts).
  if (!countBatch(s, portal.statement.analysis, true) && needsWrap(s, portal.statement.analysis)) beginWrapExtended(s);
  // The portal is the name's once the server says BindComplete (names.ts).
  s.pending.push({ kind: "bind", portal, stmt: statement });
  s.toServer(f.raw);
  if (decision.mask.length > 0 && !portal.statement.fields) {
    // The row shape is needed before the first DataRow; ask for it without the client seeing the reply.
    s.pending.push({ kind: "describe", target: "P", portal, internal: true });
    s.toServer(DESCRIBE_PORTAL(portal.name));
  }
}

/** Stage 4 for a FunctionCall (fastpath); its one value is screened and counted as it comes back (function-call.ts). */
export function enforceFunctionCall(s: SessionState, f: Frame, statement: Statement): void {
  const decision = unmaskedRefusal(statement.decision!) ?? statement.decision!;
  if (decision.outcome === "allow") {
    s.pending.push({ kind: "function_call", stmt: statement });
    return s.toServer(f.raw);
  }
  s.pending.push({ kind: "function_call", denial: decision, stmt: statement });
  s.toServer(POISON_QUERY);
}

/** Extended protocol refusal: a named Parse that cannot succeed, so the server fails the batch as for any error. */
export function poison(s: SessionState, decision: Decision, statement: Statement): void {
  s.skipUntilSync = true;
  s.pending.push({ kind: "parse", denial: decision, stmt: statement });
  s.toServer(POISON_PARSE);
}

/**
 * What an allowed statement may do to the session's own state, applied as it is sent: the search_path
 * (SearchPathTracker keeps every path it may have), the catalog. SQL-level names change once the server
 * confirms the statement ran (names.ts). A new search_path is only possible when sent: the server may never
 * run the statement (a Parse alone), or roll it back (a later statement of its extended batch fails, a
 * block the client opened in a message not yet answered); it becomes the only one once the server has
 * answered the statement's message group without an error, outside a block (replies.ts, settlePath).
 */
function applyAllowed(s: SessionState, analysis: AnalysisResult): void {
  s.searchPath.apply(analysis.statements, false);
  applyTemporary(s, analysis);
  for (const st of analysis.statements) {
    if (st.ddl) {
      s.definitionsUnsettled = true;
      s.ctx.catalog.invalidate();
      s.analyses.clear();
    } else if (runsUnseenCode(st)) s.definitionsUnsettled = true;
  }
}

/**
 * A statement whose effect regate cannot see may run DDL as well (`DO $$ … ALTER TABLE … $$`, a CALL, a
 * function of the database's own whose body does): until it is committed, a later statement's approval reads
 * definitions that are not the ones it runs on (state.ts definitionsUnsettled). Built-in functions change none.
 */
function runsUnseenCode(st: StatementFacts): boolean {
  if (st.opaque) return true;
  return st.functions.some((f) => (f.candidates ?? (f.schema === null ? [] : [f.schema])).some((schema) => schema !== "pg_catalog") || (f.schema === null && f.candidates === undefined));
}

/**
 * What the statement stores in pg_temp, kept whether or not the server runs it (temporary-settle.ts says when
 * the count starts over).
 */
function applyTemporary(s: SessionState, analysis: AnalysisResult): void {
  if (analysis.temporary && applyChanges(s.temporary, analysis.temporary, analysis.statements)) s.analyses.temporaryChanged();
}
