export { PostgresServer, type PostgresServerOptions } from "./server.js";
export { Catalog } from "./catalog.js";
export { scramVerifier } from "./auth/scram.js";
export type { AgentAuth } from "./client-auth.js";
export { initSqlParser } from "./sql/index.js";
