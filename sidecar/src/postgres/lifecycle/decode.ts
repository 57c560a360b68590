import type { Decision } from "../../decision/index.js";
import { RegateError } from "../../errors.js";
import type { Pending, PreparedStatement, Portal } from "../pending.js";
import type { AnalysisResult } from "../sql/types.js";
import { runsAtCursor } from "../sql/index.js";
import { parameterInputs } from "../parameters.js";
import { BODY, decodeBind, decodeExecute, decodeFunctionCall, decodeParse, decodeQuery, decodeTarget, Frontend, type BindMessage, type Frame, type ParseMessage } from "../protocol/index.js";
import { analyse, factsStamp } from "./analyse.js";
import { copyInClient, expectCopyIn } from "./copy-in.js";
import { ownRefusal } from "./refusal.js";
import { mayChangeRows } from "./changes-scope.js";
import { baseInFlight, countBatch, countBeforeCommit, countBeforeSync } from "./rows-changed.js";
import { settleFirst } from "./transaction.js";
import { decide, previewShape } from "./decide.js";
import { holdApproval } from "./hold.js";
import { enforceBind, enforceFunctionCall, enforceParse, enforceQuery, poison } from "./enforce.js";
import { answered, changesSqlNames, flushedUntil, portalNamed, sqlNamesSettled, statementNamed } from "./names.js";
import type { SessionState } from "./state.js";
import { answerOwnApprovals, ownAllow, ownQueryOf, ownRowsAtBind, readsOwnApprovals, refuseOwnApprovalsExtended, shapeParse } from "./own-approvals.js";
import { newStatement, type Statement, type StatementMessage } from "./statement.js";

type Step = Promise<void> | void;

/** Runs `next` now, or when the value arrives: stages stay synchronous unless one must wait. */
function then<T>(value: T | Promise<T>, next: (v: T) => Step): Step {
  return value instanceof Promise ? value.then(next) : next(value);
}

function begin(s: SessionState, message: StatementMessage, sql: string): Statement {
  const statement = newStatement(++s.seq, message, sql);
  s.current = statement;
  return statement;
}

/**
 * Stage 1: one client message. Statement-bearing messages go through analyse -> decide -> enforce;
 * the rest are forwarded with the reply they expect noted. Returns a promise when the message must
 * wait (catalog lookup, a held approval); the session handles no later message until it settles.
 */
