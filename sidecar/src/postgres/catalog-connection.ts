import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import { connectUpstream, type UpstreamConnection } from "./upstream.js";
import { simpleQuery } from "./simple-query.js";

/**
 * The catalog's own upstream connection: its queries run one at a time, in the order asked, and a
 * connection that failed or closed is replaced by the next query.
 */
export class CatalogConnection {
  #conn: Promise<UpstreamConnection> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly upstream: UpstreamConfig,
    private readonly log: Logger,
  ) {}

  query(sql: string): Promise<(string | null)[][]> {
    const run = async () => {
      this.#conn ??= this.#open();
      let conn: UpstreamConnection;
      try {
        conn = await this.#conn;
      } catch (err) {
        this.#conn = undefined;
        throw err;
      }
      try {
        return await simpleQuery(conn.socket, sql);
      } catch (err) {
        this.log.warn({ err }, "catalog query failed; reconnecting next time");
        conn.socket.destroy();
        this.#conn = undefined;
        throw err;
      }
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /**
   * The catalog's own connection. The server may close it while idle (a restart, idle_session_timeout):
   * forget it then, so the next lookup opens a new one. A query written to the closed socket would wait
   * for a reply that never comes, and every lookup queued behind it with it.
   */
  #open(): Promise<UpstreamConnection> {
    const opening: Promise<UpstreamConnection> = connectUpstream(this.upstream, { application_name: "regate-catalog" }).then((conn) => {
      conn.socket.once("close", () => {
        if (this.#conn === opening) this.#conn = undefined;
      });
      return conn;
    });
    return opening;
  }

  close(): void {
    void this.#conn?.then((c) => c.socket.destroy(), () => undefined);
    this.#conn = undefined;
  }
}
