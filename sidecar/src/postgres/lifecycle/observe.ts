import { sendCancelOnce } from "./cut.js";
import { hookFailed } from "./decide.js";
import type { EndReason } from "./hooks.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";

/** Stage 6: counts one DataRow of `bytes` for the statement; false when a budget cut it off. */
export function observeRow(s: SessionState, statement: Statement | undefined, bytes: number): boolean {
  if (!statement) return true;
  const r = statement.result;
  r.rows++;
  r.bytes += bytes;
  const crossed = s.ctx.budget.row(bytes, r.rows, r.bytes);
  if (!crossed) {
    awaitLease(s);
    return true;
  }
  r.rows--;
  r.bytes -= bytes;
  r.budget_cut = crossed;
  sendCancelOnce(s, statement, crossed);
  return false;
}

/**
 * A notification's payload is data the agent receives as surely as a row (`SELECT pg_notify('c', t::text)
 * FROM t` returns one row and sends the whole table): it counts as a row of the statement it arrives with,
 * and is cut like one. One that arrives with no statement running counts against the session's budgets
 * only, and past them is withheld.
 */
export function observeNotification(s: SessionState, statement: Statement | undefined, bytes: number): boolean {
  if (statement && !statement.completed) return observeRow(s, statement, bytes);
  const crossed = s.ctx.budget.row(bytes, 0, 0);
  if (crossed) s.log.info({ budget: crossed, bytes }, "budget withheld a notification");
  else awaitLease(s);
  return !crossed;
}

/**
 * An ErrorResponse or NoticeResponse from the server: text the agent receives as surely as a row, and as
 * large as the statement makes it (`SELECT string_agg(o::text, ',')::int FROM orders o` fails quoting the
 * whole table). It counts as one row of its bytes against the session and agent budgets, and as its bytes
 * against the statement's (not as one of the statement's rows: an error after a statement's last allowed
 * row keeps its text). Returns the budget it crossed: the caller withholds the text then. No cancel: an
 * error has ended its statement already, and a notice is only dropped.
 */
export function observeText(s: SessionState, statement: Statement | undefined, bytes: number): string | undefined {
  const budget = s.ctx.budget;
  if (!budget.rowsBudgeted) return undefined;
  const r = statement && !statement.completed ? statement.result : undefined;
  const crossed = budget.row(bytes, r?.rows ?? 0, (r?.bytes ?? 0) + bytes);
  if (crossed) s.log.info({ statement: statement?.seq, budget: crossed, bytes }, "budget withheld server text");
  else awaitLease(s);
  return crossed;
}

/**
 * workers > 1: a row went ahead of the agent's lease (by what masking added to it; a reply the lease does not
 * cover waits before it gets here, session.ts): read nothing more upstream until the primary has answered.
 */
function awaitLease(s: SessionState): void {
  const waiting = s.ctx.budget.agent?.waiting;
  if (waiting && s.leaseWait !== waiting) {
    s.leaseWait = waiting;
    s.pauseUpstream(waiting);
  }
}

export function observeTag(statement: Statement | undefined, tag: string): void {
  statement?.result.command_tags.push(tag);
}

export function observeError(statement: Statement | undefined, sqlstate: string): void {
  if (statement && !statement.result.sqlstate) statement.result.sqlstate = sqlstate;
}

/** The statement's replies are over (its ReadyForQuery arrived, or the session ended). */
export function complete(s: SessionState, statement: Statement | undefined): void {
  if (!statement || statement.completed) return;
  statement.completed = true;
  statement.result.duration_ms = Number(process.hrtime.bigint() - statement.started_ns) / 1e6;
  if (s.current === statement) s.current = undefined;
  // As callHook does, without a closure per statement.
  const completed = s.ctx.hooks.completed;
  if (completed) {
    try {
      completed(s.info, statement);
    } catch (err) {
      hookFailed(s, "completed", err);
    }
  }
}

/**
 * The session ended: every statement still waiting for its replies completes once, with what it got so far,
 * marked as cut short by the end (a recording must not show it as a statement that ran to completion).
 */
export function completeAllAtEnd(s: SessionState, reason: EndReason): void {
  const cutShort = (st: Statement | undefined): void => {
    if (st && !st.completed) st.result.session_ended = reason;
    complete(s, st);
  };
  for (const p of s.pending) {
    if (p.kind === "sync") for (const st of p.done) cutShort(st);
    else cutShort(p.stmt);
  }
  for (const st of s.group) cutShort(st);
}
