import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import type { LiveSession, SessionRegistry } from "./lifecycle/registry.js";
import { simpleQuery } from "./simple-query.js";
import { connectUpstream } from "./upstream.js";

export interface SilenceWatchOptions {
  /** A statement whose upstream has sent nothing for this long is looked into. */
  silenceMs: number;
  /** How long the look (a fresh connection asking pg_stat_activity) may take before the server counts as gone. */
  probeTimeoutMs: number;
  upstream: UpstreamConfig;
  registry: SessionRegistry;
  log: Logger;
}

/**
 * A server that stops answering (frozen, swapped out, a network that drops packets but keeps the TCP
 * connection) would leave a session waiting for ever: TCP keepalive only sees a peer that is gone. A long
 * query is silent too, so silence alone proves nothing: after `silenceMs` the watch asks the server itself,
 * on a fresh connection, whether the session's backend is still there. No answer within `probeTimeoutMs`,
 * or no such backend, ends the session with 08006; an answer that it is there waits another `silenceMs`.
 */
export class SilenceWatch {
  readonly #opts: SilenceWatchOptions;
  readonly #timer: NodeJS.Timeout;
  /** Sessions being probed, and when each was last confirmed alive (so a long query is asked once per period). */
  readonly #probing = new Set<string>();
  readonly #confirmed = new Map<string, number>();

  constructor(opts: SilenceWatchOptions) {
    this.#opts = opts;
    this.#timer = setInterval(() => this.#check(), Math.max(100, Math.floor(opts.silenceMs / 4)));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    const now = Date.now();
    const live = new Set<string>();
    for (const s of this.#opts.registry.all()) {
      const id = s.info.id;
      live.add(id);
      const silent = s.silentForMs(now);
      if (silent === undefined || silent < this.#opts.silenceMs || this.#probing.has(id)) continue;
      const confirmed = this.#confirmed.get(id);
      if (confirmed !== undefined && now - confirmed < this.#opts.silenceMs) continue;
      this.#probing.add(id);
      void this.#probe(s, silent).then(
        (verdict) => {
          this.#probing.delete(id);
          if (verdict === "alive") this.#confirmed.set(id, Date.now());
          else {
            this.#opts.log.warn({ session_id: id, silent_ms: silent, verdict }, "upstream stopped answering; session ended");
            s.upstreamGone(
              verdict === "backend_gone"
                ? `the database session behind this connection is gone (no reply for ${Math.round(silent / 1000)}s)`
                : `the database stopped answering (no reply for ${Math.round(silent / 1000)}s, and a new connection could not reach it within ${this.#opts.probeTimeoutMs} ms)`,
            );
          }
        },
        () => this.#probing.delete(id),
      );
    }
    for (const id of this.#confirmed.keys()) if (!live.has(id)) this.#confirmed.delete(id);
  }

  async #probe(w: LiveSession, silent: number): Promise<"alive" | "backend_gone" | "server_unreachable"> {
    const pid = w.backendPid;
    let socket: Awaited<ReturnType<typeof connectUpstream>>["socket"] | undefined;
    let finished = false;
    const timeout = new Promise<"server_unreachable">((resolve) => setTimeout(() => resolve("server_unreachable"), this.#opts.probeTimeoutMs).unref());
    const ask = (async () => {
      const conn = await connectUpstream(this.#opts.upstream, { application_name: "regate-liveness" });
      // Connected after the verdict was given: nothing more to ask.
      if (finished) {
        conn.socket.destroy();
        return "server_unreachable" as const;
      }
      socket = conn.socket;
      // Only an integer goes into the text: the pid comes from the server's own BackendKeyData.
      const rows = await simpleQuery(conn.socket, `SELECT 1 FROM pg_stat_activity WHERE pid = ${pid === undefined ? "NULL" : Math.trunc(pid)}`, conn.leftover);
      return rows.length > 0 || pid === undefined ? ("alive" as const) : ("backend_gone" as const);
    })().catch(() => "server_unreachable" as const);
    try {
      const verdict = await Promise.race([ask, timeout]);
      this.#opts.log.debug({ silent_ms: silent, pid, verdict }, "upstream liveness probe");
      return verdict;
    } finally {
      finished = true;
      socket?.destroy();
    }
  }
}
