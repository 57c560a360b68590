import type { Decision, SessionInput, Veto } from "../../decision/index.js";
import type { ResolvedObjects } from "../approved-objects.js";
import type { ChosenSetting } from "../reading-settings.js";
import type { Statement } from "./statement.js";

/** What a held statement may do while it waits (see approval/). */
export interface HoldControl {
  /** Sends a message (a NoticeResponse) to the client while the statement is held. */
  notify(buf: Buffer): void;
  /** Aborted when the client withdraws: it cancelled, hung up, or the session ended. */
  signal: AbortSignal;
  /** The session is inside a transaction block (ReadyForQuery T or E). */
  in_transaction: boolean;
  /** Settings the agent's connection chose that change how the statement's literals read (reading-settings.ts). */
  settings?: readonly ChosenSetting[];
  /** The schemas the statement's names resolve in (SearchPathTracker.current); null when regate cannot know it. */
  search_path?: readonly string[] | null;
  /** Reads, fresh from the catalog, what the statement's names resolve to (approved-objects.ts): a grant is bound to it. */
  objects?: () => Promise<ResolvedObjects>;
  /**
   * The session sent DDL that may not be committed yet (earlier in its open transaction, or not yet answered):
   * what `objects` reads on regate's own connection may not be what the statement's names mean when it runs.
   */
  definitions_unsettled?: boolean;
}

export type EndReason = "client" | "upstream" | "terminated" | "error" | "shutdown";

/**
 * Where later work plugs into a statement's way through the session (recording, export, approvals).
 * Each is called once per statement, after the hot path's critical section, and must not throw: a
 * hook that throws is logged and ignored.
 */
export interface SessionHooks {
  /**
   * Called with an allow or approve before it is logged; a Veto refuses the statement and the refusal
   * is what gets logged (e.g. a recording that could not be written: nothing runs unrecorded).
   */
  admit?(session: SessionInput, statement: Statement, decision: Decision): Veto | undefined;
  decided?(session: SessionInput, statement: Statement, decision: Decision): void;
  completed?(session: SessionInput, statement: Statement): void;
  ended?(session: SessionInput, reason: EndReason): void;
  /**
   * Each DataRow as sent to the client (after masking), with the statement it belongs to. On the per-row
   * path: leave it undefined unless rows are wanted (recording.rows), and keep it cheap.
   */
  row?(session: SessionInput, statement: Statement, row: Buffer): void;
  /** The client sent a CancelRequest for this session (with the key regate issued); `statement` is the one running, if any. */
  cancelled?(session: SessionInput, statement: Statement | undefined): void;
  /**
   * The asynchronous seam of the decide stage: given an `approve` decision, resolves to the decision
   * to enforce (for example once a human answered). Without it, `approve` is refused.
   */
  hold?(session: SessionInput, statement: Statement, decision: Decision, control: HoldControl): Promise<Decision>;
  /**
   * The agent's own approvals for `SELECT * FROM regate.approvals` (lifecycle/own-approvals.ts): one
   * array of text values per approval, in OWN_APPROVAL_COLUMNS order. Without it the table is refused.
   */
  ownApprovals?(session: SessionInput): (string | null)[][];
}
