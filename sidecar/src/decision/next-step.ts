import type { Decision } from "./types.js";

/** What an agent can do after a refusal of each kind, when the policy does not say (decision.next_step). */
const BY_CODE: Record<string, string> = {
  BUDGET_EXCEEDED: "wait until the budget refills or ask for fewer rows; do not loop",
  APPROVAL_REFUSED: "do not retry; a reviewer refused this statement",
  APPROVAL_EXPIRED: "no reviewer answered in time; re-run the same statement to ask again",
  APPROVAL_WITHDRAWN: "the request was withdrawn; re-run the same statement to ask again",
  APPROVAL_MISMATCH: "re-run the statement exactly as approved, or ask for a new approval",
  APPROVAL_PENDING: "wait for a reviewer to approve, then re-run exactly the same statement once",
  MASK_LINEAGE_UNKNOWN: "select the columns directly (plain SELECT, no COPY) so regate can mask them",
  DECISION_LOG_BACKPRESSURE: "retry in a few seconds; regate's decision-log collector is behind",
  RECORDING_UNAVAILABLE: "retry later; regate cannot record the session right now",
  POLICY_NOT_LOADED: "retry later and tell an operator: regate has no policy loaded",
  POLICY_EVAL_FAILED: "tell an operator: the policy failed on this statement",
  POLICY_EVAL_TIMEOUT: "do not retry the same statement (it will time out again); tell an operator: the policy ran past policy.eval_timeout_ms on it",
  POLICY_EVAL_RESTARTING: "retry in a moment; regate's policy evaluator is restarting",
  POLICY_UNDEFINED: "tell an operator: the policy gave no decision",
  POLICY_RESULT_INVALID: "tell an operator: the policy's decision is malformed",
  INPUT_TOO_LARGE: "send a smaller statement or request",
  LOCKED: "stop and report to your operator; do not retry or reconnect until they lift the lock",
};

export function nextStep(d: Decision, what = "statement"): string {
  if (d.next_step) return d.next_step;
  if (d.error_code && BY_CODE[d.error_code]) return BY_CODE[d.error_code]!;
  if (d.outcome === "approve") return "this needs a human reviewer, and none is configured: ask an operator";
  return `change the ${what}; the same one will be refused again`;
}

/**
 * The one line an agent may be shown of a refusal (an MCP tool keeps only the message): that regate
 * refused it, why, the decision id, and what to do next.
 */
export function refusalLine(d: Decision, what = "statement"): string {
  const why = d.reasons.join("; ") || "denied by policy";
  return `regate refused this ${what}: ${why} (decision ${d.decision_id}). Next: ${nextStep(d, what)}.`;
}
