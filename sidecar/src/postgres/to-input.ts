import { timeInput, type PolicyInput, type SessionInput } from "../decision/index.js";
import type { BudgetInput } from "./lifecycle/budget.js";
import type { AnalysisResult } from "./sql/types.js";

export interface PostgresInputParts {
  message: "query" | "parse" | "bind" | "function_call";
  analysis?: AnalysisResult;
  searchPath: string[] | null;
  /** ReadyForQuery status byte: I, T or E. */
  txStatus: number;
  extra?: Record<string, unknown>;
  nowMs?: number;
  /** The agent's budgets and its use of them, when any budget is configured. */
  budget?: BudgetInput;
}

/** The one place a Postgres input document is built (the session and the golden cases both use it). */
export function postgresInput(session: SessionInput, p: PostgresInputParts): PolicyInput {
  const postgres: Record<string, unknown> = {
    message: p.message,
    statements: p.analysis?.statements ?? [],
    search_path: p.searchPath,
    transaction_status: p.txStatus === 0x49 ? "idle" : p.txStatus === 0x54 ? "in_transaction" : "failed",
  };
  // As `...p.extra` would, but a spread after other members is a runtime call on every statement.
  const extra = p.extra;
  if (extra) for (const k of Object.keys(extra)) postgres[k] = extra[k];
  if (p.analysis?.parse_error) postgres["parse_error"] = p.analysis.parse_error;
  const input: PolicyInput = { version: 1, kind: "postgres", time: timeInput(p.nowMs), session, postgres };
  if (p.budget) input.budget = p.budget;
  return input;
}
