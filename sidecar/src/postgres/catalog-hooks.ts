// Installing the catalog hooks (see catalog-queries.ts for the SQL) with regate's own protocol code.
import type { UpstreamConfig } from "../config/index.js";
import { connectUpstream } from "./upstream.js";
import { simpleQuery } from "./simple-query.js";

export { catalogHooksSql, NOTIFY_CHANNEL } from "./catalog-queries.js";

/** Runs the hooks' SQL (one transaction) as the URL's user; rejects with the server's error. */
export async function applyCatalogHooks(upstream: UpstreamConfig, sql: string): Promise<void> {
  const conn = await connectUpstream(upstream, { application_name: "regate-catalog-hooks" });
  try {
    await simpleQuery(conn.socket, sql, conn.leftover);
  } finally {
    conn.socket.destroy();
  }
}
