// MCP's streamable HTTP transport ends a session with a DELETE that carries the `Mcp-Session-Id` the server
// issued. A DELETE with that header alone proves nothing (any REST API can be sent one), but a DELETE of an
// id this upstream issued to this agent at this path is that termination: the policy is told so
// (`http.mcp_session_end`), and can allow it without allowing DELETE.
//
// A stateful MCP server does not answer a call only on the exchange that carried it: it replays a stream's
// events to a GET with `Last-Event-ID`, and the SDK's transport routes an answer by its JSON-RPC id, so a
// second POST that reuses a pending call's id receives that call's result. Masks are decided per exchange,
// so every exchange of a session is masked with every rule any exchange of that session was allowed under
// (the book: mcp-session-book.ts).

import type { IncomingHttpHeaders } from "node:http";
import type { MaskRule } from "../decision/types.js";
import { bookingOf } from "./mcp-tasks.js";
import { bookedAdmission, sessionlessAdmission } from "./mcp-sse-streams.js";
import { issuedAt, McpSessionBook, type McpAdmission } from "./mcp-session-book.js";
import { mcpMessages } from "./mcp.js";
import { headerKey } from "./method.js";

/** Visible ASCII only, as the transport requires of a session id; anything else is not one. */
const SESSION_ID = /^[\x21-\x7e]{1,256}$/;

const NOT_ONE_ID = "the Mcp-Session-Id header is not one session id";

/** Where the gateway books MCP sessions: this process (McpSessions), or every worker (cluster/mcp-sessions.ts). */
export interface McpSessionStore {
  roleOf(r: McpRequest): McpSessionRole | undefined;
  /** A promise only when the exchange changes what other processes must know first. */
  admit(r: McpRequest, mask: MaskRule[]): McpAdmission | Promise<McpAdmission>;
  /**
   * The upstream answered a request with a role. Undefined: booked. A promise: the answer may be relayed
   * once it resolves (every worker knows the session); rejected, it must not be.
   */
  answered(role: McpSessionRole, status: number | undefined, headers: IncomingHttpHeaders): Promise<void> | undefined;
}

/** The session id an exchange names, in the header checks every store makes alike. */
export type McpSessionHeader = { id: undefined } | { id: string; resumes: boolean } | { refused: McpAdmission & { ok: false } };

export function sessionHeader(headers: IncomingHttpHeaders): McpSessionHeader {
  const id = spelled(headers, "mcp-session-id");
  // Without a session id nothing tells an MCP server's GET from any SSE API's: its Last-Event-ID is the
  // policy's to judge (it sees the header), as a sessionless server has no exchanges to tie it to.
  if (id === undefined) return { id: undefined };
  // Which of several values (or which part of a joined one) a server takes is its own choice.
  if (typeof id !== "string" || !SESSION_ID.test(id)) return { refused: { ok: false, reason: NOT_ONE_ID } };
  return { id, resumes: spelled(headers, "last-event-id") !== undefined };
}

/** The session id an upstream's answer issues, when it is one. */
export function issuedId(headers: IncomingHttpHeaders): string | undefined {
  const id = headers["mcp-session-id"];
  return typeof id === "string" && SESSION_ID.test(id) ? id : undefined;
}

/**
 * What a request is to the book: an MCP `initialize` (its answer may issue a session id), the DELETE of
 * an id this upstream issued to this agent here (`end`), or nothing.
 */
export function sessionRole(book: McpSessionBook, r: McpRequest): McpSessionRole | undefined {
  if (r.requestMethod === "DELETE" && r.method === "DELETE" && r.bodyBytes === 0) {
    const id = r.headers["mcp-session-id"];
    return typeof id === "string" && book.has(r.subject, issuedAt(r.route, r.path), id) ? { subject: r.subject, route: r.route, path: r.path, end: id } : undefined;
  }
  if (r.requestMethod !== "POST" || r.parsedBody === undefined) return undefined;
  const opens = mcpMessages(r.parsedBody)?.some((m) => m.type === "request" && m.method === "initialize");
  return opens ? { subject: r.subject, route: r.route, path: r.path, request: r.parsedBody } : undefined;
}

