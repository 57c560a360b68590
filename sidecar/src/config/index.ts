export { loadConfig, ConfigError, ENV_PREFIX, type LoadOptions } from "./load.js";
export { configSchema } from "./schema.js";
export { Secret, type Config, type AgentToken, type UpstreamConfig, type HttpRoute, type Listen } from "./types.js";
export { FileSecret } from "./file-secret.js";
export { workerCount } from "./workers.js";
export { MIN_AGENT_TOKEN } from "./agent-tokens.js";
