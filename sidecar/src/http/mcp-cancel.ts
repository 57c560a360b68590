// Telling an MCP server that regate cut a request it is running (a lock, exchange-cut.ts). Aborting the upstream
// exchange closes the connection, but the SDKs' servers go on running the tool call to its end, and so would its
// side effects: MCP's notifications/cancelled (with the request's id) is what stops it.

import type { RequestContext } from "./context.js";
import { mcpMessages } from "./mcp.js";
import { addressedBody } from "./mcp-refusal.js";

/**
 * The ids of the requests of an MCP exchange that was forwarded, which a notifications/cancelled can stop
 * (initialize is never cancelled, as the spec says). None unless the route is an MCP server and the exchange
 * belongs to a session the server can match the id in: an Mcp-Session-Id (streamable HTTP) or the sessionId of
 * the HTTP+SSE transport's message endpoint.
 */
export function cancellableIds(ctx: RequestContext): (string | number)[] {
  const sent = ctx.proxyReq;
  if (!sent || !ctx.route?.mcp || !ctx.addressed) return [];
  // The HTTP+SSE endpoint's parameter: sessionId (TypeScript SDK, mcp-go) or session_id (Python SDK, FastMCP).
  const session = ctx.req.headers["mcp-session-id"] !== undefined || /[?&]session_?id=/i.test(sent.path);
  if (!session) return [];
  const ids: (string | number)[] = [];
  for (const m of mcpMessages(addressedBody(ctx.addressed.parsed, ctx.addressed.raw)) ?? []) {
    if (m.type === "request" && m.method !== "initialize" && (typeof m.id === "string" || typeof m.id === "number")) ids.push(m.id);
  }
  return ids;
}

/** The notifications/cancelled body for one request id. */
export function cancelNote(requestId: string | number, reason: string): string {
  return JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId, reason } });
}
