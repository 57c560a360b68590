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
  // Client messages not yet forwarded belong to a batch the client will see fail: the server must not run them.
  s.skipUntilSync = true;
  s.barrier = s.cancelUpstream().catch((err: unknown) => s.log.warn({ err }, "budget cut: cancel request failed"));
  s.log.info({ statement: statement.seq, budget, rows: statement.result.rows, bytes: statement.result.bytes }, "budget cut a result");
}

/** The error the client gets in place of the rest of a result that crossed a budget. */
export function budgetError(s: SessionState): Buffer {
  const cut = s.cut!;
  cut.reported = true;
  const r = cut.statement.result;
  const id = cut.statement.decision?.decision_id;
  return errorResponse("54000", `regate: budget exceeded: ${cut.budget}; the result was cut after ${r.rows} rows and the statement cancelled`, {
    ...(id ? { detail: `decision_id ${id}` } : {}),
    hint: "Ask for fewer rows (LIMIT, WHERE, narrower columns) or ask an operator to raise this agent's budget. The session is still usable.",
  });
}
