import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import { RegateError } from "../errors.js";
import { connectUpstream, type UpstreamConnection } from "./upstream.js";
import { simpleQuery } from "./simple-query.js";

/**
 * The catalog connection's own settings, which outrank the upstream role's and database's defaults. View
 * bodies come from pg_get_viewdef, which leaves a name bare when this connection's search_path finds it:
 * under a role default `internal, public`, a public view over internal.orders came back as `FROM orders`
 * and was read as public.orders. With pg_catalog alone every other name comes back with its schema, as the
 * server holds it (resolve.ts reads view bodies on that understanding). Names are decoded as UTF-8.
 */
export const CATALOG_STARTUP: Readonly<Record<string, string>> = {
  application_name: "regate-catalog",
  search_path: "pg_catalog",
  client_encoding: "UTF8",
};

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
    const opening: Promise<UpstreamConnection> = connectUpstream(this.upstream, CATALOG_STARTUP).then(async (conn) => {
      conn.socket.once("close", () => {
        if (this.#conn === opening) this.#conn = undefined;
      });
      // A pooler may drop startup parameters it does not pass on (pgbouncer's ignore_startup_parameters):
      // view bodies read under another path would name tables wrongly, so such a connection is not used.
      const path = await simpleQuery(conn.socket, "SELECT pg_catalog.current_setting('search_path')").catch((err: unknown) => {
        conn.socket.destroy();
        throw err;
      });
      if (path[0]?.[0] !== CATALOG_STARTUP["search_path"]) {
        conn.socket.destroy();
        this.log.error({ search_path: path[0]?.[0] }, "the catalog connection's search_path is not pg_catalog (a pooler between regate and the database dropped the startup parameter?); catalog lookups fail and statements that need them are refused");
        throw new RegateError("UPSTREAM_UNAVAILABLE", "the catalog connection could not set its search_path");
      }
      return conn;
    });
    return opening;
  }

  close(): void {
    void this.#conn?.then((c) => c.socket.destroy(), () => undefined);
    this.#conn = undefined;
  }
}
