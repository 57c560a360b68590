// MCP's streamable HTTP transport ends a session with a DELETE that carries the `Mcp-Session-Id` the server
// issued. A DELETE with that header alone proves nothing (any REST API can be sent one), but a DELETE of an
// id this upstream issued to this agent at this path is that termination: the policy is told so
// (`http.mcp_session_end`), and can allow it without allowing DELETE.

import type { IncomingHttpHeaders } from "node:http";
import { mcpMessages } from "./mcp.js";

/** Visible ASCII only, as the transport requires of a session id; anything else is not one. */
const SESSION_ID = /^[\x21-\x7e]{1,256}$/;

/** Session ids an upstream issued, per agent, route and path; the oldest are forgotten past `max`. */
export class McpSessions {
  readonly #ids = new Set<string>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  static #key(subject: string, route: string, path: string, id: string): string {
    return JSON.stringify([subject, route, path, id]);
  }

  /** The upstream answered `subject`'s request at `route` + `path` with this session id. */
  issued(subject: string, route: string, path: string, id: string | string[] | undefined): void {
    if (typeof id !== "string" || !SESSION_ID.test(id)) return;
    const key = McpSessions.#key(subject, route, path, id);
    this.#ids.delete(key);
    this.#ids.add(key);
    if (this.#ids.size > this.#max) this.#ids.delete(this.#ids.values().next().value!);
  }

  /** The upstream issued this id to `subject` at `route` + `path`, and it has not been ended. */
  has(subject: string, route: string, path: string, id: string | string[] | undefined): boolean {
    return typeof id === "string" && this.#ids.has(McpSessions.#key(subject, route, path, id));
  }

  /** The session was ended (its DELETE succeeded): a second DELETE of it is an ordinary DELETE. */
  ended(subject: string, route: string, path: string, id: string): void {
    this.#ids.delete(McpSessions.#key(subject, route, path, id));
  }

  get size(): number {
    return this.#ids.size;
  }

  /**
   * What a request is to the book: an MCP `initialize` (its answer may issue a session id), the DELETE of
   * an id this upstream issued to this agent here (`end`), or nothing.
   */
  roleOf(r: McpRequest): McpSessionRole | undefined {
    if (r.requestMethod === "DELETE" && r.method === "DELETE" && r.bodyBytes === 0) {
      const id = r.headers["mcp-session-id"];
      return this.has(r.subject, r.route, r.path, id) ? { subject: r.subject, route: r.route, path: r.path, end: id as string } : undefined;
    }
    if (r.requestMethod !== "POST" || r.parsedBody === undefined) return undefined;
    const opens = mcpMessages(r.parsedBody)?.some((m) => m.type === "request" && m.method === "initialize");
    return opens ? { subject: r.subject, route: r.route, path: r.path } : undefined;
  }

  /** The upstream answered a request with a role: a session opened, or ended (it no longer knows the id). */
  answered(role: McpSessionRole, status: number | undefined, headers: IncomingHttpHeaders): void {
    const ok = status !== undefined && status >= 200 && status < 300;
    if (role.end !== undefined) {
      if (ok || status === 404) this.ended(role.subject, role.route, role.path, role.end);
    } else if (ok) this.issued(role.subject, role.route, role.path, headers["mcp-session-id"]);
  }
}

export interface McpRequest {
  subject: string;
  route: string;
  /** The canonical path below the route's prefix. */
  path: string;
  requestMethod: string;
  /** The method the upstream executes (overrides included). */
  method: string;
  bodyBytes: number;
  headers: IncomingHttpHeaders;
  parsedBody: unknown;
}

export interface McpSessionRole {
  subject: string;
  route: string;
  path: string;
  /** The session id this DELETE ends. */
  end?: string;
}
