export { Metrics } from "./metrics.js";
export { createAdminServer, type AdminOptions } from "./server.js";
export { statusReport, bundlePluginState, uploaderPluginStates, type StatusReport, type StatusSources, type UploaderCounts } from "./status.js";
export { approvalsHandler, type Reviewer } from "./approvals.js";
