import type { ServerResponse } from "node:http";
import { mcpMessages } from "./mcp.js";
import type { ErrorBody } from "./reply.js";

/** JSON-RPC server-error range: regate's refusals, so an MCP client shows them as the tool call's error. */
export const JSONRPC_REFUSED = -32001;

/**
 * An MCP client reports an HTTP 403 as a transport failure ("MCP error -32603") and drops its body; a
 * JSON-RPC error for the request's id reaches the agent with its message. So a refused JSON-RPC request
 * (or batch) is answered in JSON-RPC, one error per request id. Undefined when the body holds no request
 * with an id (a notification cannot be answered in JSON-RPC: it keeps the HTTP refusal).
 */
export function jsonRpcRefusal(parsedBody: unknown, refusal: ErrorBody, raw?: Buffer): string | undefined {
  // A body the policy got no parsed_body for (a key twice, a number a double does not hold) may still be a
  // JSON-RPC request its client waits on: JSON.parse's reading only addresses the refusal, never a decision.
  parsedBody = addressedBody(parsedBody, raw);
  const requests = (mcpMessages(parsedBody) ?? []).filter((m) => m.type === "request" && m.id !== undefined);
  if (requests.length === 0) return undefined;
  const errors = requests.map((m) => ({
    jsonrpc: "2.0",
    id: m.id,
    error: { code: JSONRPC_REFUSED, message: refusal.reason, data: refusal },
  }));
  return JSON.stringify(Array.isArray(parsedBody) ? errors : errors[0]);
}

/** Bodies read again only to address a refusal: at most this large. */
const MAX_ADDRESSED_BYTES = 1024 * 1024;

/** The body as parsed for the policy, else JSON.parse's reading of it (bounded): only to find request ids. */
export function addressedBody(parsedBody: unknown, raw: Buffer | undefined): unknown {
  if (parsedBody !== undefined || raw === undefined || raw.length === 0 || raw.length > MAX_ADDRESSED_BYTES) return parsedBody;
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

export function sendJsonRpc(res: ServerResponse, payload: string): void {
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(payload), "cache-control": "no-store" });
  res.end(payload);
}
