import { RegateError } from "../errors.js";
import type { LockService, LockTarget } from "../locks/index.js";
import { bearerIdentity, pathPart, readJsonObject, sendJson, type AdminHandler, type Person } from "./bearer.js";

const KINDS = ["principal", "group", "token", "session"] as const;

/**
 * Locks for responders (docs/incident-response.md):
 *   GET    /locks                     live locks
 *   POST   /locks {target: {principal|group|token|session: "…"}, message, ttl_seconds?}
 *   DELETE /locks/{id}
 * Every call needs `Authorization: Bearer <responder token>`.
 */
export function locksHandler(locks: LockService, responders: readonly Person[], agentTokens?: () => readonly string[]): AdminHandler {
  const responderOf = bearerIdentity(responders, agentTokens);
  return (req, res, url) => {
    if (url !== "/locks" && !url.startsWith("/locks/")) return false;
    const by = responderOf(req);
    if (!by) return sendJson(res, 401, { error: "a responder token is required (Authorization: Bearer …); see incident.responders" }), true;
    const parts = url.split("/").filter(Boolean);
    if (req.method === "GET" && parts.length === 1) return sendJson(res, 200, { locks: locks.list() }), true;
    if (req.method === "POST" && parts.length === 1) {
      readJsonObject(req)
        .then(async (body) => {
          const parsed = parseLock(body);
          if (typeof parsed === "string") return sendJson(res, 400, { error: parsed });
          sendJson(res, 201, await locks.add(parsed, by));
        })
        .catch((err: Error) =>
          // A store failure (database unreachable) is ours, not the caller's: 503, try again.
          err instanceof RegateError ? sendJson(res, 503, { error: `the lock store refused the change: ${err.message}` }) : sendJson(res, 400, { error: err.message }),
        );
      return true;
    }
    if (req.method === "DELETE" && parts.length === 2) {
      const id = pathPart(parts[1]!);
      if (id === undefined) return sendJson(res, 400, { error: "the lock id in the path is not valid percent-encoding" }), true;
      locks.remove(id, by).then(
        (removed) => (removed ? sendJson(res, 200, { removed: parts[1] }) : sendJson(res, 404, { error: "no such lock" })),
        (err: Error) => sendJson(res, 503, { error: `the lock store refused the change: ${err.message}` }),
      );
      return true;
    }
    sendJson(res, ["GET", "POST", "DELETE"].includes(req.method ?? "") ? 404 : 405, { error: "not found" });
    return true;
  };
}

function parseLock(body: Record<string, unknown>): { target: LockTarget; message: string; ttl_seconds?: number } | string {
  const t = body["target"];
  if (!t || typeof t !== "object" || Array.isArray(t)) return `target must be an object with one of ${KINDS.join(", ")}`;
  const entries = Object.entries(t);
  const [kind, value] = entries[0] ?? [];
  if (entries.length !== 1 || !KINDS.includes(kind as (typeof KINDS)[number]) || typeof value !== "string" || !value.trim()) {
    return `target must name exactly one of ${KINDS.join(", ")} with a non-empty string`;
  }
  const message = typeof body["message"] === "string" ? body["message"].trim() : "";
  if (!message) return "message is required: the locked agent is shown it";
  if (message.length > 500) return "message is at most 500 characters";
  const ttl = body["ttl_seconds"];
  if (ttl !== undefined && (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0)) return "ttl_seconds must be a positive number";
  return { target: { [kind!]: value.trim() } as LockTarget, message, ...(ttl !== undefined ? { ttl_seconds: ttl } : {}) };
}
