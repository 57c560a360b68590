export { Metrics } from "./metrics.js";
export { createAdminServer, type AdminOptions } from "./server.js";
export { statusReport, bundlePluginState, type StatusReport, type StatusSources } from "./status.js";
export { approvalsHandler, type Reviewer } from "./approvals.js";
