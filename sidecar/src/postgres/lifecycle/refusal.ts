import type { Decision } from "../../decision/index.js";
import { ERROR_CODES } from "../../errors.js";
import { errorResponse } from "../protocol/index.js";

/** The ErrorResponse a refused statement gets in place of the server's reply to the poison message. */
export function refusalError(d: Decision): Buffer {
  if (d.outcome === "approve" && d.approve) {
    return errorResponse("42501", `regate: approval required: ${d.approve.reason}`, {
      detail: `decision_id ${d.decision_id}`,
      hint: `approvers: ${d.approve.approvers}; human approval is not available in this deployment, so the statement was not run`,
    });
  }
  const sqlstate = d.error_code ? ERROR_CODES[d.error_code as keyof typeof ERROR_CODES]?.sqlstate ?? "42501" : "42501";
  return errorResponse(sqlstate, `regate: ${d.reasons.join("; ") || "denied by policy"}`, {
    detail: `decision_id ${d.decision_id}`,
    ...(d.error_code ? { hint: `error code ${d.error_code}` } : {}),
  });
}
