import type { IncomingHttpHeaders } from "node:http";
import type { MaskRule } from "../decision/types.js";
import {
  answerCounts,
  issuedAt,
  issuedId,
  bookedAdmission,
  bookingOf,
  McpSessionBook,
  sessionHeader,
  sessionlessAdmission,
  sessionRole,
  type McpAdmission,
  type McpRequest,
  type McpSessionRecord,
  type McpSessionRole,
  type McpSessionStore,
} from "../http/index.js";
import type { Logger } from "../log.js";
import { MCP_CALL_TIMEOUT_MS, type PrimaryOp, type WorkerOp } from "./messages.js";

/** What the worker's end of the IPC channel offers (link.ts; a fake in unit tests). */
export interface McpLink {
  request<T>(op: PrimaryOp, body?: unknown, timeoutMs?: number): Promise<T>;
  handle(op: WorkerOp, fn: (body: any) => unknown): void;
}

/** A change the primary gives every worker: sessions as it now has them, and sessions it no longer has. */
export interface McpSessionChange {
  put?: McpSessionRecord[];
  forget?: string[];
}

/** How long a worker gathers the ids of sessions it used before it tells the primary (their LRU order). */
const TOUCH_EVERY_MS = 1_000;

const UNAVAILABLE = "regate could not share this MCP session's change with its other workers in time; retry";

/**
 * MCP session records across workers (docs/workers.md), as memory locks are: the primary holds the book,
 * every worker a copy that changes only through the primary (a snapshot at start, then each change in the
 * order the primary made it). An exchange the copy can admit alone (a known session of this agent, rules
 * it already has) costs no IPC; anything else (a session new to the cluster, new mask rules, another
 * agent's id, a resumption the copy does not know) is booked by the primary, which gives the change to
 * every listening worker before it answers, so the exchange is forwarded only once no worker would admit
 * the agent on other terms. A session issued through this worker reaches every worker before its answer
 * is relayed. No answer in time: the exchange is refused (fail closed), never forwarded with fewer masks.
 */
