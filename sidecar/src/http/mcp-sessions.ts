// MCP's streamable HTTP transport ends a session with a DELETE that carries the `Mcp-Session-Id` the server
// issued. A DELETE with that header alone proves nothing (any REST API can be sent one), but a DELETE of an
// id this upstream issued to this agent at this path is that termination: the policy is told so
// (`http.mcp_session_end`), and can allow it without allowing DELETE.
//
// A stateful MCP server does not answer a call only on the exchange that carried it: it replays a stream's
// events to a GET with `Last-Event-ID`, and the SDK's transport routes an answer by its JSON-RPC id, so a
// second POST that reuses a pending call's id receives that call's result. Masks are decided per exchange,
// so every exchange of a session is masked with every rule any exchange of that session was allowed under.

import type { IncomingHttpHeaders } from "node:http";
import type { MaskRule } from "../decision/types.js";
import { mcpMessages } from "./mcp.js";
import { headerKey } from "./method.js";

/** Visible ASCII only, as the transport requires of a session id; anything else is not one. */
const SESSION_ID = /^[\x21-\x7e]{1,256}$/;

const UNKNOWN_RESUMPTION = "Last-Event-ID resumes an MCP session regate did not see this agent open: the masks of the answers it replays are unknown";

/** Mask rules gathered from several decisions, each once, in the order first seen. */
class Rules {
  mask: MaskRule[] = [];
  readonly #seen = new Set<string>();

  add(rules: readonly MaskRule[]): MaskRule[] {
    for (const rule of rules) {
      const k = JSON.stringify(rule);
      if (this.#seen.has(k)) continue;
      this.#seen.add(k);
      // A new array, not a push: the previous one may key a masker already built (maskers.ts).
      this.mask = [...this.mask, rule];
    }
    return this.mask;
  }
}

/** What regate knows of one session: whom it belongs to, and the mask rules its exchanges had. */
interface Session {
  subject: string;
  /** Route and path (`JSON.stringify([route, path])`) where an upstream issued it, answering an initialize
   * through regate; empty: only seen used. */
  issuedAt: Set<string>;
  rules: Rules;
}

/** The mask an allowed MCP exchange is relayed with, or why it must not be forwarded. */
export type McpAdmission = { ok: true; mask: MaskRule[] } | { ok: false; reason: string };

/** MCP sessions by id, with their agent; the least recently used are forgotten past `max`. */
export class McpSessions {
  // Keyed by the id alone, not agent, route or path: the id is the upstream's, a server takes it at any of
  // its paths from whoever sends it, and two routes may lead to one server (one masking more than the
  // other). Another agent's use of it is seen (and refused) rather than taken for a session of its own.
  readonly #sessions = new Map<string, Session>();
  // The rules of an agent's forgotten sessions: a session it goes on using after that (an agent can make
  // regate forget by sending made-up session ids) starts from them, not from none.
  readonly #forgotten = new Map<string, Rules>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  #touch(key: string, s: Session): void {
    this.#sessions.delete(key);
    this.#sessions.set(key, s);
    if (this.#sessions.size <= this.#max) return;
    const [oldKey, old] = this.#sessions.entries().next().value!;
    this.#sessions.delete(oldKey);
    if (old.rules.mask.length === 0) return;
    const floor = this.#forgotten.get(old.subject) ?? new Rules();
    floor.add(old.rules.mask);
    this.#forgotten.delete(old.subject);
    this.#forgotten.set(old.subject, floor);
    if (this.#forgotten.size > this.#max) this.#forgotten.delete(this.#forgotten.keys().next().value!);
  }

  /** The upstream answered `subject`'s request at `route` + `path` with this session id. */
  issued(subject: string, route: string, path: string, id: string | string[] | undefined): void {
    if (typeof id !== "string" || !SESSION_ID.test(id)) return;
    const known = this.#sessions.get(id);
    // An id issued again to another agent is not handed over: its masks and its end stay the first's.
    if (known && known.subject !== subject) return;
    // A new session has had no exchanges yet: it starts with no rules.
    const s = known ?? { subject, issuedAt: new Set<string>(), rules: new Rules() };
    s.issuedAt.add(JSON.stringify([route, path]));
    this.#touch(id, s);
  }

  /** The upstream issued this id to `subject` at `route` + `path`, and it has not been ended. */
  has(subject: string, route: string, path: string, id: string | string[] | undefined): boolean {
    if (typeof id !== "string") return false;
    const s = this.#sessions.get(id);
    return s !== undefined && s.subject === subject && s.issuedAt.has(JSON.stringify([route, path]));
  }

  /** The session was ended (its DELETE succeeded): a second DELETE of it is an ordinary DELETE. */
  ended(subject: string, route: string, path: string, id: string): void {
    if (this.has(subject, route, path, id)) this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /**
   * An allowed request about to be forwarded with `mask`: in a session, it is masked with every rule the
   * session's exchanges were allowed under so far (this one's included), since the upstream may put any of
   * their answers on it. A session first seen here (opened before a restart, on another worker, or
   * forgotten) is booked from now on, with the rules of the agent's forgotten sessions.
   * Refused: another agent's session, a session header that is not one id, and a resumption
   * (`Last-Event-ID` replays earlier exchanges' events) of a session regate did not see this agent open,
   * whose earlier masks it cannot know.
   */
  admit(r: McpRequest, mask: MaskRule[]): McpAdmission {
    const id = spelled(r.headers, "mcp-session-id");
    // Without a session id nothing tells an MCP server's GET from any SSE API's: its Last-Event-ID is the
    // policy's to judge (it sees the header), as a sessionless server has no exchanges to tie it to.
    if (id === undefined) return { ok: true, mask };
    const resumes = spelled(r.headers, "last-event-id") !== undefined;
    // Which of several values (or which part of a joined one) a server takes is its own choice.
    if (typeof id !== "string" || !SESSION_ID.test(id)) return { ok: false, reason: "the Mcp-Session-Id header is not one session id" };
    let s = this.#sessions.get(id);
    if (s && s.subject !== r.subject) return { ok: false, reason: "the Mcp-Session-Id was issued to another agent" };
    if (resumes && (!s || s.issuedAt.size === 0)) return { ok: false, reason: UNKNOWN_RESUMPTION };
    if (!s) {
      s = { subject: r.subject, issuedAt: new Set<string>(), rules: new Rules() };
      const floor = this.#forgotten.get(r.subject);
      if (floor) s.rules.add(floor.mask);
    }
    this.#touch(id, s);
    return { ok: true, mask: s.rules.add(mask) };
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
}
