import type { SessionInput } from "../../decision/index.js";
import type { Statement } from "./statement.js";

/** What a live session shows the registry, and the one thing the registry can do to it. */
export interface LiveSession {
  readonly info: SessionInput;
  /** The statement whose replies are awaited, if any. */
  readonly current: Statement | undefined;
  readonly transactionStatus: "idle" | "in_transaction" | "failed";
  readonly idle: boolean;
  /** Cancels whatever runs upstream, then ends the session with a FATAL that gives the reason. */
  end(reason: string): Promise<void>;
  /** Milliseconds since the upstream last sent anything while a reply is awaited; undefined when none is (silence-watch.ts). */
  silentForMs(now: number): number | undefined;
  /** The upstream backend's process id (from its BackendKeyData). */
  readonly backendPid: number | undefined;
  /** Ends the session because its upstream is gone, with a FATAL the client understands. */
  upstreamGone(message: string): void;
}

export interface SessionSummary {
  id: string;
  principal: string;
  client: string;
  started_at: string;
  application_name?: string;
  transaction_status: LiveSession["transactionStatus"];
  current?: { seq: number; sql: string; decision_id?: string; running_ms: number };
}

/** Every live session by id: for operators (list, end one) and for draining at shutdown. */
export class SessionRegistry {
  readonly #live = new Map<string, LiveSession>();

  add(session: LiveSession): () => void {
    this.#live.set(session.info.id, session);
    return () => {
      if (this.#live.get(session.info.id) === session) this.#live.delete(session.info.id);
    };
  }

  get size(): number {
    return this.#live.size;
  }

  get(id: string): LiveSession | undefined {
    return this.#live.get(id);
  }

  all(): LiveSession[] {
    return [...this.#live.values()];
  }

  list(now = process.hrtime.bigint()): SessionSummary[] {
    return this.all().map((s) => {
      const c = s.current;
      return {
        id: s.info.id,
        principal: s.info.principal.subject,
        client: `${s.info.client.address}:${s.info.client.port}`,
        started_at: s.info.started_at,
        ...(s.info.application_name ? { application_name: s.info.application_name } : {}),
        transaction_status: s.transactionStatus,
        ...(c
          ? { current: { seq: c.seq, sql: c.sql, ...(c.decision ? { decision_id: c.decision.decision_id } : {}), running_ms: Number(now - c.started_ns) / 1e6 } }
          : {}),
      };
    });
  }

  /** Ends one session; false when no such session is live. */
  async end(id: string, reason: string): Promise<boolean> {
    const s = this.#live.get(id);
    if (!s) return false;
    await s.end(reason);
    return true;
  }

  /** Ends every session of one agent; returns how many. */
  async endPrincipal(subject: string, reason: string): Promise<number> {
    const mine = this.all().filter((s) => s.info.principal.subject === subject);
    await Promise.all(mine.map((s) => s.end(reason)));
    return mine.length;
  }
}
