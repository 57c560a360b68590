// GET /.regate/approvals[/{id}] on the HTTP listener: an agent reads its own approvals with its own token.
// Answered by regate before any route: never forwarded, never another principal's (404 alike).

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AgentDirectory } from "../identity/index.js";
import { agentCredential } from "./headers.js";
import { sendError } from "./reply.js";

const PREFIX = "/.regate/approvals";

/** The agent-visible form of the principal's approvals (approval/own.ts agentView), newest first. */
export type OwnApprovals = (principal: string) => readonly { id: string }[];

/**
 * Puts the agent-approvals endpoint in front of the gateway's request handler, so the gateway's hot
 * path stays as it is and this path never reaches a route.
 */
export function mountAgentApprovals(server: Server, agents: AgentDirectory, own: OwnApprovals): void {
  const handlers = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0]!;
    if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) {
      for (const h of handlers) h(req, res);
      return;
    }
    answer(req, res, path, agents, own).catch(() => sendError(res, 500, { error: "internal_error", code: "INTERNAL", reason: "internal error" }));
  });
}

async function answer(req: IncomingMessage, res: ServerResponse, path: string, agents: AgentDirectory, own: OwnApprovals): Promise<void> {
  req.resume();
  if (req.method !== "GET") return sendError(res, 405, { error: "method_not_allowed", reason: "GET /.regate/approvals or /.regate/approvals/{id}" }, { headers: { allow: "GET" } });
  const credential = agentCredential(req.headers);
  // The same guard as the gateway's (identity/login-throttle.ts): this path answers for any token too.
  const address = req.socket.remoteAddress ?? "";
  const throttled = agents.throttle?.refused("address", address);
  if (throttled) return sendError(res, 429, { error: "too_many_failed_logins", code: "AUTH_THROTTLED", reason: throttled.reason }, { headers: { "retry-after": String(throttled.retryAfterSeconds) } });
  const auth = credential === undefined ? undefined : await agents.authenticate(credential);
  if (auth && !auth.principal && auth.failure !== "missing" && auth.failure !== "jwks_unavailable") await agents.throttle?.failed("address", address);
  if (!auth?.principal) return sendError(res, 401, { error: "unauthorized", code: "AUTH_FAILED", reason: "missing or unknown agent credential" }, { headers: { "www-authenticate": 'Bearer realm="regate"' } });
  const mine = own(auth.principal.subject);
  let id: string | undefined;
  try {
    id = path.length > PREFIX.length + 1 ? decodeURIComponent(path.slice(PREFIX.length + 1)) : undefined;
  } catch {
    return sendError(res, 400, { error: "bad_request", code: "PROTOCOL_VIOLATION", reason: "the approval id in the path is not valid percent-encoding" });
  }
  const body = id === undefined ? { approvals: mine } : mine.find((a) => a.id === id);
  if (!body) return sendError(res, 404, { error: "not_found", reason: "no approval with this id was asked by this agent" });
  const payload = JSON.stringify(body);
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(payload), "cache-control": "no-store" });
  res.end(payload);
}
