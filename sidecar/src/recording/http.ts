import { createHash, randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { Decider, DecideOptions, Decision, DecisionEvent, DecisionSink, PolicyInput, SessionInput } from "../decision/index.js";
import type { RequestDoneInfo } from "../http/index.js";
import { UNAVAILABLE } from "./layout.js";
import { recordableRequest } from "./http-redact.js";
import { recordedDecision } from "./logged-decision.js";
import type { Recorder } from "./recorder.js";

// HTTP requests in recordings. Each request is decided as a session of its own (its input's session id is
// the request id); a recording groups them the way an agent works: by its MCP session when the client
// sends `Mcp-Session-Id`, else by its connection (client address and port, which stay the same across
// the keep-alive requests of one connection). A connection's group ends when the connection closes, an
// MCP session's when it is deleted; either after `idleSeconds` without a request, or at shutdown.

interface Group {
  session: SessionInput;
  last: number;
  requests: number;
  refused: number;
  bytes: number;
  /** Requests decided and not yet answered: a group is never ended idle under one. */
  inflight: number;
  /** Its connection closed while a request was in flight: it ends when that one is answered. */
  closed?: boolean;
  /** "address:port" of the connection it groups (not for MCP sessions). */
  conn?: string;
}

interface Pending {
  key: string;
  decisions: string[];
}

/** The first 16 hex digits of the SHA-256 of an MCP session id: enough to group by, useless to hijack it. */
const mcpRef = (id: string) => createHash("sha256").update(id, "utf8").digest("hex").slice(0, 16);

/**
 * MCP sessions one agent may have recorded at once. The agent names them (any `Mcp-Session-Id`), and each
 * holds an open file: without a bound one agent sending fresh ids would hold a file descriptor per request
 * for `idleSeconds`, until regate runs out of them and every agent's requests are refused. Past the bound
 * the agent's MCP recording unused the longest is ended (`evicted`); one whose every group has a request in
 * flight is refused (RECORDING_UNAVAILABLE). Connection groups are bounded by the connections themselves.
 */
export const MCP_GROUPS_PER_AGENT = 256;

export class HttpRecorder implements DecisionSink {
  readonly #rec: Recorder;
  readonly #idleMs: number;
  readonly #groups = new Map<string, Group>();
  /** Connection ("address:port") to the keys of its groups (one per agent that used it). */
  readonly #byConn = new Map<string, Set<string>>();
  readonly #pending = new Map<string, Pending>();
  /** Decisions whose record failed: the decider wrapper refuses them (see `decider`). */
  readonly #unrecorded = new Set<string>();
  readonly #timer?: NodeJS.Timeout;
  /** Requests already answered, with their recording's session id: a deferred approval comes later. */
  readonly #recent = new Map<string, string>();

  constructor(rec: Recorder, idleSeconds: number) {
    this.#rec = rec;
    this.#idleMs = idleSeconds * 1000;
    if (idleSeconds > 0) this.#timer = setInterval(() => this.#sweep(), Math.min(this.#idleMs, 1000)).unref();
  }

  record(e: DecisionEvent): void {
    if (e.input.kind !== "http") return;
    const http = e.input.http as { headers?: Record<string, string>; method?: string } | undefined;
    const mcp = http?.headers?.["mcp-session-id"];
    const s = e.input.session;
    const conn = `${s.client.address}:${s.client.port}`;
    const key = `${s.principal.subject}\0${mcp ? `mcp:${mcp}` : `conn:${conn}`}`;
    const d = e.decision;
    if (mcp && !this.#groups.has(key) && !this.#roomForMcp(s.principal.subject)) {
      this.#unrecord(d.decision_id);
      return;
    }
    const group = this.#group(key, s, mcp);
    if (!mcp && !group.conn) {
      group.conn = conn;
      let keys = this.#byConn.get(conn);
      if (!keys) this.#byConn.set(conn, (keys = new Set()));
      keys.add(key);
    }
    group.last = Date.now();
    const pending = this.#pending.get(s.id) ?? { key, decisions: [] };
    pending.decisions.push(d.decision_id);
    this.#pending.set(s.id, pending);
    if (pending.decisions.length === 1) {
      group.requests++;
      group.inflight++;
    }
    if (d.outcome !== "allow") group.refused++;
    const ok = this.#rec.write(
      group.session,
      "request",
      {
        request_id: s.id,
        request: recordableRequest(e.input.http, d),
        // As the decision log shows it: reasons the log mask hid are not recorded (logged-decision.ts).
        decision: recordedDecision(d, e),
      },
      "http",
      d.revision,
    );
    // Whatever the logged outcome: in dry-run mode a logged deny is enforced as an allow.
    if (!ok) this.#unrecord(d.decision_id);
  }

  /** A decision that has no record: the wrapped decider refuses it. */
  #unrecord(decisionId: string): void {
    this.#unrecorded.add(decisionId);
    // Decisions made outside the wrapped decider are never taken out again: keep the set bounded.
    if (this.#unrecorded.size > 1024) this.#unrecorded.delete(this.#unrecorded.values().next().value!);
  }

  /** Whether `subject` may open one more MCP recording, ending its least recently used one when it must. */
  #roomForMcp(subject: string): boolean {
    const prefix = `${subject}\0mcp:`;
    let count = 0;
    let oldest: [string, Group] | undefined;
    for (const [key, g] of this.#groups) {
      if (!key.startsWith(prefix)) continue;
      count++;
      if (g.inflight === 0 && (!oldest || g.last < oldest[1].last)) oldest = [key, g];
    }
    if (count < MCP_GROUPS_PER_AGENT) return true;
    if (!oldest) return false;
    this.#end(oldest[0], "evicted");
    return true;
  }

  /** The recording session a request in flight is recorded in (for the SIEM's hash link). */
  sessionOf(requestId: string): string | undefined {
    const p = this.#pending.get(requestId);
    return p ? this.#groups.get(p.key)?.session.id : undefined;
  }

  #group(key: string, s: SessionInput, mcp: string | undefined): Group {
    let g = this.#groups.get(key);
    if (g) return g;
    const started = new Date().toISOString();
    g = {
      session: {
        id: randomUUID(),
        principal: s.principal,
        client: s.client,
        target: s.target,
        started_at: started,
        ...(mcp ? { application_name: `mcp-session ${mcpRef(mcp)}` } : {}),
      },
      last: Date.now(),
      requests: 0,
      refused: 0,
      bytes: 0,
      inflight: 0,
    };
    this.#groups.set(key, g);
    return g;
  }

  /** For the gateway's `onRequestDone`: what came of the request. */
  done(info: RequestDoneInfo): void {
    const p = this.#pending.get(info.request_id);
    if (!p) return;
    this.#pending.delete(info.request_id);
    const g = this.#groups.get(p.key);
    if (!g) return;
    g.last = Date.now();
    g.inflight--;
    g.bytes += info.bytes;
    this.#recent.set(info.request_id, g.session.id);
    if (this.#recent.size > 4096) this.#recent.delete(this.#recent.keys().next().value!);
    // Deferred (group commit, Recorder.writeLater): the response is over, nothing waits on its record.
    this.#rec.writeLater(g.session, "response", {
      request_id: info.request_id,
      decision_id: info.decision_id,
      outcome: info.outcome,
      status: info.status,
      masked: info.masked,
      error_code: info.error_code,
      duration_ms: info.duration_ms,
      bytes: info.bytes,
      // A stream cut after its head was sent still says 200: without this the record reads as a whole response.
      ...(info.aborted || info.status === 0 ? { aborted: true } : {}),
      ...(info.lock_id !== undefined ? { lock_id: info.lock_id } : {}),
    });
    if (g.closed && g.inflight === 0) return this.#end(p.key, "client");
    // An MCP client ends its session with DELETE (MCP streamable HTTP transport).
    if (info.method === "DELETE" && p.key.includes("\0mcp:") && info.status < 400 && info.status > 0) this.#end(p.key, "client");
  }

  /**
   * Ends the recording of each agent connection to `server` when it closes. The address and port are taken
   * when the connection opens: a closed socket no longer has them.
   */
  watch(server: Server): void {
    server.on("connection", (socket: Socket) => {
      const conn = `${socket.remoteAddress ?? ""}:${socket.remotePort ?? 0}`;
      socket.once("close", () => {
        for (const key of [...(this.#byConn.get(conn) ?? [])]) {
          const g = this.#groups.get(key);
          if (!g) continue;
          if (g.inflight === 0) this.#end(key, "client");
          else g.closed = true;
        }
      });
    });
  }

  /** The recorded session a request belongs to (lifecycle events name the request's id). */
  sessionOfRequest(requestId: string): string | undefined {
    const p = this.#pending.get(requestId);
    return (p ? this.#groups.get(p.key)?.session.id : undefined) ?? this.#recent.get(requestId);
  }

  #end(key: string, reason: string): void {
    const g = this.#groups.get(key);
    if (!g) return;
    this.#groups.delete(key);
    if (g.conn) {
      const keys = this.#byConn.get(g.conn);
      keys?.delete(key);
      if (keys?.size === 0) this.#byConn.delete(g.conn);
    }
    this.#rec.end(g.session, { reason, requests: g.requests, refused: g.refused, bytes: g.bytes }, "http");
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, g] of this.#groups) if (g.inflight === 0 && now - g.last >= this.#idleMs) this.#end(key, "idle");
  }

  /** Ends every group (regate stopping). */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    for (const key of [...this.#groups.keys()]) this.#end(key, "shutdown");
  }

  /**
   * The decider the HTTP gateway uses: a request whose record could not be written is refused before it is
   * forwarded (RECORDING_UNAVAILABLE), as a Postgres statement is. Its decision log line shows the policy's
   * outcome; the response, the request line and the metrics show the refusal.
   */
  decider(inner: Decider): Decider {
    const unrecorded = this.#unrecorded;
    const rec = this.#rec;
    const wrapped: Decider = {
      decide(input: PolicyInput, options?: DecideOptions): Decision {
        const d = inner.decide(input, options);
        if (!unrecorded.delete(d.decision_id) || d.outcome === "deny") return d;
        rec.refused();
        const { approve: _a, next_step: _n, ...rest } = d;
        return { ...rest, outcome: "deny", reasons: [UNAVAILABLE], mask: [], error_code: "RECORDING_UNAVAILABLE" };
      },
    };
    if (inner.congested) wrapped.congested = () => inner.congested!();
    return wrapped;
  }
}
