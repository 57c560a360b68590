// The HTTP adapter: agents call internal APIs and MCP servers through regate.
export { createHttpGateway } from "./gateway.js";
export { mountAgentApprovals } from "./agent-approvals.js";
export type { HttpGateway } from "./gateway.js";
export type { HttpGatewayOptions, HttpLimits, RequestDoneInfo, RouteCredential, RouteOptions } from "./options.js";
export type { HttpInput } from "./to-input.js";
export type { McpMessage } from "./mcp.js";
export { answerCounts, issuedId, sessionHeader, sessionRole } from "./mcp-sessions.js";
export { issuedAt, McpSessionBook } from "./mcp-session-book.js";
export { bookingOf } from "./mcp-tasks.js";
export { bookedAdmission, sessionlessAdmission } from "./mcp-sse-streams.js";
export type { McpRequest, McpSessionRole, McpSessionStore } from "./mcp-sessions.js";
export type { McpAdmission, McpSessionRecord } from "./mcp-session-book.js";
export type { ErrorBody } from "./reply.js";
