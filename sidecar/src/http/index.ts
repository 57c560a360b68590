// The HTTP adapter: agents call internal APIs and MCP servers through regate.
export { createHttpGateway } from "./gateway.js";
export { mountAgentApprovals } from "./agent-approvals.js";
export type { HttpGateway } from "./gateway.js";
export type { HttpGatewayOptions, HttpLimits, RequestDoneInfo, RouteCredential, RouteOptions } from "./options.js";
export type { HttpInput } from "./to-input.js";
export type { McpMessage } from "./mcp.js";
export { answerCounts, issuedAt, issuedId, McpSessionBook, sessionHeader, sessionRole } from "./mcp-sessions.js";
export type { McpAdmission, McpRequest, McpSessionRecord, McpSessionRole, McpSessionStore } from "./mcp-sessions.js";
export type { ErrorBody } from "./reply.js";
