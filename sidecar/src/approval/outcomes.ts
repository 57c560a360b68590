import type { Decision } from "../decision/index.js";

/** The decisions a held or deferred request ends with; reasons are the one line the agent is shown. */
export function deny(d: Decision, code: string, reason: string, nextStep?: string): Decision {
  // The policy's next_step spoke of the approve; the refusal's own (or its code's default) replaces it.
  const { next_step: _policyNext, ...rest } = d;
  return { ...rest, outcome: "deny", reasons: [reason], error_code: code, ...(nextStep ? { next_step: nextStep } : {}) };
}

export function allow(d: Decision): Decision {
  return { ...d, outcome: "allow", reasons: [] };
}

type What = "statement" | "request";

/** A shared approval store that cannot be reached: fail closed, nothing ran. */
export function storeUnavailable(d: Decision, what: What): Decision {
  return deny(d, "UPSTREAM_UNAVAILABLE", `the approval store cannot be reached; the ${what} was not run`, "retry shortly; if it persists, an operator should check regate's connection to the approvals table");
}

/** Defer answer for a new approval: nothing ran, and what the agent does next. */
export function requested(d: Decision, id: string, expiresAt: string, what: What, reviewUrl: string): Decision {
  return deny(
    d,
    "APPROVAL_PENDING",
    `approval requested as ${id}; re-run the same ${what} after a reviewer approves; it expires at ${expiresAt}`,
    pendingNext(id, what, reviewUrl),
  );
}

/** A new approval refused: the principal has `max` pending already (approvals.max_pending_per_agent). */
export function tooManyPending(d: Decision, pending: number, max: number, what: What): Decision {
  return deny(
    d,
    "APPROVAL_LIMIT",
    `${pending} approvals of this agent are pending (at most ${max}); this ${what} was not run and no approval was requested`,
    "wait until reviewers answer the pending approvals (or they expire), then re-run; regate.approvals (Postgres) or GET /.regate/approvals (HTTP) lists them",
  );
}

/** Defer answer for an approval already pending (a re-run, or a hold that reached its maximum). */
export function stillPending(d: Decision, id: string, expiresAt: string, what: What, reviewUrl: string): Decision {
  return deny(
    d,
    "APPROVAL_PENDING",
    `still pending as ${id}; re-run the same ${what} after a reviewer approves; it expires at ${expiresAt}`,
    pendingNext(id, what, reviewUrl),
  );
}

function pendingNext(id: string, what: What, reviewUrl: string): string {
  return `wait for a reviewer to approve ${id} (${reviewUrl}), then re-run exactly the same ${what} once; a changed ${what} needs a new approval`;
}
