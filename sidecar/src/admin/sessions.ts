import type { SessionInput } from "../decision/index.js";
import type { Logger } from "../log.js";
import type { SessionRegistry } from "../postgres/index.js";
import { bearerIdentity, readJsonObject, sendJson, type AdminHandler, type Person } from "./bearer.js";

/**
 * Live Postgres sessions for responders (docs/incident-response.md):
 *   GET  /sessions                 list (id, principal, client, target, application_name, started_at,
 *                                  current statement, transaction state)
 *   POST /sessions/{id}/kill {reason}   cancel the running statement upstream, then FATAL 57P01 naming
 *                                  the reason; audited.
 * Every call needs `Authorization: Bearer <responder token>`.
 */
export function sessionsHandler(
  registry: SessionRegistry,
  responders: readonly Person[],
  log: Logger,
  onKilled?: (session: SessionInput, by: string, reason: string, statement: string | undefined) => void,
): AdminHandler {
  const responderOf = bearerIdentity(responders);
  return (req, res, url) => {
    if (url !== "/sessions" && !url.startsWith("/sessions/")) return false;
    const by = responderOf(req);
    if (!by) return sendJson(res, 401, { error: "a responder token is required (Authorization: Bearer …); see incident.responders" }), true;
    const parts = url.split("/").filter(Boolean);
    if (req.method === "GET" && parts.length === 1) {
      const targets = new Map(registry.all().map((s) => [s.info.id, s.info.target]));
      return sendJson(res, 200, { sessions: registry.list().map((s) => ({ ...s, target: targets.get(s.id) })) }), true;
    }
    if (req.method === "POST" && parts.length === 3 && parts[2] === "kill") {
      const id = decodeURIComponent(parts[1]!);
      readJsonObject(req).then(
        async (body) => {
          const reason = typeof body["reason"] === "string" ? body["reason"].trim() : "";
          if (!reason) return sendJson(res, 400, { error: "reason is required: the agent is told it, and it is audited" });
          if (reason.length > 500) return sendJson(res, 400, { error: "reason is at most 500 characters" });
          const s = registry.get(id);
          if (!s) return sendJson(res, 404, { error: "no such live session" });
          const summary = { session_id: id, principal: s.info.principal.subject, client: `${s.info.client.address}:${s.info.client.port}`, statement: s.current?.sql };
          log.warn({ event: "session_killed", by, reason, ...summary }, "session killed by a responder");
          // Told before the session ends, so that listeners that belong to the session (its recording) still
          // have it open.
          onKilled?.(s.info, by, reason, summary.statement);
          await registry.end(id, `${reason} (by ${by})`);
          sendJson(res, 200, { killed: id, by, reason });
        },
        (err: Error) => sendJson(res, 400, { error: err.message }),
      );
      return true;
    }
    sendJson(res, req.method === "GET" || req.method === "POST" ? 404 : 405, { error: "not found" });
    return true;
  };
}
