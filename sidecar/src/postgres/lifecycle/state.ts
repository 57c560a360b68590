import type { UpstreamConfig } from "../../config/index.js";
import type { Decider, SessionInput } from "../../decision/index.js";
import type { Logger } from "../../log.js";
import type { CancelTarget } from "../cancel-registry.js";
import type { Catalog } from "../catalog.js";
import type { Pending, Portal, PreparedStatement } from "../pending.js";
import type { ReadingSettings } from "../reading-settings.js";
import type { SearchPathTracker } from "../search-path.js";
import type { StatementFacts } from "../sql/types.js";
import type { TemporaryHolds } from "../sql/temporary.js";
import type { AnalysisCache } from "./analyse.js";
import type { BudgetTracker } from "./budget.js";
import type { CopyIn } from "./copy-in.js";
import type { DecisionReuse } from "./reuse.js";
import type { SessionHooks } from "./hooks.js";
import type { Statement } from "./statement.js";

/** What a session needs from the process: given by the server, the same for every session. */
export interface SessionContext {
  id: string;
  log: Logger;
  decider: Decider;
  catalog: Catalog;
  upstream: UpstreamConfig;
  maxMessageBytes: number;
  maxStatementBytes: number;
  maskKey: Buffer | undefined;
  /** regate's own upstream secrets, in every form a server text could carry them: never shown to an agent. */
  secrets: readonly Buffer[];
  /** The same forms, overwritten in everything else the server sends (secret-data.ts); none for a weak password. */
  dataSecrets: readonly Buffer[];
  /** Texts opening the upstream session told that stand for the password (a SCRAM role's keys): withheld from then on. */
  learnSecrets?: (texts: readonly string[]) => void;
  hooks: SessionHooks;
  budget: BudgetTracker;
  /** Registers the session's cancel key; returns the unregister function. */
  registerCancel(pid: number, key: Buffer, upstream: CancelTarget): () => void;
  /** The BackendKeyData pid to issue (workers > 1: it names the worker); absent: a random one. */
  issuePid?: () => number;
  onClose(): void;
}

/** A result being cut off because it crossed a budget: replies are swallowed until ReadyForQuery. */
export interface BudgetCut {
  statement: Statement;
  budget: string;
  /** The 54000 error has been sent in place of the server's reply. */
  reported: boolean;
  /** The server's CommandComplete tag, when it finished the statement before the cancel landed. */
  completed?: string;
}

/**
 * The base of the rows_changed_per_transaction count (rows-changed.ts): the change counters' sum, and a digest of
 * the permanent user tables that existed then (how many, the sum of their relfilenodes, the largest OID), and the
 * count of pg_attribute rows the transaction had updated then (a column dropped since moves it), as the server's
 * decimal text.
 */
export interface ChangesBase {
  rows: number;
  tables: string;
  filenodes: string;
  maxOid: string;
  attributes: string;
}

/**
 * Connection state shared by the stages of a statement's way through the session. Everything about
 * one statement lives on its Statement object; this holds what outlives a statement.
 */
