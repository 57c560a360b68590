// Agent identity, shared by the Postgres and HTTP adapters.
export { AgentDirectory } from "./agent-directory.js";
export type { AuthFailure, AuthResult } from "./agent-directory.js";
export type { JwtFailure } from "./jwt-verifier.js";
export type { AgentDirectoryOptions, JwtOptions, StaticTokenOptions } from "./options.js";
export { RotatingAgentDirectory, type RotatingDirectoryOptions } from "./rotating-directory.js";
export { LoginThrottle, refusal, type LoginGuard, type LoginThrottleOptions, type Refusal, type SourceKind } from "./login-throttle.js";