export function onClientFrame(s: SessionState, f: Frame): Step {
  if (s.copyIn) {
    const copy = copyInClient(s, f);
    if (copy === true) return;
    if (copy) return copy.then(() => onClientFrame(s, f));
  }
  // A message sent now would run inside regate's own transaction: a COMMIT there would commit a write
  // regate is about to roll back, and tell the client it was.
  if (s.wrapOpen) return answered(s, () => !s.wrapOpen).then(() => onClientFrame(s, f));
  const skipping = s.skipUntilSync || s.serverSkipping;
  if (!skipping && EXTENDED_NAMED.has(f.type) && hasLongName(f)) {
    // The server keys statements and portals on their first 63 bytes: two longer names can be one to it.
    return refuseMessage(s, "a prepared statement or portal name is longer than 63 bytes, which the server cuts", "use names of at most 63 bytes");
  }
  switch (f.type) {
    case Frontend.Query: {
      if (skipping) return;
      const settled = sqlNamesSettled(s);
      if (settled) return settled.then(() => onClientFrame(s, f));
      const sql = decodeQuery(f.raw, BODY);
      const statement = begin(s, "query", sql);
      return then(analyse(s, sql), (analysis) => {
        statement.analysis = analysis;
        // regate.approvals is regate's own table: answered here, never decided by the policy nor forwarded.
        if (readsOwnApprovals(analysis)) return answerOwnApprovals(s, f, statement);
        const earlier = settleFirst(s, analysis);
        if (!earlier) return decideQuery(s, f, statement, analysis);
        return earlier.then(() => {
          // What was answered meanwhile may have been cut, and the server now skips to a Sync.
          if (!s.skipUntilSync && !s.serverSkipping) return decideQuery(s, f, statement, analysis);
          if (s.current === statement) s.current = undefined;
        });
      });
    }
    case Frontend.Parse: {
      if (skipping) return;
      const settled = sqlNamesSettled(s);
      if (settled) return settled.then(() => onClientFrame(s, f));
      const msg = decodeParse(f.raw, BODY);
      const statement = begin(s, "parse", msg.sql);
      s.group.push(statement);
      return then(analyse(s, msg.sql), (analysis) => {
        statement.analysis = analysis;
        // A Parse may change rows itself (enforce.ts reads the counters' base before it): the transaction status
        // that decides how it is counted is the server's once everything sent earlier is answered. Not again once
        // this batch is counted or wrapped: its base is read already (its Binds still settle, as before).
        const first = s.ctx.budget.changesBudgeted && !s.batchCounted && !s.batchWrapped && analysis.statements.some(mayChangeRows);
        const earlier = first ? settleFirst(s, analysis) : undefined;
        if (!earlier) return parsed(s, f, msg, statement, analysis);
        return earlier.then(() => {
          // What was answered meanwhile may have failed the batch, and the server now skips to a Sync.
          if (!s.skipUntilSync && !s.serverSkipping) return parsed(s, f, msg, statement, analysis);
        });
      });
    }
    case Frontend.Bind:
      if (skipping) return;
      return bind(s, f);
    case Frontend.Describe: {
      if (skipping) return;
      const t = decodeTarget(f.raw, BODY);
      const named = t.kind === "S" ? statementNamed(s, t.name) : portalNamed(s, t.name);
      if (named === "wait") return answered(s, () => (t.kind === "S" ? statementNamed(s, t.name) : portalNamed(s, t.name)) !== "wait").then(() => onClientFrame(s, f));
      // A name regate does not hold is described by the server as it holds it: a shape, no rows.
      if (t.kind === "S") {
        const prepared = named.value as PreparedStatement | undefined;
        // Drivers build their row decoders from this reply: it must already show masked columns as text,
        // even for a statement whose authorizing decision waits for its Bind values.
        if (prepared && !prepared.decision && !prepared.shape) prepared.shape = previewShape(s, prepared.analysis);
        s.pending.push({ kind: "describe", target: "S", statement: prepared });
      } else s.pending.push({ kind: "describe", target: "P", portal: named.value as Portal | undefined });
      return s.toServer(f.raw);
    }
    case Frontend.Execute: {
      if (skipping) return;
      const name = decodeExecute(f.raw, BODY).portal;
      const named = portalNamed(s, name);
      if (named === "wait") return answered(s, () => portalNamed(s, name) !== "wait").then(() => onClientFrame(s, f));
      const portal = named.value;
      if (!portal) return unknownName(s, "portal", name);
      // A portal bound before a pipelined BEGIN or COMMIT runs after it: its Bind's settling is not enough.
      const earlier = settleFirst(s, portal.statement.analysis);
      if (earlier) return earlier.then(() => onClientFrame(s, f));
      const uncounted = s.ctx.budget.changesBudgeted ? executesChange(s, portal.statement.analysis) : undefined;
      if (uncounted) return refuseMessage(s, `${uncounted}, in one extended batch, cannot be counted against rows_changed_per_transaction`, "send Sync between them");
      // A portal bound in an earlier batch of the block (left suspended) runs again in one with no Bind of its
      // own to ask for the count: this Execute asks for it, so the block is counted in this batch too.
      countBatch(s, portal.statement.analysis);
      const entry: Pending = portal.stmt ? { kind: "execute", portal, stmt: portal.stmt } : { kind: "execute", portal };
      if (portal.stmt) s.current = portal.stmt;
      countBeforeCommit(s, portal.statement.analysis, true);
      s.pending.push(entry);
      expectCopyIn(s, entry, portal.statement.analysis);
      return s.toServer(f.raw);
    }
    case Frontend.Close: {
      if (skipping) return;
      const t = decodeTarget(f.raw, BODY);
      // Gone once the server says CloseComplete (names.ts).
      s.pending.push({ kind: "close", target: t.kind, name: t.name });
      return s.toServer(f.raw);
    }
    case Frontend.Sync:
      // A batch the server already failed (or will fail: regate's poison) skips the count's messages, whose replies
      // would never come; it changed nothing that can commit, so it has nothing to count.
      const failed = s.skipUntilSync || s.serverSkipping;
      // The count is written with the base's figures: a base asked in this batch is not answered yet, so the
      // server is asked for what it has (Flush) and the Sync waits for it.
      if (s.batchCounted && !failed && baseInFlight(s)) {
        return flushedUntil(s, () => !baseInFlight(s)).then(() => onClientFrame(s, f));
      }
      s.skipUntilSync = false;
      s.serverSkipping = false;
      if (s.batchSqlNames) s.sqlNamesInFlight++;
      // The usual Sync (nothing wrapped, no SQL names) without spreading empty objects into it: one per execution.
      const done = s.group.splice(0);
      if (s.batchCounted && !failed) countBeforeSync(s, s.batchCounted);
      if (!s.batchWrapped && !s.batchSqlNames) s.pending.push({ kind: "sync", done });
      else s.pending.push({ kind: "sync", done, ...(s.batchWrapped ? { wrapped: true } : {}), ...(s.batchSqlNames ? { sqlNames: true } : {}) });
      if (s.batchWrapped) s.wrapOpen = true;
      s.batchWrapped = false;
      s.batchCounted = false;
      s.batchChanged = false;
      s.batchStatusUnknown = false;
      s.batchSqlNames = false;
      return s.toServer(f.raw);
    case Frontend.Flush:
    case Frontend.CopyData:
    case Frontend.CopyDone:
    case Frontend.CopyFail:
      // Copy messages belong to a COPY the policy already allowed; outside COPY the server ignores them.
      return s.toServer(f.raw);
    case Frontend.FunctionCall: {
      if (skipping) return;
      const oid = decodeFunctionCall(f.body).oid;
      const statement = begin(s, "function_call", "");
      return then(decide(s, statement, "function_call", { function_oid: oid }), () => enforceFunctionCall(s, f, statement));
    }
    default:
      throw new RegateError("PROTOCOL_VIOLATION", `unexpected message type ${String.fromCharCode(f.type)}`);
  }
}

