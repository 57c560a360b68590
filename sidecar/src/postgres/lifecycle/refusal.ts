import { randomUUID } from "node:crypto";
import { nextStep, refusalLine, type Decision } from "../../decision/index.js";
import { ERROR_CODES, type ErrorCode } from "../../errors.js";
import { errorResponse } from "../protocol/index.js";

/**
 * The ErrorResponse a refused statement gets in place of the server's reply to the poison message.
 * The message alone says it all (tools often show nothing else); DETAIL and HINT repeat it longer.
 */
export function refusalError(d: Decision): Buffer {
  const sqlstate = d.error_code ? ERROR_CODES[d.error_code as keyof typeof ERROR_CODES]?.sqlstate ?? "42501" : "42501";
  const approve = d.outcome === "approve" && d.approve ? d.approve : undefined;
  return errorResponse(sqlstate, refusalLine(approve ? { ...d, reasons: [`approval required: ${approve.reason}`] } : d), {
    detail: `decision_id ${d.decision_id}`,
    hint: approve
      ? `approvers: ${approve.approvers}; no approval service is configured in this deployment, so the statement was not run`
      : `${nextStep(d)}. regate refused the statement before it reached the database; nothing ran${d.error_code ? ` (error code ${d.error_code})` : ""}`,
  });
}

/** A refusal of regate's own, not the policy's, shaped as a decision so it takes a refusal's path. */
export function ownRefusal(reason: string, next: string, code: ErrorCode = "FEATURE_UNSUPPORTED"): Decision {
  return { decision_id: randomUUID(), outcome: "deny", reasons: [reason], mask: [], error_code: code, next_step: next, dry_run: false, revision: "" };
}
