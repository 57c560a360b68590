// How the gateway answers a request it refuses: in HTTP (reply.ts), or in JSON-RPC where the request is one an
// MCP client waits on (mcp-refusal.ts), and not at all once a lock has ended the exchange (exchange-cut.ts).

import type { RequestContext } from "./context.js";
import { jsonRpcRefusal, sendJsonRpc } from "./mcp-refusal.js";
import { catalogError, sendError, type ErrorBody } from "./reply.js";

/** An HTTP refusal, unless a lock has already answered the exchange. */
export function fail(ctx: RequestContext, status: number, body: ErrorBody, o: { close?: boolean; headers?: Record<string, string> } = {}): void {
  // Ended by a lock: the agent has had its answer, or its stream was cut.
  if (ctx.cutBy !== undefined) return;
  if (body.code) ctx.errorCode = body.code;
  sendError(ctx.res, status, body, o);
}

/** A refusal, in JSON-RPC where the request is one an MCP client waits on (mcp-refusal.ts), else in HTTP. */
export function refuse(ctx: RequestContext, status: number, body: ErrorBody, parsedBody: unknown, raw: Buffer | undefined, headers?: Record<string, string>): void {
  if (ctx.cutBy !== undefined) return;
  const rpc = ctx.res.headersSent ? undefined : jsonRpcRefusal(parsedBody, body, raw);
  if (rpc === undefined) return fail(ctx, status, body, headers ? { headers } : {});
  if (body.code) ctx.errorCode = body.code;
  sendJsonRpc(ctx.res, rpc);
}

/** A change to an MCP session did not reach every worker in time. */
export function clusterUnavailable(ctx: RequestContext, parsedBody: unknown, raw: Buffer | undefined, decisionId: string | undefined): void {
  const e = catalogError("CLUSTER_UNAVAILABLE", "unavailable");
  refuse(ctx, e.status, { ...e.body, ...(decisionId ? { decision_id: decisionId } : {}) }, parsedBody, raw, { "retry-after": "1" });
}