/** A Parse once its facts are taken (and, when it may change rows, everything sent before it answered). */
function parsed(s: SessionState, f: Frame, msg: ParseMessage, statement: Statement, analysis: AnalysisResult): Step {
  if (changesSqlNames(analysis)) s.batchSqlNames = true;
  const prepared: PreparedStatement = { name: msg.name, sql: msg.sql, analysis, paramTypes: msg.paramTypes, decision: undefined };
  // Its facts hold while the statements and cursors it runs (EXECUTE, FETCH, WHERE CURRENT OF) stay as they were.
  if (analysis.statements.some((st) => st.kind === "execute" || st.kind === "fetch") || runsAtCursor(msg.sql)) prepared.overlay = s.analyses.overlay;
  if (analysis.taken !== undefined) prepared.taken = analysis.taken;
  if (readsOwnApprovals(analysis)) {
    // regate's own table: a shape-only statement goes upstream in its place; rows are added at Execute.
    const own = s.ctx.hooks.ownApprovals ? ownQueryOf(msg.sql) : undefined;
    if (!own) return enforceParse(s, f, { ...prepared, decision: (statement.decision = refuseOwnApprovalsExtended(!!s.ctx.hooks.ownApprovals)) }, statement);
    return enforceParse(s, shapeParse(msg.name, own, msg.paramTypes), { ...prepared, decision: (statement.decision = ownAllow()), own }, statement);
  }
  // With placeholders, the decision is taken at Bind with the values: one evaluation per execution.
  if (msg.paramTypes.length > 0 || /\$[0-9]/.test(msg.sql)) return enforceParse(s, f, prepared, statement);
  // Nothing but comments or semicolons runs nothing, as for a Query: pgjdbc's execute(""), a "-- ping".
  const empty = analysis.statements.length === 0 && !analysis.parse_error;
  return then(decide(s, statement, "parse", empty ? { empty_query: true } : {}), (d) => {
    prepared.decision = d;
    enforceParse(s, f, prepared, statement);
  });
}