export interface SessionState {
  readonly ctx: SessionContext;
  readonly info: SessionInput;
  readonly log: Logger;
  /** Expected server reply groups, one per forwarded client message, in order (see pending.ts). */
  readonly pending: Pending[];
  /** Protocol-level prepared statements and portals, as the server confirmed them (lifecycle/names.ts). */
  readonly statements: Map<string, PreparedStatement>;
  readonly portals: Map<string, Portal>;
  /** SQL-level PREPARE and DECLARE CURSOR names: part of what an analysis depends on. */
  readonly prepared: Map<string, StatementFacts>;
  readonly cursors: Map<string, StatementFacts>;
  /** For each SQL prepared statement, the facts stamp it was analysed under (AnalysisResult.taken). */
  readonly preparedTaken: Map<string, string>;
  /** Cursors declared WITH HOLD: they outlive their transaction if it commits. */
  readonly holdCursors: Set<string>;
  /**
   * A WITH HOLD cursor declared in the open transaction reads a masked column: whatever message ends the
   * transaction (a Sync, a Query or a COMMIT sent in the same batch) runs its query, so every error and notice
   * is screened until the session is idle again (mask-rows.ts).
   */
  unkeptHoldMasked: boolean;
  /** Sent and unanswered batches that change those names; statements wait while there are any (names.ts). */
  sqlNamesInFlight: number;
  /** The open extended batch changes them. */
  batchSqlNames: boolean;
  /** Client messages waiting for the server to answer something sent earlier (names.ts). */
  readonly whenAnswered: { ready: () => boolean; resolve: () => void }[];
  /**
   * Relations an allowed statement may have put in the session's temporary schema, which regate's catalog
   * connection cannot see, and what statements regate let through stored in them (sql/temporary.ts). Grows as
   * statements are sent; emptied only by a DISCARD TEMP or ALL the server ran alone and committed
   * (temporary-settle.ts). Each change moves the analysis cache's version (AnalysisCache.temporaryChanged).
   */
  readonly temporary: Map<string, TemporaryHolds>;
  /**
   * An allowed DDL statement was sent since the session was last idle outside a transaction with nothing in
   * flight: until it is committed, regate's catalog connection does not see what it changed, while the
   * session's later statements do (a held statement's objects, lifecycle/hold.ts).
   */
  definitionsUnsettled: boolean;
  readonly analyses: AnalysisCache;
  /** Decisions the policy allowed to be reused. */
  readonly reuse: DecisionReuse;
  searchPath: SearchPathTracker;
  /** DateStyle, IntervalStyle, TimeZone: how the server reads the statements' literals (reading-settings.ts). */
  reading: ReadingSettings;
  user: string;
  /** ReadyForQuery status byte: I, T or E. */
  txStatus: number;
  /** We forwarded a poison message: drop client messages up to Sync, as the server will. */
  skipUntilSync: boolean;
  /** The server raised an error before our pending list reached a Sync: it ignores what follows until Sync. */
  serverSkipping: boolean;
  /** The server answered an error since the last ReadyForQuery: the message group it ends failed. */
  groupFailed: boolean;
  /** Extended-protocol statements sent since the last Sync: they complete at its ReadyForQuery. */
  readonly group: Statement[];
  /** regate opened its own transaction for this extended batch (lifecycle/transaction.ts). */
  batchWrapped: boolean;
  /** regate counts the rows this extended batch changes, before its Sync, in its implicit transaction or the client's block (rows-changed.ts). */
  batchCounted: false | "implicit" | "block";
  /** A statement of this extended batch that may change rows was executed (rows-changed.ts). */
  batchChanged: boolean;
  /** Transaction control other than BEGIN ran in this extended batch: the server's status is known at its Sync (transaction.ts). */
  batchStatusUnknown: boolean;
  /** The transaction's change counters and tables when it began to change rows; "asked" until the server answers (rows-changed.ts). */
  changesBase: ChangesBase | "asked" | undefined;
  /**
   * What regate wrapped in its own transaction is all sent, and its COMMIT or ROLLBACK not yet answered; or a
   * group in the client's block is sent whose changed rows regate counts after it. The client's next messages wait.
   */
  wrapOpen: boolean;
  seq: number;
  cut: BudgetCut | undefined;
  /** The agent lease the upstream is paused for (budget.ts), so one wait pauses it once. */
  leaseWait: Promise<void> | undefined;
  /** A COPY FROM STDIN the server may be running: what it reads of the client's messages changes (copy-in.ts). */
  copyIn: CopyIn | undefined;
  /** Client messages wait for this before the next one is handled (a cancel still in flight). */
  barrier: Promise<void> | undefined;
  /** Set while a statement is held for approval: aborting it withdraws the request. */
  held: AbortController | undefined;
  /** Keeps reading the client while parked (a held statement), so a hang-up is seen. */
  watchClient(): void;
  /** The statement whose replies are arriving, for the registry. */
  current: Statement | undefined;
  toServer(buf: Buffer): void;
  toClient(buf: Buffer): void;
  /** Cancels the statement running upstream (out of band, like a client's CancelRequest). */
  cancelUpstream(): Promise<void>;
  /** Stops reading the server's replies until `until` settles. */
  pauseUpstream(until: Promise<unknown>): void;
}
