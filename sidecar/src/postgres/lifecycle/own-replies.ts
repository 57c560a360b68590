import { RegateError } from "../../errors.js";
import type { Pending } from "../pending.js";
import { Backend, decodeCommandTag, readyStatus, type Frame } from "../protocol/index.js";
import { budgetedError } from "./budget-text.js";
import { budgetError } from "./cut.js";
import { maskNotice } from "./mask-rows.js";
import { transactionEnded } from "./names.js";
import { observeError } from "./observe.js";
import type { ReplyOutcome } from "./replies.js";
import { readyForQuery, skipToSync } from "./reply-groups.js";
import type { SessionState } from "./state.js";
import { changesError, noteChangesBase } from "./rows-changed.js";
import { endWrap, failBlock } from "./transaction.js";

/** replies.ts's dispatch, passed in: the replies below go on to it for messages they do not consume. */
export type Dispatch = (s: SessionState, f: Frame) => ReplyOutcome;

/** Replies to a statement regate sent itself: the client sees only the final ReadyForQuery and real errors. */
export function internalReply(s: SessionState, f: Frame, head: Extract<Pending, { kind: "internal" }>, dispatch: Dispatch): ReplyOutcome {
  if (head.extended) {
    switch (f.type) {
      case Backend.ParseComplete:
      case Backend.BindComplete:
      case Backend.CloseComplete:
      case Backend.CommandComplete:
        s.pending.shift();
        return;
      case Backend.NoticeResponse:
        return;
      case Backend.DataRow:
        if (head.changesBase) return noteChangesBase(s, f);
        return dispatchOther(s, f, dispatch);
      case Backend.ErrorResponse:
        // The batch fails here, as it would have for the client's own message: show it, screened as any error is.
        s.groupFailed = true;
        skipToSync(s, head);
        if (head.countsChanges) {
          if (head.wrapEnd) commitAfterFailedCount(s);
          return s.toClient(changesError(s, f, head.wrapEnd === true));
        }
        return s.toClient(budgetedError(s, undefined, maskNotice(f, undefined, s.ctx.secrets, s.unkeptHoldMasked)));
      default:
        return dispatchOther(s, f, dispatch);
    }
  }
  switch (f.type) {
    case Backend.ReadyForQuery:
      s.pending.shift();
      const was = s.txStatus;
      s.txStatus = readyStatus(f.body);
      if (s.txStatus === 0x49) transactionEnded(s, was === 0x45);
      if (head.final) {
        s.wrapOpen = false;
        s.toClient(f.raw);
      }
      return;
    case Backend.ErrorResponse:
      // The count of changed rows fails when over the budget, or when it cannot run: the transaction is aborted.
      if (head.countsChanges) return s.toClient(changesError(s, f, !head.final));
      // A COMMIT can fail (deferred constraints): that is the client's statement failing, and its text is
      // screened as the same error at the statement's own implicit commit would be.
      if (head.final && !head.swallowErrors) s.toClient(budgetedError(s, undefined, maskNotice(f, undefined, s.ctx.secrets, s.unkeptHoldMasked)));
      return;
    case Backend.CommandComplete:
    case Backend.NoticeResponse:
      return;
    case Backend.RowDescription:
      // The shape of the counters' read, or of the count (which sends no row: it fails when over).
      if (head.countsChanges || head.changesBase) return;
      return dispatchOther(s, f, dispatch);
    case Backend.DataRow:
      if (head.changesBase) return noteChangesBase(s, f);
      return dispatchOther(s, f, dispatch);
    default:
      return dispatchOther(s, f, dispatch);
  }
}

/**
 * The count before a COMMIT failed (skipToSync left its own Sync first in line). When that COMMIT is the client's
 * Query, not regate's own wrap's, its reply is the error just shown, then ReadyForQuery.
 */
function commitAfterFailedCount(s: SessionState): void {
  const next = s.pending[1];
  if (s.pending[0]?.kind === "internal" && next?.kind === "query") next.countFailed = true;
}

/** Messages not tied to a reply group (ParameterStatus, notifications) still reach the client. */
function dispatchOther(s: SessionState, f: Frame, dispatch: Dispatch): ReplyOutcome {
  if (f.type === Backend.ParameterStatus || f.type === Backend.NotificationResponse) {
    const saved = s.pending.shift()!;
    try {
      return dispatch(s, f);
    } finally {
      s.pending.unshift(saved);
    }
  }
  throw new RegateError("PROTOCOL_VIOLATION", `unexpected upstream message ${String.fromCharCode(f.type)} for a statement regate sent`);
}

/**
 * Replies to a result cut by a budget: bookkeeping goes on, the client sees nothing until the error
 * that replaces the rest (the server's own cancel error, or ours before ReadyForQuery).
 */
export function cutReply(s: SessionState, f: Frame, dispatch: Dispatch): ReplyOutcome {
  const cut = s.cut!;
  if (f.type === Backend.ErrorResponse) {
    s.groupFailed = true;
    const head = s.pending[0];
    skipToSync(s, head);
    observeError(cut.statement, "54000");
    if (!cut.reported) s.toClient(budgetError(s, "cancelled"));
    return;
  }
  if (f.type === Backend.ReadyForQuery) {
    const head = s.pending[0];
    const wrapped = (head?.kind === "query" || head?.kind === "sync") && head.wrapped === true;
    const inBlock = readyStatus(f.body) === 0x54;
    if (!cut.reported) {
      observeError(cut.statement, "54000");
      s.toClient(budgetError(s, wrapped ? "rolled_back" : inBlock ? "block_failed" : "committed"));
    }
    s.cut = undefined;
    readyForQuery(s, f);
    // Undo what the cut statement did, whether or not the cancel landed in time.
    if (wrapped) return endWrap(s, true);
    if (inBlock) return failBlock(s);
    if (head?.kind === "query" && head.counted) s.wrapOpen = false;
    return s.toClient(f.raw);
  }
  if (f.type === Backend.CommandComplete && cut.statement === s.pending[0]?.stmt) cut.completed = decodeCommandTag(f.body);
  const toClient = s.toClient;
  s.toClient = () => {};
  try {
    if (f.type === Backend.DataRow || f.type === Backend.CopyData || f.type === Backend.NotificationResponse) return;
    return dispatch(s, f);
  } finally {
    s.toClient = toClient;
  }
}
