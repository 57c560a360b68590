export { Metrics } from "./metrics.js";
export { createAdminServer, type AdminOptions } from "./server.js";
export { statusReport, bundlePluginState, uploaderPluginStates, type StatusReport, type StatusSources, type UploaderCounts } from "./status.js";
export { approvalsHandler, type Reviewer } from "./approvals.js";
export { sessionsHandler } from "./sessions.js";
export { locksHandler } from "./locks.js";
export { slackInteractionsHandler, slackApprovalMessage, slackInteractiveNotifier, slackReviewers, SLACK_PATH } from "./slack.js";
export type { AdminHandler, Person } from "./bearer.js";
export { recordingsHandler } from "./recordings.js";
