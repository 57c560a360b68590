import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import { connectUpstream, type UpstreamConnection } from "./upstream.js";
import { literal, simpleQuery } from "./simple-query.js";

export interface RelationInfo {
  oid: number;
  schema: string;
  name: string;
  /** pg_class.relkind: r table, v view, m matview, p partitioned, f foreign, ... */
  relkind: string;
  /** Attribute names by attnum (index attnum - 1); dropped columns are "". */
  columns: string[];
  /** The query of a view or materialized view (pg_get_viewdef). */
  definition?: string;
}

const TTL_MS = 30_000;

/**
 * What regate knows about the database's relations, from its own upstream connection: resolves
 * unqualified names, expands `*`, and maps RowDescription (table OID, attnum) to schema.table.column.
 * Cached per process for TTL_MS and dropped after DDL.
 */
export class Catalog {
  #byName = new Map<string, { info: RelationInfo | null; at: number }>();
  #byOid = new Map<number, RelationInfo>();
  #conn: Promise<UpstreamConnection> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly upstream: UpstreamConfig,
    private readonly log: Logger,
  ) {}

  /** undefined: not looked up yet; null: no such relation. */
  relation(schema: string, name: string): RelationInfo | null | undefined {
    const hit = this.#byName.get(`${schema}.${name}`);
    if (!hit) return undefined;
    if (Date.now() - hit.at > TTL_MS) return undefined;
    return hit.info;
  }

  columns(schema: string, table: string): string[] | undefined {
    const r = this.relation(schema, table);
    return r ? r.columns.filter((c) => c !== "") : undefined;
  }

  column(tableOid: number, attnum: number): string | undefined {
    const r = this.#byOid.get(tableOid);
    const name = r?.columns[attnum - 1];
    return r && name ? `${r.schema}.${r.name}.${name}` : undefined;
  }

  /** Looks up every (schema, name) pair not cached, in one query. */
  async ensure(pairs: Iterable<[string, string]>): Promise<void> {
    const missing = new Map<string, [string, string]>();
    for (const [schema, name] of pairs) {
      if (this.relation(schema, name) === undefined) missing.set(`${schema}.${name}`, [schema, name]);
    }
    if (missing.size === 0) return;
    const list = [...missing.values()].map(([s, n]) => `(${literal(s)}, ${literal(n)})`).join(", ");
    const sql = `SELECT c.oid, n.nspname, c.relname, c.relkind,
        coalesce((SELECT array_to_json(array_agg(CASE WHEN a.attisdropped THEN '' ELSE a.attname::text END ORDER BY a.attnum))::text
                  FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0), '[]'),
        CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE (n.nspname, c.relname) IN (VALUES ${list})`;
    const rows = await this.#query(sql);
    const now = Date.now();
    for (const key of missing.keys()) this.#byName.set(key, { info: null, at: now });
    for (const [oid, schema, name, relkind, cols, definition] of rows) {
      const info: RelationInfo = { oid: Number(oid), schema: schema!, name: name!, relkind: relkind!, columns: JSON.parse(cols!) as string[] };
      if (definition) info.definition = definition;
      this.#byName.set(`${info.schema}.${info.name}`, { info, at: now });
      this.#byOid.set(info.oid, info);
    }
  }

  /** After DDL the cached shapes may be wrong. */
  invalidate(): void {
    this.#byName.clear();
    this.#byOid.clear();
  }

  #query(sql: string): Promise<(string | null)[][]> {
    const run = async () => {
      this.#conn ??= connectUpstream(this.upstream, { application_name: "regate-catalog" });
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

  close(): void {
    void this.#conn?.then((c) => c.socket.destroy(), () => undefined);
    this.#conn = undefined;
  }
}
