import type { Decider } from "../decision/decider.js";
import type { Decision, MaskRule, PolicyInput } from "../decision/types.js";
import { nextStep, refusalLine } from "../decision/next-step.js";
import { ERROR_CODES, type ErrorCode } from "../errors.js";
import type { ErrorBody } from "./reply.js";
import { serialiseInput, type HttpDecisionReuse } from "./reuse.js";

export interface Verdict {
  allowed: boolean;
  /** The decision that refused the request, or the first one when all allowed. */
  decision: Decision;
  /** Every mask rule of every decision (a batch's calls share one response). */
  mask: MaskRule[];
}

/**
 * Runs one decision per input (one per call of a JSON-RPC batch). The request goes through only if every
 * decision allows it; a deny beats an approve. A dry-run decision is logged by the pipeline with its real
 * outcome and lets the request through here, unmasked: the pipeline hands back no mask rules in dry-run
 * (docs/policy.md, "policy.dry_run"). With `reuse`, a
 * decision the policy declared reusable is handed to the pipeline for an identical input (reuse.ts), which
 * logs it as a decision of its own instead of evaluating the policy again.
 */
export function decideAll(decider: Decider, inputs: readonly PolicyInput[], fallbackId: string, reuse?: HttpDecisionReuse): Verdict {
  let refusing: Decision | undefined;
  let first: Decision | undefined;
  let mask: MaskRule[] = [];
  for (const input of inputs) {
    // Serialised once: the reuse key and the text the policy evaluates and the decision log carries.
    const serialised = serialiseInput(input);
    const prior = reuse?.lookup(serialised.key);
    const d = safeDecide(decider, input, serialised.json, fallbackId, prior);
    // A reuse is never kept again; an evaluation (also one made because the bundle changed) replaces the entry.
    reuse?.keep(serialised.key, d);
    // One decision (every request but a JSON-RPC batch): its own rules, not a copy. A reused decision hands
    // back the same array, under which the gateway finds its masker at once (maskers.ts).
    if (first === undefined) mask = d.mask;
    else mask = [...mask, ...d.mask];
    first ??= d;
    if (d.outcome !== "allow" && !d.dry_run) {
      if (!refusing || (refusing.outcome === "approve" && d.outcome === "deny")) refusing = d;
    }
  }
  if (refusing) return { allowed: false, decision: refusing, mask: [] };
  return { allowed: true, decision: first!, mask };
}

/** The Decider contract says it never throws; if it does anyway, that is a fail-closed deny. */
function safeDecide(decider: Decider, input: PolicyInput, inputJson: string, fallbackId: string, prior: Decision | undefined): Decision {
  try {
    return decider.decide(input, prior ? { reuse: prior, inputJson } : { inputJson });
  } catch {
    return {
      decision_id: fallbackId,
      outcome: "deny",
      reasons: [],
      mask: [],
      error_code: "POLICY_EVAL_FAILED",
      dry_run: false,
      revision: "",
    };
  }
}

const isErrorCode = (c: string): c is ErrorCode => Object.prototype.hasOwnProperty.call(ERROR_CODES, c);

function denialStatus(status: number | undefined): number {
  return Number.isInteger(status) && status! >= 400 && status! <= 599 ? status! : 403;
}

/**
 * The response for a refused request: 403 (or the policy's status) with a small JSON body whose
 * `reason` is the one line an agent needs (regate refused it, why, the decision id, the next step).
 */
export function refusal(d: Decision): { status: number; body: ErrorBody } {
  const code: ErrorCode =
    d.outcome === "approve" ? "APPROVAL_REQUIRED" : d.error_code === undefined ? "POLICY_DENIED" : isErrorCode(d.error_code) ? d.error_code : "POLICY_EVAL_FAILED";
  const why = d.outcome === "approve" ? `approval required: ${d.approve?.reason || d.reasons.join("; ")}` : d.reasons.join("; ") || ERROR_CODES[code].message;
  const body: ErrorBody = {
    error: d.outcome === "approve" ? "approval_required" : "denied",
    code,
    reason: refusalLine({ ...d, reasons: [why] }, "request"),
    decision_id: d.decision_id,
    next_step: nextStep(d, "request"),
  };
  const status = d.outcome === "approve" ? 403 : d.error_code !== undefined ? ERROR_CODES[code].http : denialStatus(d.status);
  return { status, body };
}
