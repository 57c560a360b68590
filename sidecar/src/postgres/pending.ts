import type { Decision, MaskStrategy } from "../decision/index.js";
import type { OwnQuery } from "./lifecycle/own-approvals.js";
import type { Statement } from "./lifecycle/statement.js";
import type { MaskPlan } from "./mask-plan.js";
import type { FieldDescription } from "./protocol/index.js";
import type { AnalysisResult } from "./sql/types.js";

/** A statement as the client prepared it (named, or the unnamed one). */
export interface PreparedStatement {
  name: string;
  sql: string;
  analysis: AnalysisResult;
  paramTypes: number[];
  /** The statement-level decision, taken at Parse; undefined when it is taken at Bind with the values. */
  decision: Decision | undefined;
  /** For a statement decided at Bind: the statement-level decision used only to shape its Describe reply. */
  shape?: Decision;
  /** RowDescription as the server sent it (before any mask rewrite); set by Describe. */
  fields?: FieldDescription[];
  /** The columns the client's last Describe of it showed as text (mask-plan.ts textColumns). */
  told?: ReadonlyMap<number, MaskStrategy>;
  /** A query of regate's own table regate.approvals (lifecycle/own-approvals.ts). */
  own?: OwnQuery;
  /** Its SQL runs EXECUTE or FETCH: the session's names (AnalysisCache.overlay) its facts were taken under. */
  overlay?: number;
  /** The catalog generation and search_path its facts were taken under (AnalysisResult.taken). */
  taken?: string;
}

export interface Portal {
  name: string;
  statement: PreparedStatement;
  decision: Decision;
  resultFormats: number[];
  fields?: FieldDescription[];
  /** Computed once the row shape is known; null = nothing to mask. */
  plan?: MaskPlan | null;
  /** The statement its executions count toward. */
  stmt?: Statement;
  /** regate.approvals: the rows and CommandComplete an Execute gets in place of the server's empty result. */
  own?: Buffer;
}

/**
 * One expected server reply group, pushed per forwarded client message, in order. This is how
 * replies are matched to requests, how a denial's error replaces the server's, and how regate's
 * own injected messages are answered without the client seeing anything.
 */
export type Pending = PendingReply & {
  /** The statement these replies belong to: results are counted on it, its completion is at ReadyForQuery. */
  stmt?: Statement;
};

type PendingReply =
  | { kind: "parse"; statement?: PreparedStatement; denial?: Decision; internal?: boolean }
  | { kind: "bind"; portal?: Portal }
  | { kind: "describe"; target: "S"; statement?: PreparedStatement; internal?: boolean }
  | { kind: "describe"; target: "P"; portal?: Portal; internal?: boolean }
  | { kind: "execute"; portal?: Portal }
  | { kind: "close"; target?: "S" | "P"; name?: string }
  | {
      kind: "sync";
      done: Statement[];
      wrapped?: boolean;
      /** The batch held a PREPARE, DECLARE, DEALLOCATE or DISCARD ALL (lifecycle/names.ts). */
      sqlNames?: true;
    }
  | {
      kind: "query";
      denial?: Decision;
      decision?: Decision;
      analysis?: AnalysisResult;
      /** Index of the statement whose replies are arriving. */
      index: number;
      plan?: MaskPlan | null;
      /** regate wrapped this autocommit statement in its own transaction (see lifecycle/transaction.ts). */
      wrapped?: boolean;
      /** regate counts the rows the client's block has changed once this is answered (lifecycle/rows-changed.ts). */
      counted?: boolean;
      /**
       * This COMMIT's count failed, and the client was shown that error as the COMMIT's own: the server's tag
       * (ROLLBACK) is not shown after it, as no Query goes on to a CommandComplete after its error.
       */
      countFailed?: true;
      /** regate's own answer (regate.approvals): sent in place of the EmptyQueryResponse of the empty query forwarded instead. */
      synthetic?: Buffer;
      /** It holds a PREPARE, DECLARE, DEALLOCATE or DISCARD ALL (lifecycle/names.ts). */
      sqlNames?: true;
    }
  | {
      /** A statement regate sent itself (BEGIN, COMMIT, ROLLBACK, a poison): the client never asked for it. */
      kind: "internal";
      /** Its ReadyForQuery (and its errors) are the ones the client is waiting for. */
      final: boolean;
      /** Its error is expected (it exists to fail the block): never shown. */
      swallowErrors?: boolean;
      /** An extended-protocol message (Parse, Bind, Execute, Close): its one reply ends it, no ReadyForQuery. */
      extended?: boolean;
      /** regate's count of the rows the transaction changed: it fails when over the budget (lifecycle/rows-changed.ts). */
      countsChanges?: boolean;
      /** regate's read of the change counters its count is taken from (lifecycle/rows-changed.ts). */
      changesBase?: boolean;
      /** Answers a Sync of regate's own: an error in regate's extended messages before it skips to here. */
      ownSync?: true;
      /** A count of regate's wrap, whose COMMIT follows and then rolls back when it fails (transaction.ts, endWrap). */
      wrapEnd?: true;
    }
  | { kind: "function_call"; denial?: Decision };

/** Replies to these end a reply group for an extended-protocol message. */
export const EXTENDED = new Set<Pending["kind"]>(["parse", "bind", "describe", "execute", "close", "internal"]);
