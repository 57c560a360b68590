import type { UpstreamConfig } from "../config/index.js";
import { RegateError } from "../errors.js";
import { simpleQuery } from "./simple-query.js";
import { connectUpstream, type UpstreamConnection } from "./upstream.js";

/**
 * regate's own upstream connection for a store (locks, approvals): one query at a time, reconnecting when
 * the connection was lost. A failed statement may leave the connection inside an aborted block, so it is
 * dropped and the next query starts afresh. After close(), queued queries still finish; new ones fail.
 */
export class SerialConnection {
  #conn: UpstreamConnection | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    private readonly upstream: UpstreamConfig,
    private readonly applicationName: string,
    /** What errors call it ("the lock store"). */
    private readonly what: string,
    /** More startup parameters (a store pins its search_path: see STORE_STARTUP). */
    private readonly params: Record<string, string> = {},
  ) {}

  query(sql: string): Promise<(string | null)[][]> {
    const next = this.#chain.then(async () => {
      let leftover: Buffer | undefined;
      if (!this.#conn || this.#conn.socket.destroyed) {
        if (this.#closed) throw new RegateError("UPSTREAM_UNAVAILABLE", `${this.what} is closed`);
        const conn = (this.#conn = await connectUpstream(this.upstream, { ...this.params, application_name: this.applicationName }));
        conn.socket.on("error", () => conn.socket.destroy());
        leftover = conn.leftover;
      }
      const conn = this.#conn;
      try {
        return await simpleQuery(conn.socket, sql, leftover);
      } catch (err) {
        conn.socket.destroy();
        throw err instanceof RegateError && err.code === "UPSTREAM_UNAVAILABLE" ? err : new RegateError("UPSTREAM_UNAVAILABLE", `the ${this.what} query failed`, { cause: err });
      }
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** Cuts the connection in use: the query waiting on it fails, and the next one connects afresh. */
  abort(): void {
    this.#conn?.socket.destroy();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#chain;
    this.#conn?.socket.destroy();
  }
}

/**
 * Startup parameters of the stores' own connections (approvals, locks). They run as regate's upstream role,
 * which is also the role agents' statements run as: an agent could give that role a search_path default
 * (ALTER ROLE … SET) that puts its own operators and functions before pg_catalog's, and so change what
 * regate's compare-and-set statements mean (`grant_expires_at > now()`). A startup parameter outranks the
 * role's default; the stores' SQL names its tables with their schema.
 */
export const STORE_STARTUP: Readonly<Record<string, string>> = { search_path: "pg_catalog" };
