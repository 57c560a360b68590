import type { Decision } from "../../decision/index.js";
import { resolvedObjects } from "../approved-objects.js";
import { flushedUntil } from "./names.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";

/**
 * Hands an `approve` decision to the `hold` hook (approval/): resolves to the decision to enforce once a
 * human answered. Called for the message that executes the statement (a Query, a Bind, a FunctionCall),
 * never for a Parse: a Parse runs nothing, and drivers that prepare apart from executing (pgx and
 * asyncpg's statement caches, psycopg's prepare, JDBC past prepareThreshold) then bind in a later batch,
 * which is decided again. Held at the Parse, one execution asked a reviewer twice, and in defer mode the
 * grant of the re-run was spent on its Parse, so the Bind asked anew every time (drivers-redteam.test.ts).
 */
export function holdApproval(s: SessionState, statement: Statement, decision: Decision): Decision | Promise<Decision> {
  const hold = s.ctx.hooks.hold;
  if (decision.outcome !== "approve" || !hold) return decision;
  if (statement.message === "function_call") return (statement.decision = unapprovable(decision));
  if (s.definitionsUnsettled && s.pending.length > 0) {
    // DDL sent ahead of it may be committed before it runs (an autocommit Query pipelined before it): whether it
    // is, the session's next ReadyForQuery tells (names.ts transactionEnded). Decided once everything sent
    // earlier is answered, not refused on a race with that answer; within an unsynced batch it stays unsettled.
    return flushedUntil(s).then(() => holdApproval(s, statement, decision));
  }
  const held = (s.held = new AbortController());
  s.watchClient();
  const analysis = statement.analysis;
  const objects = () => resolvedObjects((sql) => s.ctx.catalog.query(sql), analysis, sqlNames(s));
  const control = { notify: (buf: Buffer) => s.toClient(buf), signal: held.signal, in_transaction: s.txStatus !== 0x49, settings: s.reading.chosen(), search_path: s.searchPath.current, objects, definitions_unsettled: s.definitionsUnsettled };
  return hold(s.info, statement, decision, control)
    .then((d) => (statement.decision = d))
    .finally(() => {
      if (s.held === held) s.held = undefined;
    });
}

/**
 * The session's SQL-level prepared statements and cursors, by name and text: `EXECUTE p` and `FETCH c` keep
 * their text while the agent prepares or declares another statement under the name (a SELECT approved, a
 * DELETE run). All of them, not only those the statement names: a grant's re-run under others asks again.
 */
function sqlNames(s: SessionState): string[][] {
  const out: string[][] = [];
  for (const [name, facts] of s.prepared) out.push(["prepared", name, facts.sql]);
  for (const [name, facts] of s.cursors) out.push(["cursor", name, facts.sql]);
  return out.sort((a, b) => (a.join("\u0000") < b.join("\u0000") ? -1 : 1));
}

/** A Parse decided `approve` goes to the server undecided in effect: its Bind is held (holdApproval). */
export function heldAtBind(s: SessionState, decision: Decision): boolean {
  return decision.outcome === "approve" && s.ctx.hooks.hold !== undefined;
}

/**
 * A FunctionCall carries no SQL text, only a function oid and argument bytes: its digest (approval/hash.ts,
 * over the text and Bind values) would be the same for every function and argument, so one grant would run
 * any fastpath call, and a reviewer would be shown an empty statement. It is refused, never asked.
 */
function unapprovable(d: Decision): Decision {
  const { approve: _approve, next_step: _next, ...rest } = d;
  return {
    ...rest,
    outcome: "deny",
    reasons: ["a FunctionCall (fastpath) cannot be approved: a reviewer could not be shown which function it calls or with what arguments"],
    error_code: "APPROVAL_REQUIRED",
    next_step: "call the function in a SQL statement, which a reviewer can read",
  };
}
