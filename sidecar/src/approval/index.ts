export { ApprovalService, type ApprovalServiceOptions, type ApprovalSubject, type HoldControl } from "./service.js";
export { approvalHash } from "./hash.js";
export { slackNotifier } from "./webhook.js";
export type { ReviewerIdentity } from "./ballot.js";
export type { ActError, Approval, ApprovalMode, ApprovalStatus, ActResult, Vote } from "./types.js";
export { agentView } from "./own.js";
export { reviewView, WITHHELD } from "./review-view.js";
