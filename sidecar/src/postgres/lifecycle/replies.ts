import { RegateError } from "../../errors.js";
import { rewriteFields, textColumns } from "../mask-plan.js";
import type { Pending } from "../pending.js";
import {
  Backend,
  BODY,
  decodeCommandTag,
  decodeNotice,
  decodeParameterDescription,
  decodeParameterStatus,
  decodeRowDescription,
  encodeRowDescription,
  type FieldDescription,
  type Frame,
} from "../protocol/index.js";
import { budgetedError, budgetedNotice } from "./budget-text.js";
import { copyInFailed, copyInStarted } from "./copy-in.js";
import { callHook } from "./decide.js";
import { functionResult } from "./function-call.js";
import { maskNotice, maskNotification, maskRow, noteHoldCursor, planFor } from "./mask-rows.js";
import { confirmClose, confirmCreated, confirmSqlNames, wakeAnswered } from "./names.js";
import { observeError, observeNotification, observeRow, observeTag } from "./observe.js";
import { cutReply, internalReply } from "./own-replies.js";
import { refusalError } from "./refusal.js";
import { readyForQuery, skipToSync } from "./reply-groups.js";
import type { SessionState } from "./state.js";
import { countChanges } from "./rows-changed.js";
import { batchTransactionRan, endWrap } from "./transaction.js";

export type ReplyOutcome = void | { terminate: "UPSTREAM_SETTING_REFUSED"; message: string };

/**
 * Stage 5: one server message, matched to the client message it answers through the pending list,
 * then masked (stage 7), counted (stage 6) and written to the client (stage 8) — or swallowed when
 * it answers regate's own message, or replaced when it answers a refused one.
 */
export function onServerFrame(s: SessionState, f: Frame): ReplyOutcome {
  if (s.copyIn && f.type === Backend.ErrorResponse) copyInFailed(s, s.pending[0]);
  const outcome = s.cut ? cutReply(s, f, dispatch) : dispatch(s, f);
  if (s.whenAnswered.length > 0) wakeAnswered(s);
  return outcome;
}

function dispatch(s: SessionState, f: Frame): ReplyOutcome {
  const head = s.pending[0];
  if (head?.kind === "internal") return internalReply(s, f, head, dispatch);
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
    case Backend.PortalSuspended: {
      const tag = f.type === Backend.CommandComplete ? decodeCommandTag(f.raw, BODY) : undefined;
      if (tag !== undefined) observeTag(head?.stmt, tag);
      if (head?.kind === "query") {
        if (head.countFailed) {
          head.index++;
          return;
        }
        if (head.sqlNames) {
          confirmSqlNames(s, head.analysis, head.index);
          noteHoldCursor(s, head.analysis, head.index, head.decision);
        }
        head.index++;
        head.plan = undefined;
        if (head.synthetic && f.type === Backend.EmptyQueryResponse) return s.toClient(head.synthetic);
      } else if (head?.kind === "execute") {
        s.pending.shift();
        if (tag !== undefined) {
          batchTransactionRan(s, head.portal?.statement.analysis, tag);
          confirmSqlNames(s, head.portal?.statement.analysis, 0);
          noteHoldCursor(s, head.portal?.statement.analysis, 0, head.portal?.decision);
        }
        if (head.portal?.own && f.type === Backend.CommandComplete) return s.toClient(head.portal.own);
      }
      return s.toClient(f.raw);
    }
    case Backend.ErrorResponse:
      return error(s, f, head);
    case Backend.ReadyForQuery:
      readyForQuery(s, f);
      if (head?.kind === "query" || head?.kind === "sync") {
        if (head.wrapped) return endWrap(s, s.txStatus !== 0x54);
        // Still in the client's block: count what it changed (a failed block changed nothing that can commit).
        if (head.kind === "query" && head.counted) {
          if (s.txStatus === 0x54) return countChanges(s, true);
          s.wrapOpen = false;
        }
      }
      return s.toClient(f.raw);
    case Backend.NoticeResponse: {
      const out = budgetedNotice(s, head?.stmt, maskNotice(f, head, s.ctx.secrets, s.unkeptHoldMasked));
      return out ? s.toClient(out) : undefined;
    }
    case Backend.ParameterStatus: {
      const { name, value } = decodeParameterStatus(f.body);
      // application_name is the one reported setting a statement can set to any text it computes (set_config
      // of a string_agg): 63 bytes a statement, counted as server text; past a budget the report is dropped
      // (drivers only show it). The others drivers read to decode values: always shown.
      if (name !== "application_name" || budgetedNotice(s, head?.stmt, f.raw)) s.toClient(f.raw);
      if (name === "search_path") s.searchPath.reported(value); // a change no statement showed (a function body): search-path.ts
      else s.reading.reported(name, value);
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
      if (!head.internal) head.statement.told = textColumns(plan);
    } else if (head.target === "P" && head.portal) {
      if (head.portal.decision.mask.length > 0) {
        head.portal.fields = fields = decodeRowDescription(f.raw, BODY);
        head.portal.statement.fields ??= fields;
        if (!head.internal) plan = planFor(s, head.portal.decision, head.portal.statement.analysis, fields);
      }
      // regate's own Describe, sent right after the Bind: the client decodes the rows by what it was told, and a
      // Describe of the statement it sent after that Bind (tokio-postgres' query_typed) is answered after this
      // reply. The plan waits for the first row (mask-rows.ts undescribedPlan), when all of that is known.
      if (!head.internal) head.portal.plan = plan ?? null;
    }
    if (head.internal) return;
  } else if (head?.kind === "query" && head.decision) {
    if (head.decision.mask.length > 0) plan = planFor(s, head.decision, head.analysis, (fields = decodeRowDescription(f.raw, BODY)), head.index);
    head.plan = plan ?? null;
  }
  s.toClient(plan && fields ? encodeRowDescription(rewriteFields(fields, plan)) : f.raw);
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
  s.toClient(budgetedError(s, head?.stmt, maskNotice(f, head, s.ctx.secrets, s.unkeptHoldMasked)));
}

function sqlstateOf(errorFrame: Buffer): string {
  return decodeNotice(errorFrame.subarray(5))["C"] ?? "42501";
}