/** A Query's decision, then its enforcement (a module function: no closure per Query). */
function decideQuery(s: SessionState, f: Frame, statement: Statement, analysis: AnalysisResult): Step {
  const empty = analysis.statements.length === 0 && !analysis.parse_error;
  const d = decide(s, statement, "query", empty ? { empty_query: true } : {});
  return d instanceof Promise ? d.then(() => enforceQuery(s, f, statement)) : enforceQuery(s, f, statement);
}

/**
 * A Bind or Execute naming what regate does not hold: the server may hold it all the same (an SQL
 * PREPARE or DECLARE, a definition regate never confirmed), so it is refused rather than forwarded.
 */
function unknownName(s: SessionState, what: "prepared statement" | "portal", name: string): void {
  refuseMessage(
    s,
    `${what} ${JSON.stringify(name)} is not one regate saw the server create in this session`,
    what === "portal" ? "bind the portal with the extended protocol first, or FETCH from an SQL cursor with FETCH" : "prepare it with Parse first, or run an SQL PREPARE with EXECUTE",
  );
}

const EXTENDED_NAMED = new Set<number>([Frontend.Parse, Frontend.Bind, Frontend.Describe, Frontend.Execute, Frontend.Close]);
const NAMEDATALEN = 64;

/** The message names a statement or portal of more than 63 bytes (the first NUL-terminated strings of its body). */
function hasLongName(f: Frame): boolean {
  const b = f.raw;
  // Parse: name; Bind: portal, statement; Execute: portal; Describe and Close: a kind byte, then the name.
  const start = BODY + (f.type === Frontend.Describe || f.type === Frontend.Close ? 1 : 0);
  const strings = f.type === Frontend.Bind ? 2 : 1;
  let at = start;
  for (let i = 0; i < strings; i++) {
    const end = b.indexOf(0, at);
    if (end < 0) return false;
    if (end - at >= NAMEDATALEN) return true;
    at = end + 1;
  }
  return false;
}

/**
 * Notes an Execute that may change rows in this batch; says what cannot be counted: transaction control run
 * after one (a COMMIT there would commit rows regate counts only at the Sync), or one run after transaction
 * control other than BEGIN (whether it is in a block is known only at the Sync).
 */
function executesChange(s: SessionState, analysis: AnalysisResult): string | undefined {
  const sts = analysis.statements;
  if (s.batchChanged && sts.some((st) => st.kind === "transaction")) return "transaction control after a statement that changes rows";
  if (!sts.some(mayChangeRows)) return undefined;
  if (s.batchStatusUnknown) return "a statement that changes rows after transaction control other than BEGIN";
  s.batchChanged = true;
  return undefined;
}

function refuseMessage(s: SessionState, reason: string, next: string): void {
  const statement = begin(s, "bind", "");
  s.group.push(statement);
  poison(s, (statement.decision = ownRefusal(reason, next)), statement);
}