export class ClusterMcpSessions implements McpSessionStore {
  readonly #copy: McpSessionBook;
  readonly #touched = new Set<string>();
  #touchTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: McpLink,
    private readonly log: Logger,
    private readonly timeoutMs = MCP_CALL_TIMEOUT_MS,
    max?: number,
  ) {
    // Sessions the primary forgot are forgotten here by its `forget`; the bound is a backstop only.
    this.#copy = new McpSessionBook(max);
    link.handle("mcp.changed", (c: McpSessionChange) => this.#changed(c));
  }

  /** Reads the primary's book; before the listeners open (changes that arrive meanwhile apply on top). */
  async start(): Promise<this> {
    const records = await this.link.request<McpSessionRecord[]>("mcp.snapshot", {}, this.timeoutMs);
    for (const r of records) this.#copy.put(r);
    return this;
  }

  #changed(c: McpSessionChange): boolean {
    for (const r of c.put ?? []) this.#copy.put(r);
    for (const id of c.forget ?? []) this.#copy.delete(id);
    return true;
  }

  get size(): number {
    return this.#copy.size;
  }

  roleOf(r: McpRequest): McpSessionRole | undefined {
    return sessionRole(this.#copy, r);
  }

  admit(r: McpRequest, mask: MaskRule[]): McpAdmission | Promise<McpAdmission> {
    const h = sessionHeader(r.headers);
    if ("refused" in h) return h.refused;
    const at = bookingOf(r, h);
    if (at === undefined) return sessionlessAdmission(this.#copy, r.subject, r.requestMethod, mask);
    const s = this.#copy.get(at.id);
    // The hot path: nothing about the session changes, so nothing any other worker must learn first.
    if (s && s.subject === r.subject && (!at.resumes || s.issuedAt.size > 0) && s.rules.covers(mask)) {
      this.#copy.touch(at.id);
      this.#touch(at.id);
      return bookedAdmission(this.#copy, r.subject, r.requestMethod, at, mask, s.rules.mask);
    }
    return this.link.request<McpAdmission>("mcp.admit", { subject: r.subject, id: at.id, resumes: at.resumes, mask }, this.timeoutMs).then(
      // The copy has the primary's change by now (it shares before it answers): it is read from here on.
      (a) => (a.ok ? bookedAdmission(this.#copy, r.subject, r.requestMethod, at, mask, a.mask) : a),
      (err: unknown) => {
        this.log.warn({ err }, "an MCP session change could not be shared with every worker; the exchange is refused");
        return { ok: false, reason: UNAVAILABLE, unavailable: true } as const;
      },
    );
  }

  answered(role: McpSessionRole, status: number | undefined, headers: IncomingHttpHeaders): Promise<void> | undefined {
    if (!answerCounts(role, status)) return undefined;
    const at = issuedAt(role.route, role.path);
    if (role.end !== undefined) {
      if (!this.#copy.has(role.subject, at, role.end)) return undefined;
      // Nothing is unmasked by an end arriving late elsewhere (a second DELETE there is an ordinary one).
      this.#copy.delete(role.end);
      this.link.request("mcp.ended", { subject: role.subject, at, id: role.end }, this.timeoutMs).catch((err: unknown) => this.log.warn({ err }, "an MCP session's end could not be shared with every worker"));
      return undefined;
    }
    const id = issuedId(headers);
    if (id === undefined || this.#copy.has(role.subject, at, id)) return undefined;
    return this.link.request<boolean>("mcp.issued", { subject: role.subject, at, id }, this.timeoutMs).then(() => undefined);
  }

  /** The primary forgets the least recently used: it learns of uses, a second late at most, off the hot path. */
  #touch(id: string): void {
    this.#touched.add(id);
    if (this.#touchTimer) return;
    this.#touchTimer = setTimeout(() => {
      this.#touchTimer = undefined;
      const ids = [...this.#touched];
      this.#touched.clear();
      this.link.request("mcp.touch", { ids }, this.timeoutMs).catch((err: unknown) => this.log.debug({ err }, "MCP session uses not passed to the primary"));
    }, TOUCH_EVERY_MS);
    this.#touchTimer.unref();
  }
}

/**
 * The primary's book of MCP sessions: every change a worker asks for is made here, in one order, and given
 * to every listening worker (`share`) before the worker that asked is answered.
 */
export class McpSessionsPrimary {
  readonly #book: McpSessionBook;
  #forgotten: string[] = [];
  // Changes a listening worker did not confirm: shared again by the next exchange that relies on them.
  readonly #unconfirmed = new Set<string>();

  /** `share` resolves once every listening worker has the change, and rejects when one did not confirm it. */
  constructor(
    private readonly share: (change: McpSessionChange) => Promise<void>,
    max?: number,
  ) {
    this.#book = new McpSessionBook(max, (id) => this.#forgotten.push(id));
  }

  snapshot(): McpSessionRecord[] {
    return this.#book.records();
  }

  async admit(b: { subject: string; id: string; resumes: boolean; mask: MaskRule[] }): Promise<McpAdmission> {
    const booked = this.#book.book(b.subject, b.id, b.resumes === true, b.mask);
    if (!booked.ok) return booked;
    if (booked.changed || this.#unconfirmed.has(b.id)) await this.#share(b.id);
    return { ok: true, mask: booked.mask };
  }

  async issued(b: { subject: string; at: string; id: string }): Promise<boolean> {
    const changed = this.#book.issue(b.subject, b.at, b.id);
    if (changed || (this.#unconfirmed.has(b.id) && this.#book.has(b.subject, b.at, b.id))) await this.#share(b.id);
    return changed;
  }

  async ended(b: { subject: string; at: string; id: string }): Promise<boolean> {
    if (!this.#book.has(b.subject, b.at, b.id)) return false;
    this.#book.delete(b.id);
    this.#unconfirmed.delete(b.id);
    await this.share({ forget: [b.id] });
    return true;
  }

  touch(b: { ids: string[] }): boolean {
    for (const id of b.ids) this.#book.touch(id);
    return true;
  }

  async #share(id: string): Promise<void> {
    // Made now, sent now: each worker receives the changes in the order they were made here.
    const change: McpSessionChange = { put: [this.#book.record(id)!] };
    if (this.#forgotten.length) change.forget = this.#forgotten.splice(0);
    this.#unconfirmed.add(id);
    await this.share(change);
    this.#unconfirmed.delete(id);
  }
}
