import { RegateError } from "../../errors.js";
import { rewriteFields } from "../mask-plan.js";
import { EXTENDED, type Pending } from "../pending.js";
import {
  Backend,
  BODY,
  decodeCommandTag,
  decodeNotice,
  decodeParameterDescription,
  decodeParameterStatus,
  decodeRowDescription,
  encodeRowDescription,
  readyStatus,
  type FieldDescription,
  type Frame,
} from "../protocol/index.js";
import { copyInFailed, copyInStarted } from "./copy-in.js";
import { budgetError } from "./cut.js";
import { callHook } from "./decide.js";
import { functionResult } from "./function-call.js";
import { maskNotice, maskNotification, maskRow, planFor } from "./mask-rows.js";
import { confirmClose, confirmCreated, confirmSqlNames, transactionEnded, wakeAnswered } from "./names.js";
import { complete, observeError, observeNotification, observeRow, observeTag } from "./observe.js";
import { refusalError } from "./refusal.js";
import type { SessionState } from "./state.js";
import { endWrap, failBlock } from "./transaction.js";

export type ReplyOutcome = void | { terminate: "UPSTREAM_SETTING_REFUSED"; message: string };

/**
 * Stage 5: one server message, matched to the client message it answers through the pending list,
 * then masked (stage 7), counted (stage 6) and written to the client (stage 8) — or swallowed when
 * it answers regate's own message, or replaced when it answers a refused one.
 */
export function onServerFrame(s: SessionState, f: Frame): ReplyOutcome {
  if (s.copyIn && f.type === Backend.ErrorResponse) copyInFailed(s, s.pending[0]);
  const outcome = s.cut ? cutReply(s, f) : dispatch(s, f);
  if (s.whenAnswered.length > 0) wakeAnswered(s);
  return outcome;
}

function dispatch(s: SessionState, f: Frame): ReplyOutcome {
  const head = s.pending[0];
  if (head?.kind === "internal") return internalReply(s, f, head);
  switch (f.type) {
    case Backend.DataRow: {
      const out = maskRow(s, f, head);
      if (!observeRow(s, head?.stmt, out.length)) return;
      const row = s.ctx.hooks.row;
      if (row && head?.stmt) callHook(s, "row", () => row(s.info, head.stmt!, out));
      return s.toClient(out);
    }
    case Backend.ParseComplete:
    case Backend.BindComplete:
    case Backend.CloseComplete:
    case Backend.NoData: {
      s.pending.shift();
      confirmName(s, f.type, head);
      if (head && "internal" in head && head.internal) return;
      return s.toClient(f.raw);
    }
    case Backend.ParameterDescription:
      if (head?.kind === "describe" && head.target === "S" && head.statement) head.statement.paramTypes = decodeParameterDescription(f.body);
      return s.toClient(f.raw);
    case Backend.RowDescription:
      return rowDescription(s, f, head);
    case Backend.CommandComplete:
    case Backend.EmptyQueryResponse:
    case Backend.PortalSuspended:
      if (f.type === Backend.CommandComplete) observeTag(head?.stmt, decodeCommandTag(f.raw, BODY));
      if (head?.kind === "query") {
        if (head.sqlNames) confirmSqlNames(s, head.analysis, head.index);
        head.index++;
        head.plan = undefined;
        if (head.synthetic && f.type === Backend.EmptyQueryResponse) return s.toClient(head.synthetic);
      } else if (head?.kind === "execute") {
        s.pending.shift();
        if (f.type === Backend.CommandComplete) confirmSqlNames(s, head.portal?.statement.analysis, 0);
        if (head.portal?.own && f.type === Backend.CommandComplete) return s.toClient(head.portal.own);
      }
      return s.toClient(f.raw);
    case Backend.ErrorResponse:
      return error(s, f, head);
    case Backend.ReadyForQuery:
      readyForQuery(s, f);
      if ((head?.kind === "query" || head?.kind === "sync") && head.wrapped) return endWrap(s, s.txStatus !== 0x54);
      return s.toClient(f.raw);
    case Backend.NoticeResponse:
      return s.toClient(maskNotice(f, head, s.ctx.secrets));
    case Backend.ParameterStatus: {
      const { name, value } = decodeParameterStatus(f.body);
      s.toClient(f.raw);
      if (name === "search_path") s.searchPath.reported(value); // a change no statement showed (a function body): search-path.ts
      if ((name === "client_encoding" && value.toUpperCase() !== "UTF8") || (name === "standard_conforming_strings" && value !== "on")) {
        return { terminate: "UPSTREAM_SETTING_REFUSED", message: `${name} changed to ${value}; regate cannot enforce policy on this session` };
      }
      return;
    }
    case Backend.CopyBothResponse:
      throw new RegateError("FEATURE_UNSUPPORTED", "replication streams are not allowed through regate");
    case Backend.NotificationResponse: {
      const out = maskNotification(f);
      if (!observeNotification(s, head?.stmt, out.length)) return;
      return s.toClient(out);
    }
    case Backend.CopyInResponse:
      copyInStarted(s, head);
      return s.toClient(f.raw);
    case Backend.CopyData:
      // COPY TO STDOUT sends a row per CopyData: counted against the budgets as DataRows are, or it would
      // carry a whole table past them.
      if (!observeRow(s, head?.stmt, f.raw.length)) return;
      return s.toClient(f.raw);
    case Backend.FunctionCallResponse: {
      const out = functionResult(s, f, head);
      return out ? s.toClient(out) : undefined;
    }
    case Backend.CopyOutResponse:
    case Backend.CopyDone:
      return s.toClient(f.raw);
    default:
      throw new RegateError("PROTOCOL_VIOLATION", `unexpected upstream message ${String.fromCharCode(f.type)}`);
  }
}