function bind(s: SessionState, f: Frame, refreshed = false): Step {
  const msg = decodeBind(f.raw, BODY);
  const named = statementNamed(s, msg.statement);
  if (named === "wait") return answered(s, () => statementNamed(s, msg.statement) !== "wait").then(() => bind(s, f));
  const prepared = named.value;
  if (!prepared) return unknownName(s, "prepared statement", msg.statement);
  const earlier = settleFirst(s, prepared.analysis);
  // Through onClientFrame again: a cut answered meanwhile may have the rest of this batch skipped.
  if (earlier) return earlier.then(() => onClientFrame(s, f));
  if (prepared.overlay !== undefined && s.pending.length > 0) {
    // Its facts are of the session's statements and cursors as regate knows them, which changes only once the
    // server confirms: a DECLARE, CLOSE or PREPARE sent before this Bind (in a Query, or the Bind of a prepared
    // one earlier in this batch) would run first, unseen. Wait for every earlier answer, then compare.
    return flushedUntil(s).then(() => onClientFrame(s, f));
  }
  if (prepared.overlay !== undefined && prepared.overlay !== s.analyses.overlay) {
    // Its EXECUTE, FETCH or WHERE CURRENT OF names a statement or cursor that was defined anew since: the facts are stale.
    return refuseMessage(s, `prepared statement ${JSON.stringify(msg.statement)} runs EXECUTE, FETCH or WHERE CURRENT OF of a name redefined since it was prepared`, "prepare it again (Close it, then Parse)");
  }
  if (!refreshed && !prepared.own && prepared.taken !== factsStamp(s)) {
    // The server plans it again under today's search_path and catalog: so are its facts taken again, and
    // what was decided or learnt of its shape under the old ones is dropped.
    return then(analyse(s, prepared.sql), (analysis) => {
      prepared.analysis = analysis;
      prepared.taken = analysis.taken;
      prepared.decision = undefined;
      prepared.shape = undefined;
      prepared.fields = undefined;
      return bind(s, f, true);
    });
  }
  if (s.ctx.budget.changesBudgeted && msg.params.length > 0 && !prepared.analysis.statements.some(mayChangeRows)) {
    // The server converts every parameter a Bind carries with its type's input function, used or not, and a
    // domain's CHECK may call a function that deletes: a statement that may change rows has its Bind counted
    // (enforce.ts), but one that runs no expression (SHOW, SET, BEGIN) is neither wrapped nor counted, and has
    // no use for parameters (the server accepts none in it).
    return refuseMessage(s, "a Bind carrying parameters for a statement that takes none runs their types' input functions (a domain's CHECK) outside any count of rows_changed_per_transaction", "bind it without parameters");
  }
  // A Bind right after its own Parse continues that statement; any other starts one.
  const last = s.group.at(-1);
  const statement = last && last.message === "parse" && last.sql === prepared.sql && !last.bound ? last : begin(s, "bind", prepared.sql);
  if (statement !== last) s.group.push(statement);
  statement.bound = true;
  statement.analysis = prepared.analysis;
  if (prepared.own) {
    statement.decision = prepared.decision;
    const own = ownRowsAtBind(s, prepared.own, parameterInputs(msg.params, msg.paramFormats, prepared.paramTypes));
    return enforceBind(s, f, { name: msg.portal, statement: prepared, decision: prepared.decision!, resultFormats: msg.resultFormats, stmt: statement, own }, statement, false);
  }
  if (msg.params.length === 0 && prepared.decision && statement === last && statement.decision === prepared.decision) {
    // The Bind right after the Parse that decided it: one execution, one decision, already logged. Any
    // later execution (Bind/Execute only: node-postgres' named queries, JDBC past prepareThreshold) is
    // decided below as a statement of its own: the decision log has a line for it, budgets and locks see
    // it, and the Parse's decision is reused only as the policy's cache directive allows (same bundle,
    // within ttl_seconds). A decision a human approved is for this one execution.
    const d = prepared.decision;
    if (d.approve) prepared.decision = undefined;
    // A Parse's approve is held here, where the statement executes (hold.ts).
    const held = holdApproval(s, statement, d);
    return held instanceof Promise ? held.then((h) => bound(s, f, msg, prepared, statement, h, false)) : bound(s, f, msg, prepared, statement, held, false);
  }
  const parameters = parameterInputs(msg.params, msg.paramFormats, prepared.paramTypes);
  statement.parameters = parameters;
  // Only an approval reads them (its digest): no object per Bind when no approval service is wired.
  if (s.ctx.hooks.hold) statement.bindValues = { values: msg.params, formats: msg.paramFormats, types: prepared.paramTypes };
  // No closure per Bind: the decision is almost always there at once (a reuse, or evaluated in this turn).
  const d = decide(s, statement, "bind", { parameters });
  return d instanceof Promise ? d.then((v) => bound(s, f, msg, prepared, statement, v, true)) : bound(s, f, msg, prepared, statement, d, true);
}

/** The Bind's portal, under the decision it was given (`fresh`: taken for this Bind, not its Parse's). */
function bound(s: SessionState, f: Frame, msg: BindMessage, prepared: PreparedStatement, statement: Statement, decision: Decision, fresh: boolean): void {
  const portal: Portal = { name: msg.portal, statement: prepared, decision, resultFormats: msg.resultFormats, stmt: statement };
  enforceBind(s, f, portal, statement, fresh);
}
