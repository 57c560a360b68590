import type { SessionInput } from "../decision/index.js";
import type { Logger } from "../log.js";
import type { SessionRegistry, SessionSummary } from "../postgres/index.js";
import { scrubSecrets, secretForms } from "../recording/index.js";
import { bearerIdentity, pathPart, readJsonObject, sendJson, type AdminHandler, type Person } from "./bearer.js";

export interface SessionView extends SessionSummary {
  target?: string;
  /** The worker process that holds the session (workers > 1, docs/workers.md). */
  worker?: number;
}

/**
 * The live sessions the API answers for: this process's (localSessions), or every worker's, asked
 * through the cluster primary (cluster/role.ts). Either way a kill runs where the session lives.
 */
export interface SessionDirectory {
  /** `unanswered`: workers that did not answer in time (the list lacks their sessions). */
  list(): Promise<{ sessions: SessionView[]; unanswered?: number[] }>;
  /** Cancels the running statement, then ends the session; false when no worker holds it. */
  kill(id: string, by: string, reason: string): Promise<boolean>;
}

/**
 * This process's sessions; `onKilled` is told before the session ends (its recording is still open).
 * `secrets`: credentials regate holds, replaced in the statement the kill's audit line names (an agent can
 * type one into a statement; this line goes to regate's own log, which is not scrubbed as decision logs are).
 */
export function localSessions(
  registry: SessionRegistry,
  log: Logger,
  onKilled?: (session: SessionInput, by: string, reason: string, statement: string | undefined) => void,
  worker?: number,
  secrets?: () => readonly string[],
): SessionDirectory {
  return {
    async list() {
      const targets = new Map(registry.all().map((s) => [s.info.id, s.info.target]));
      return { sessions: registry.list().map((s) => ({ ...s, target: targets.get(s.id), ...(worker !== undefined ? { worker } : {}) })) };
    },
    async kill(id, by, reason) {
      const s = registry.get(id);
      if (!s) return false;
      const sql = s.current?.sql;
      const summary = { session_id: id, principal: s.info.principal.subject, client: `${s.info.client.address}:${s.info.client.port}`, statement: sql === undefined ? undefined : scrubSecrets(sql, secretForms(secrets?.() ?? [])) };
      log.warn({ event: "session_killed", by, reason, ...summary, ...(worker !== undefined ? { worker } : {}) }, "session killed by a responder");
      onKilled?.(s.info, by, reason, summary.statement);
      await registry.end(id, `${reason} (by ${by})`);
      return true;
    },
  };
}

/**
 * Live Postgres sessions for responders (docs/incident-response.md):
 *   GET  /sessions                 list (id, principal, client, target, application_name, started_at,
 *                                  current statement, transaction state)
 *   POST /sessions/{id}/kill {reason}   cancel the running statement upstream, then FATAL 57P01 naming
 *                                  the reason; audited.
 * Every call needs `Authorization: Bearer <responder token>`.
 */
export function sessionsHandler(sessions: SessionDirectory, responders: readonly Person[], agentTokens?: () => readonly string[], secrets?: () => readonly string[]): AdminHandler {
  const responderOf = bearerIdentity(responders, agentTokens);
  return (req, res, url) => {
    if (url !== "/sessions" && !url.startsWith("/sessions/")) return false;
    const by = responderOf(req);
    if (!by) return sendJson(res, 401, { error: "a responder token is required (Authorization: Bearer …); see incident.responders" }), true;
    const parts = url.split("/").filter(Boolean);
    if (req.method === "GET" && parts.length === 1) {
      sessions.list().then(
        // A credential regate holds, typed by an agent into its statement or application_name, is not shown
        // to responders, as recordings do not keep it (recording/scrub.ts).
        (r) => sendJson(res, 200, { sessions: scrubSecrets(r.sessions, secretForms(secrets?.() ?? [])), ...(r.unanswered?.length ? { unanswered_workers: r.unanswered } : {}) }),
        (err: Error) => sendJson(res, 503, { error: `sessions unavailable: ${err.message}; retry` }),
      );
      return true;
    }
    if (req.method === "POST" && parts.length === 3 && parts[2] === "kill") {
      const id = pathPart(parts[1]!);
      if (id === undefined) return sendJson(res, 400, { error: "the session id in the path is not valid percent-encoding" }), true;
      readJsonObject(req).then(
        async (body) => {
          const reason = typeof body["reason"] === "string" ? body["reason"].trim() : "";
          if (!reason) return sendJson(res, 400, { error: "reason is required: the agent is told it, and it is audited" });
          if (reason.length > 500) return sendJson(res, 400, { error: "reason is at most 500 characters" });
          const killed = await sessions.kill(id, by, reason).catch((err: Error) => err);
          if (killed instanceof Error) return sendJson(res, 503, { error: `kill not confirmed: ${killed.message}; list the sessions and retry` });
          if (!killed) return sendJson(res, 404, { error: "no such live session" });
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
