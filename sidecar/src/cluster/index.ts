// Every core (docs/workers.md): N worker processes behind one listener, opt-in with `workers`.
export { runPrimary, type PrimaryOptions } from "./primary.js";
export { workerRole, type ClusterRole, type LocalServices } from "./role.js";
export { issuePid, ownerSlot, MAX_SLOTS } from "./cancel-keys.js";
export { LineJoiner } from "./lines.js";
export { ClusterMcpSessions, McpSessionsPrimary, type McpLink, type McpSessionChange } from "./mcp-sessions.js";
export { SLOT_ENV } from "./messages.js";
export { ClusterLoginThrottle, type LoginThrottleLink } from "./login-throttle.js";
export { LoginThrottlePrimary, type LoginLimits } from "./login-throttle-primary.js";
