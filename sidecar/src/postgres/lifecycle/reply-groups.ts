import { EXTENDED, type Pending } from "../pending.js";
import { BODY, readyStatus, type Frame } from "../protocol/index.js";
import { transactionEnded } from "./names.js";
import { complete } from "./observe.js";
import type { SessionState } from "./state.js";
import { settleTemporary } from "./temporary-settle.js";

// Where a group of replies ends: the server's ReadyForQuery, or the Sync it skips to after an error.

export function readyForQuery(s: SessionState, f: Frame): void {
  const head = s.pending.shift();
  const was = s.txStatus;
  s.txStatus = readyStatus(f.raw, BODY);
  const failed = s.groupFailed;
  s.groupFailed = false;
  // Back to idle (an implicit transaction included): a failed block ("E") ended as a rollback, whatever
  // the client sent.
  if (s.txStatus === 0x49) transactionEnded(s, was === 0x45);
  // Idle: a WITH HOLD cursor's rows are kept by now (or it is gone), and its query does not run again.
  if (s.txStatus === 0x49) s.unkeptHoldMasked = false;
  if (s.txStatus === 0x49 && !failed) settlePath(s, head);
  settleTemporary(s, head, failed);
  if ((head?.kind === "sync" || head?.kind === "query") && head.sqlNames) s.sqlNamesInFlight--;
  if (head?.kind === "sync") for (const st of head.done) complete(s, st);
  else complete(s, head?.stmt);
}

/**
 * The server answered a message group (a Query, or an extended batch up to its Sync) without an error and
 * is idle: it committed. A search_path SET that ran alone in it (not LOCAL, not set_config, the one statement
 * of its group) is now the session's only path; until here it was one the tracker kept as possible
 * (enforce.ts). Alone: a later statement of the same batch may change the path again (set_config, SET LOCAL,
 * DISCARD ALL), or take the SET into a block and roll it back (a BEGIN inside the batch's implicit
 * transaction makes the statements before it part of the block); and the last statement the session began: a
 * Query sent inside the batch, before its Sync, runs in the batch's implicit transaction, and its ROLLBACK or
 * error undoes the SET, though it is no statement of the batch. Nothing else may be in flight: a later
 * message, sent before this answer, may change the path again or open a block, so the paths stay as they
 * are until a group ends with nothing after it.
 */
function settlePath(s: SessionState, head: Pending | undefined): void {
  if (s.pending.length > 0) return;
  const ran = head?.kind === "query" ? (head.stmt ? [head.stmt] : []) : head?.kind === "sync" ? head.done : [];
  if (ran.length !== 1) return;
  const st = ran[0]!;
  if (st.seq !== s.seq) return;
  const a = st.analysis;
  if (!a || a.statements.length !== 1 || st.result.sqlstate !== undefined || st.result.command_tags.length === 0) return;
  const sets = a.statements[0]!.settings.some((c) => (c.name === "search_path" || c.name === "all") && !c.local && c.action !== "set_config");
  if (sets) s.searchPath.apply(a.statements, true);
}

/** After an error in an extended batch the server skips to Sync: replies we expected will not come. */
export function skipToSync(s: SessionState, head: Pending | undefined): void {
  if (!head || !EXTENDED.has(head.kind)) return;
  const syncAt = s.pending.findIndex((p) => p.kind === "sync" || (p.kind === "internal" && p.ownSync === true));
  if (syncAt === -1) {
    s.pending.length = 0;
    s.serverSkipping = true;
  } else s.pending.splice(0, syncAt);
}
