// The book of MCP sessions (mcp-sessions.ts says why regate keeps one): whom each session belongs to, where
// the upstream issued it, and the mask rules its exchanges were allowed under, with the rules of forgotten
// sessions kept per agent. Kept in one process, or in the cluster primary with a copy in every worker.

import type { MaskRule } from "../decision/types.js";

const ANOTHER_AGENT = "the Mcp-Session-Id was issued to another agent";

const UNKNOWN_RESUMPTION = "Last-Event-ID resumes an MCP session regate did not see this agent open: the masks of the answers it replays are unknown";

/** Mask rules gathered from several decisions, each once, in the order first seen. */
export class SessionRules {
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

  /** Whether every one of `rules` is already here (adding them would change nothing). */
  covers(rules: readonly MaskRule[]): boolean {
    return rules.every((rule) => this.#seen.has(JSON.stringify(rule)));
  }
}

/** What regate knows of one session: whom it belongs to, and the mask rules its exchanges had. */
export interface McpSession {
  readonly subject: string;
  /** Route and path (`issuedAt(route, path)`) where an upstream issued it, answering an initialize
   * through regate; empty: only seen used. */
  readonly issuedAt: Set<string>;
  readonly rules: SessionRules;
}

/** One session as it travels between processes (cluster/mcp-sessions.ts). */
export interface McpSessionRecord {
  id: string;
  subject: string;
  issuedAt: string[];
  rules: MaskRule[];
}

/** The mask an allowed MCP exchange is relayed with, or why it must not be forwarded. `unavailable`: the
 * session's change could not reach every worker in time (fail closed: 503 CLUSTER_UNAVAILABLE). */
export type McpAdmission = { ok: true; mask: MaskRule[]; live?: () => MaskRule[]; joins?: true } | { ok: false; reason: string; unavailable?: true };

/** How the book's admission of one exchange turned out, and whether it changed the session. */
export type McpBooking = { ok: true; mask: MaskRule[]; changed: boolean } | { ok: false; reason: string };

/**
 * Where the book keeps an agent's sessionless MCP rules, for its HTTP+SSE streams (mcp-sse-streams.ts); a
 * space: never a session id. They are no session's: no resumption or task reading replays their answers.
 */
export const sessionlessKey = (subject: string): string => `sse ${subject}`;

const isSessionlessKey = (id: string): boolean => id.startsWith("sse ");

/** The key of a route and path a session was issued at. */
export function issuedAt(route: string, path: string): string {
  return JSON.stringify([route, path]);
}

/**
 * MCP sessions by id, with their agent; the least recently used are forgotten past `max`. The rules of
 * the book, wherever it is kept: in the one process (McpSessions), or in the cluster primary with a copy
 * in every worker (cluster/mcp-sessions.ts).
 */
export class McpSessionBook {
  // Keyed by the id alone, not agent, route or path: the id is the upstream's, a server takes it at any of
  // its paths from whoever sends it, and two routes may lead to one server (one masking more than the
  // other). Another agent's use of it is seen (and refused) rather than taken for a session of its own.
  readonly #sessions = new Map<string, McpSession>();
  // The rules of an agent's forgotten sessions: a session it goes on using after that (an agent can make
  // regate forget by sending made-up session ids) starts from them, not from none.
  readonly #forgotten = new Map<string, SessionRules>();
  // Every rule any session (or task, mcp-tasks.ts) was ever allowed under: what a resumption or a task's
  // reading may replay (mcp-live-rules.ts).
  readonly #every = new SessionRules();
  readonly #max: number;
  readonly #onForget: ((id: string) => void) | undefined;

  /** `onForget`: a session was pushed out by newer ones. */
  constructor(max = 10_000, onForget?: (id: string) => void) {
    this.#max = max;
    this.#onForget = onForget;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Every rule any exchange of any session in this book was allowed under, forgotten and ended ones included. */
  get everyRule(): MaskRule[] {
    return this.#every.mask;
  }

  get(id: string): McpSession | undefined {
    return this.#sessions.get(id);
  }

  /** Used again: the last to be forgotten. */
  touch(id: string): void {
    const s = this.#sessions.get(id);
    if (s) this.#touch(id, s);
  }

  #touch(key: string, s: McpSession): void {
    this.#sessions.delete(key);
    this.#sessions.set(key, s);
    if (this.#sessions.size <= this.#max) return;
    const [oldKey, old] = this.#sessions.entries().next().value!;
    this.#sessions.delete(oldKey);
    this.#onForget?.(oldKey);
    if (old.rules.mask.length === 0) return;
    const floor = this.#forgotten.get(old.subject) ?? new SessionRules();
    floor.add(old.rules.mask);
    this.#forgotten.delete(old.subject);
    this.#forgotten.set(old.subject, floor);
    if (this.#forgotten.size > this.#max) this.#forgotten.delete(this.#forgotten.keys().next().value!);
  }

  /** The upstream answered `subject`'s request at `at` with this id. False: nothing changed. */
  issue(subject: string, at: string, id: string): boolean {
    const known = this.#sessions.get(id);
    // An id issued again to another agent is not handed over: its masks and its end stay the first's.
    if (known && known.subject !== subject) return false;
    // A new session has had no exchanges yet: it starts with no rules.
    const s = known ?? { subject, issuedAt: new Set<string>(), rules: new SessionRules() };
    const changed = !s.issuedAt.has(at);
    s.issuedAt.add(at);
    this.#touch(id, s);
    return changed;
  }

  /** The upstream issued this id to `subject` at `at`. */
  has(subject: string, at: string, id: string): boolean {
    const s = this.#sessions.get(id);
    return s !== undefined && s.subject === subject && s.issuedAt.has(at);
  }

  /** Gone from the book (ended, or forgotten by the process that keeps the book). */
  delete(id: string): boolean {
    return this.#sessions.delete(id);
  }

  /**
   * One exchange of session `id`, allowed with `mask`, about to be forwarded: see McpSessions.admit.
   * `changed`: the session is new to the book or has rules it did not have.
   */
  book(subject: string, id: string, resumes: boolean, mask: readonly MaskRule[]): McpBooking {
    let s = this.#sessions.get(id);
    if (s && s.subject !== subject) return { ok: false, reason: ANOTHER_AGENT };
    if (resumes && (!s || s.issuedAt.size === 0)) return { ok: false, reason: UNKNOWN_RESUMPTION };
    let changed = false;
    if (!s) {
      s = { subject, issuedAt: new Set<string>(), rules: new SessionRules() };
      const floor = this.#forgotten.get(subject);
      if (floor) s.rules.add(floor.mask);
      changed = true;
    }
    this.#touch(id, s);
    const before = s.rules.mask;
    const after = s.rules.add(mask);
    if (after !== before && !isSessionlessKey(id)) this.#every.add(mask);
    return { ok: true, mask: after, changed: changed || after !== before };
  }

  record(id: string): McpSessionRecord | undefined {
    const s = this.#sessions.get(id);
    return s && { id, subject: s.subject, issuedAt: [...s.issuedAt], rules: s.rules.mask };
  }

  /** Every session, least recently used first (put in this order, they keep it). */
  records(): McpSessionRecord[] {
    return [...this.#sessions.keys()].map((id) => this.record(id)!);
  }

  /** A session as another process's book has it now: replaces this book's. */
  put(r: McpSessionRecord): void {
    const rules = new SessionRules();
    rules.add(r.rules);
    if (!isSessionlessKey(r.id)) this.#every.add(r.rules);
    this.#touch(r.id, { subject: r.subject, issuedAt: new Set(r.issuedAt), rules });
  }
}
