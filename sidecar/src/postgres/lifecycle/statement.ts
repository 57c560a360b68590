import type { Decision } from "../../decision/index.js";
import type { AnalysisResult } from "../sql/types.js";

export type StatementMessage = "query" | "parse" | "bind" | "function_call";

/** What the server did with a statement, as regate saw it go by. */
export interface StatementResult {
  /** CommandComplete tags, in order (`SELECT 3`, `INSERT 0 1`). */
  command_tags: string[];
  rows: number;
  /** DataRow bytes sent to the client (after masking). */
  bytes: number;
  /** Values rewritten by a mask. */
  masked_values: number;
  /** SQLSTATE of the error that ended it, regate's own refusals included. */
  sqlstate?: string;
  duration_ms: number;
  /** Set when a budget cut the result off mid-stream. */
  budget_cut?: string;
  /**
   * Why the session ended before this statement's replies were over (the end reason): what it got so far is
   * not its outcome. It may have been cut while running, never have run (pipelined behind), or have run
   * without its implicit transaction being committed; a reader must not take the result for a completion.
   */
  session_ended?: string;
}

/**
 * One statement on its way through the session: a Query, or a Parse/Bind/Execute group. Every stage
 * reads and writes this object; the session holds only connection state.
 */
export interface Statement {
  /** Per-session sequence number, from 1. */
  seq: number;
  message: StatementMessage;
  sql: string;
  analysis?: AnalysisResult;
  /** Bind parameter values as the policy saw them. */
  parameters?: unknown[];
  /** The Bind's parameter bytes as sent (views into its message): what an approval's digest covers, uncut. */
  bindValues?: { values: readonly (Buffer | null)[]; formats: readonly number[]; types: readonly number[] };
  /** A Bind ran it (extended protocol): a later Bind of the same statement is an execution of its own. */
  bound?: boolean;
  /** The enforced decision (the logged one). */
  decision?: Decision;
  started_ns: bigint;
  result: StatementResult;
  completed: boolean;
}

export function newStatement(seq: number, message: StatementMessage, sql: string): Statement {
  return {
    seq,
    message,
    sql,
    started_ns: process.hrtime.bigint(),
    result: { command_tags: [], rows: 0, bytes: 0, masked_values: 0, duration_ms: 0 },
    completed: false,
  };
}