/** The server did what a Parse, Bind or Close asked: the name is now what the message made it. */
function confirmName(s: SessionState, type: number, head: Pending | undefined): void {
  if (type === Backend.ParseComplete && head?.kind === "parse" && head.statement && !head.denial) {
    s.statements.set(head.statement.name, head.statement);
    confirmCreated(s, "S", head.statement.name);
  } else if (type === Backend.BindComplete && head?.kind === "bind" && head.portal) {
    s.portals.set(head.portal.name, head.portal);
    confirmCreated(s, "P", head.portal.name);
  }
  else if (type === Backend.CloseComplete && head?.kind === "close" && head.name !== undefined && head.target) confirmClose(s, head.target, head.name);
}

function readyForQuery(s: SessionState, f: Frame): void {
  const head = s.pending.shift();
  const was = s.txStatus;
  s.txStatus = readyStatus(f.raw, BODY);
  const failed = s.groupFailed;
  s.groupFailed = false;
  // Back to idle (an implicit transaction included): a failed block ("E") ended as a rollback, whatever
  // the client sent.
  if (s.txStatus === 0x49) transactionEnded(s, was === 0x45);
  if (s.txStatus === 0x49 && !failed) settlePath(s, head);
  if ((head?.kind === "sync" || head?.kind === "query") && head.sqlNames) s.sqlNamesInFlight--;
  if (head?.kind === "sync") for (const st of head.done) complete(s, st);
  else complete(s, head?.stmt);
}

/**
 * The server answered a message group (a Query, or an extended batch up to its Sync) without an error and
 * is idle: it committed. A search_path SET that ran alone in it (not LOCAL, not set_config, one statement
 * in its message) is now the session's only path; until here it was one the tracker kept as possible
 * (enforce.ts). Nothing else may be in flight: a later message, sent before this answer, may change the
 * path again or open a block, so the paths stay as they are until a group ends with nothing after it.
 */
function settlePath(s: SessionState, head: Pending | undefined): void {
  if (s.pending.length > 0) return;
  const ran = head?.kind === "query" ? (head.stmt ? [head.stmt] : []) : head?.kind === "sync" ? head.done : [];
  for (const st of ran) {
    const a = st.analysis;
    if (!a || a.statements.length !== 1 || st.result.sqlstate !== undefined || st.result.command_tags.length === 0) continue;
    const sets = a.statements[0]!.settings.some((c) => (c.name === "search_path" || c.name === "all") && !c.local && c.action !== "set_config");
    if (sets) s.searchPath.apply(a.statements, true);
  }
}

