export { Metrics } from "./metrics.js";
export { createAdminServer, type AdminOptions } from "./server.js";
