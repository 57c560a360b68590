import { errorResponse } from "../protocol/index.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";

/**
 * A result crossed a budget: stop forwarding its rows, cancel it upstream, and hold the client's
 * next message until the cancel has been delivered, so it cannot land on a later statement.
 */
export function sendCancelOnce(s: SessionState, statement: Statement, budget: string): void {
  if (s.cut) return;
  s.cut = { statement, budget, reported: false };
  // Extended protocol: client messages not yet forwarded belong to a batch the client will see fail
  // (unless its Sync already went: then what follows is a new batch). A FunctionCall is a group of its own,
  // ended by its ReadyForQuery as a Query is: nothing after it is skipped.
  const extended = statement.message === "parse" || statement.message === "bind";
  if (extended && !s.pending.some((p) => p.kind === "sync")) s.skipUntilSync = true;
  if (sentBehind(s, statement)) {
    // A cancel names the connection, not the statement: with another group already sent behind this one, the
    // server may have finished this one, and the cancel would fail the next (a pipelined Query within every
    // budget was answered 57014). So the rest of the result is read and dropped (cutReply), and a write is
    // undone as after any cut, by the wrap's ROLLBACK or the failed block (transaction.ts).
    s.log.info({ statement: statement.seq, budget, rows: statement.result.rows, bytes: statement.result.bytes }, "budget cut a result; not cancelled upstream: the client had pipelined more behind it");
    return;
  }
  const cancelled = s.cancelUpstream().catch((err: unknown) => s.log.warn({ err }, "budget cut: cancel request failed"));
  // Read no more of the result until the cancel is delivered: the server, blocked on a full socket,
  // is still inside the statement when the cancel lands, so it fails (and rolls back) instead of completing.
  s.pauseUpstream(cancelled);
  holdClientUntil(s, cancelled);
  s.log.info({ statement: statement.seq, budget, rows: statement.result.rows, bytes: statement.result.bytes }, "budget cut a result");
}

/**
 * Another group of the client's (a Query, a FunctionCall, an extended batch) is already on its way behind the
 * cut statement, sent to the server or being decided by regate (its analysis or approval under way: it is
 * sent when ready, barrier or not), and nothing more of the cut statement's own group is: what of its own
 * group follows (the rest of a Query's statements, the rest of a batch before its Sync) must fail as the
 * client is told it does, which only the cancel makes it do.
 */
function sentBehind(s: SessionState, statement: Statement): boolean {
  const p = s.pending;
  const head = p[0];
  const deciding = s.current !== undefined && s.current !== statement;
  if (!head) return deciding;
  if (head.kind === "query") return head.index >= (head.analysis?.statements.length ?? 1) - 1 && (p.length > 1 || deciding);
  if (head.kind === "function_call") return p.length > 1 || deciding;
  if (p.length > 1 && p[1]!.kind !== "sync") return false;
  return p.length > 2 || deciding;
}

/**
 * The client's next messages wait for `delivered` (a cancel on its way) as well as for whatever they already
 * wait for: a budget cut and a withdrawn approval may each have a cancel in flight.
 */
export function holdClientUntil(s: SessionState, delivered: Promise<void>): void {
  const before = s.barrier;
  s.barrier = before ? Promise.all([before, delivered]).then(() => undefined) : delivered;
}

export type CutEnding = "cancelled" | "rolled_back" | "block_failed" | "committed";

const ENDINGS: Record<CutEnding, string> = {
  cancelled: "the statement was cancelled",
  rolled_back: "the statement was rolled back",
  block_failed: "the statement was undone and the transaction block is aborted (ROLLBACK to go on)",
  committed: "the statement had already completed and committed upstream; only its result was withheld",
};

/** The error the client gets in place of the rest of a result that crossed a budget. */
export function budgetError(s: SessionState, ending: CutEnding): Buffer {
  const cut = s.cut!;
  cut.reported = true;
  const r = cut.statement.result;
  const id = cut.statement.decision?.decision_id;
  return errorResponse("54000", `regate: budget exceeded: ${cut.budget}; the result was cut after ${r.rows} rows and ${ENDINGS[ending]}`, {
    ...(id ? { detail: `decision_id ${id}` } : {}),
    hint: "Ask for fewer rows (LIMIT, WHERE, narrower columns) or ask an operator to raise this agent's budget. The session is still usable.",
  });
}