/** Replies to a statement regate sent itself: the client sees only the final ReadyForQuery and real errors. */
function internalReply(s: SessionState, f: Frame, head: Extract<Pending, { kind: "internal" }>): ReplyOutcome {
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
      case Backend.ErrorResponse:
        // The batch fails here, as it would have for the client's own message: show it, screened as any error is.
        s.groupFailed = true;
        skipToSync(s, head);
        return s.toClient(maskNotice(f, undefined, s.ctx.secrets));
      default:
        return dispatchOther(s, f);
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
      // A COMMIT can fail (deferred constraints): that is the client's statement failing, and its text is
      // screened as the same error at the statement's own implicit commit would be.
      if (head.final && !head.swallowErrors) s.toClient(maskNotice(f, undefined, s.ctx.secrets));
      return;
    case Backend.CommandComplete:
    case Backend.NoticeResponse:
      return;
    default:
      return dispatchOther(s, f);
  }
}

/** Messages not tied to a reply group (ParameterStatus, notifications) still reach the client. */
function dispatchOther(s: SessionState, f: Frame): ReplyOutcome {
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
function cutReply(s: SessionState, f: Frame): ReplyOutcome {
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

function rowDescription(s: SessionState, f: Frame, head: Pending | undefined): void {
  // The row shape is decoded only where something is masked by it: a portal or query whose decision masks
  // nothing is shown the server's own bytes and keeps no shape (a later masked Bind of the same statement
  // asks the server for it, enforce.ts). A statement's Describe keeps its shape for the Binds to come.
  let fields: FieldDescription[] | undefined;
  let plan;
  if (head?.kind === "describe") {
    s.pending.shift();
    if (head.target === "S" && head.statement) {
      head.statement.fields = fields = decodeRowDescription(f.raw, BODY);
      plan = planFor(s, head.statement.decision ?? head.statement.shape, head.statement.analysis, fields);
    } else if (head.target === "P" && head.portal) {
      if (head.portal.decision.mask.length > 0) {
        head.portal.fields = fields = decodeRowDescription(f.raw, BODY);
        head.portal.statement.fields ??= fields;
        plan = planFor(s, head.portal.decision, head.portal.statement.analysis, fields);
      }
      head.portal.plan = plan ?? null;
    }
    if (head.internal) return;
  } else if (head?.kind === "query" && head.decision) {
    if (head.decision.mask.length > 0) plan = planFor(s, head.decision, head.analysis, (fields = decodeRowDescription(f.raw, BODY)), head.index);
    head.plan = plan ?? null;
  }
  s.toClient(plan && fields ? encodeRowDescription(rewriteFields(fields, plan)) : f.raw);
}

/** After an error in an extended batch the server skips to Sync: replies we expected will not come. */
function skipToSync(s: SessionState, head: Pending | undefined): void {
  if (!head || !EXTENDED.has(head.kind)) return;
  const syncAt = s.pending.findIndex((p) => p.kind === "sync");
  if (syncAt === -1) {
    s.pending.length = 0;
    s.serverSkipping = true;
  } else s.pending.splice(0, syncAt);
}

function error(s: SessionState, f: Frame, head: Pending | undefined): void {
  s.groupFailed = true;
  const denial = head && "denial" in head ? head.denial : undefined;
  skipToSync(s, head);
  if (denial) {
    const out = refusalError(denial);
    observeError(head?.stmt, sqlstateOf(out));
    return s.toClient(out);
  }
  observeError(head?.stmt, decodeNotice(f.body)["C"] ?? "XX000");
  s.toClient(maskNotice(f, head, s.ctx.secrets));
}

function sqlstateOf(errorFrame: Buffer): string {
  return decodeNotice(errorFrame.subarray(5))["C"] ?? "42501";
}