/** Whether an answer to a request with a role is the upstream's yes: a session issued, or ended (404: it no
 * longer knows the id). */
export function answerCounts(role: McpSessionRole, status: number | undefined): boolean {
  const ok = status !== undefined && status >= 200 && status < 300;
  return role.end !== undefined ? ok || status === 404 : ok;
}

/** MCP sessions of this process (workers: 1): every check and change is here, synchronous. */
export class McpSessions implements McpSessionStore {
  readonly #book: McpSessionBook;

  constructor(max = 10_000) {
    this.#book = new McpSessionBook(max);
  }

  /** The upstream answered `subject`'s request at `route` + `path` with this session id. */
  issued(subject: string, route: string, path: string, id: string | string[] | undefined): void {
    if (typeof id !== "string" || !SESSION_ID.test(id)) return;
    this.#book.issue(subject, issuedAt(route, path), id);
  }

  /** The upstream issued this id to `subject` at `route` + `path`, and it has not been ended. */
  has(subject: string, route: string, path: string, id: string | string[] | undefined): boolean {
    return typeof id === "string" && this.#book.has(subject, issuedAt(route, path), id);
  }

  /** The session was ended (its DELETE succeeded): a second DELETE of it is an ordinary DELETE. */
  ended(subject: string, route: string, path: string, id: string): void {
    if (this.has(subject, route, path, id)) this.#book.delete(id);
  }

  get size(): number {
    return this.#book.size;
  }

  /**
   * An allowed request about to be forwarded with `mask`: in a session, it is masked with every rule the
   * session's exchanges were allowed under so far (this one's included), since the upstream may put any of
   * their answers on it. A session first seen here (opened before a restart, or forgotten) is booked from
   * now on, with the rules of the agent's forgotten sessions. Its events are masked with the session's rules
   * as they are when each arrives, and a resumption's with every rule (mcp-live-rules.ts). A call that
   * creates an MCP task is booked even outside a session, and reading a task is masked as a resumption
   * is (mcp-tasks.ts). Outside sessions, an MCP call's rules are booked for its agent's sessionless GET
   * event streams, where an HTTP+SSE server sends its answer (mcp-sse-streams.ts).
   * Refused: another agent's session, a session header that is not one id, and a resumption
   * (`Last-Event-ID` replays earlier exchanges' events) of a session regate did not see this agent open,
   * whose earlier masks it cannot know.
   */
  admit(r: McpRequest, mask: MaskRule[]): McpAdmission {
    const h = sessionHeader(r.headers);
    if ("refused" in h) return h.refused;
    const at = bookingOf(r, h);
    if (at === undefined) return sessionlessAdmission(this.#book, r.subject, r.requestMethod, mask);
    const b = this.#book.book(r.subject, at.id, at.resumes, mask);
    return b.ok ? bookedAdmission(this.#book, r.subject, r.requestMethod, at, mask, b.mask) : b;
  }

  roleOf(r: McpRequest): McpSessionRole | undefined {
    return sessionRole(this.#book, r);
  }

  answered(role: McpSessionRole, status: number | undefined, headers: IncomingHttpHeaders): undefined {
    if (!answerCounts(role, status)) return undefined;
    if (role.end !== undefined) this.ended(role.subject, role.route, role.path, role.end);
    else this.issued(role.subject, role.route, role.path, headers["mcp-session-id"]);
    return undefined;
  }
}

/** A header in either spelling upstream stacks read as one (`Mcp_Session_Id`); gateway refuses both at once. */
function spelled(headers: IncomingHttpHeaders, name: string): string | string[] | undefined {
  const exact = headers[name];
  if (exact !== undefined) return exact;
  for (const k of Object.keys(headers)) if (headerKey(k) === name) return headers[k];
  return undefined;
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
  /** The initialize's parsed body: a refusal of its answer is addressed to its JSON-RPC id. */
  request?: unknown;
}
