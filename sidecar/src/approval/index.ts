export { ApprovalService, type ApprovalServiceOptions } from "./service.js";
export { approvalHash } from "./hash.js";
export { slackNotifier } from "./webhook.js";
export type { Approval, ApprovalStatus, ActResult } from "./types.js";
