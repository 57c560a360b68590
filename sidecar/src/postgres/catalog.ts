import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import type { ColumnRef, Volatility } from "./sql/types.js";
import { connectUpstream, type UpstreamConnection } from "./upstream.js";
import { simpleQuery } from "./simple-query.js";
import { functionsFingerprintQuery, functionsQuery, NOTIFY_CHANNEL, relationsQuery } from "./catalog-queries.js";
import { NotifyListener } from "./notify-listener.js";

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
  /** Columns that hold values of other relations' rows, or that PostgreSQL withholds from PUBLIC (see catalog-queries.ts). */
  valueColumns: string[];
  /** A pg_catalog table PostgreSQL withholds from PUBLIC (pg_authid, pg_statistic, ...). */
  withheld: boolean;
  /** A sequence's pg_depend entries on a column (serial, OWNED BY, identity): [schema, table, column] each. */
  ownedBy: [string, string, string][];
  /** A table's columns' sequences, as pg_get_serial_sequence finds them: column -> [schema, sequence] each. */
  serialSequences: Record<string, [string, string][]>;
  /** A sequence's callers in column defaults (`DEFAULT nextval(...)`): [schema, table] each. */
  defaultOf: [string, string][];
}

/** What the catalog says about a function name in one schema (over all its overloads). */
export interface FunctionInfo {
  volatility: Volatility;
  /** Every overload is a system data source (a non-immutable set-returning function of pg_catalog or an extension). */
  exposes: boolean;
}

export interface CatalogOptions {
  /** Longest a cached fact is used unchecked (config postgres.catalog.max_staleness_ms). */
  maxStalenessMs?: number;
  /** LISTEN for the notifications of `regate catalog-hooks` on a second connection. Default true. */
  listen?: boolean;
}

/** Cached names beyond this are dropped all at once (the re-check query lists every cached name). */
const MAX_ENTRIES = 5000;
/** The lower bound of max_staleness_ms: entries must outlive the lookup that fetched them. */
const MIN_STALENESS_MS = 100;
const VOLATILITY: Record<string, Volatility> = { i: "immutable", s: "stable", v: "volatile" };

interface Entry<T> {
  info: T;
  /** When the database last confirmed it (Date.now()). */
  at: number;
}

/**
 * What regate knows about the database's relations and functions, from its own upstream connection:
 * resolves unqualified names, expands `*` and views, maps RowDescription (table OID, attnum) to
 * schema.table.column, and says how volatile a function is.
 *
 * Freshness: an entry is used for at most `maxStalenessMs` after the database last confirmed it; a
 * timer re-checks every cached entry (one query per kind) at half that period, and a lookup of an
 * entry past the bound fetches it again. With `regate catalog-hooks` installed, the LISTEN connection
 * drops every entry as soon as another connection's DDL commits. `generation` increases whenever a
 * cached entry may have changed: anything derived from catalog facts must carry it in its cache key.
 */
export class Catalog {
  #byName = new Map<string, Entry<RelationInfo | null>>();
  #byOid = new Map<number, RelationInfo>();
  /** Function name -> schema -> info; an empty map: no function of that name. */
  /** fingerprint: the overloads' oids, volatility and set-returning flags, for the cheap re-check. */
  #functions = new Map<string, Entry<Map<string, FunctionInfo>> & { fingerprint: string }>();
  #generation = 0;
  #conn: Promise<UpstreamConnection> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #refreshing = false;
  #listener: NotifyListener | undefined;
  readonly maxStalenessMs: number;

  constructor(
    private readonly upstream: UpstreamConfig,
    private readonly log: Logger,
    opts: CatalogOptions = {},
  ) {
    this.maxStalenessMs = Math.max(MIN_STALENESS_MS, opts.maxStalenessMs ?? 1000);
    this.#timer = setInterval(() => void this.refresh(), Math.max(MIN_STALENESS_MS / 2, this.maxStalenessMs / 2));
    this.#timer.unref();
    if (opts.listen !== false) {
      // The catalog hooks (regate catalog-hooks) NOTIFY on DDL. A lost connection may have lost
      // notifications, so (re)starting to listen and losing the connection invalidate too.
      this.#listener = new NotifyListener({
        upstream,
        channel: NOTIFY_CHANNEL,
        applicationName: "regate-catalog-listen",
        name: "catalog listener",
        log,
        onNotify: () => this.invalidate("notification"),
        onListening: () => this.invalidate("listening"),
        onLost: () => this.invalidate("listener lost"),
      });
      void this.#listener.start();
    }
  }

  /**
   * Increases whenever any cached catalog entry may have changed (a DDL notification, a re-check that
   * found a difference, a lost LISTEN connection, invalidate()). Never decreases.
   */
  get generation(): number {
    return this.#generation;
  }

  /** True while the catalog-hooks LISTEN connection is up. */
  get listening(): boolean {
    return this.#listener?.listening ?? false;
  }

  /** undefined: not looked up yet, or past max staleness; null: no such relation. */
  relation(schema: string, name: string): RelationInfo | null | undefined {
    const hit = this.#byName.get(relKey(schema, name));
    if (!hit || Date.now() - hit.at > this.maxStalenessMs) return undefined;
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

  /**
   * The column a sequence belongs to; null when none (or not a sequence, or no such relation, or another
   * table's default draws from it too); undefined: not known.
   */
  sequenceOwner(schema: string, name: string): ColumnRef | null | undefined {
    const r = this.relation(schema, name);
    if (r === undefined) return undefined;
    if (r === null) return null;
    // Two owning columns cannot be made with SQL; if the catalog shows them, regate does not pick one.
    const [owner, ...more] = r.ownedBy;
    if (!owner) return null;
    if (more.length) return undefined;
    // A sequence that also numbers another table's rows (that table's DEFAULT calls it) belongs to no one
    // table: setval on it moves the other table's ids too. It is then a relation of its own.
    if (r.defaultOf.some(([s, t]) => s !== owner[0] || t !== owner[1])) return null;
    return { schema: owner[0], table: owner[1], column: owner[2] };
  }

  /** The sequence pg_get_serial_sequence(table, column) names; null when none; undefined: not known. */
  serialSequence(schema: string, table: string, column: string): { schema: string; name: string } | null | undefined {
    const r = this.relation(schema, table);
    if (r === undefined) return undefined;
    const found = r ? (Object.hasOwn(r.serialSequences, column) ? r.serialSequences[column]! : []) : [];
    if (found.length === 0) return null;
    // The server takes the first it scans: with several, which one is not known here.
    if (found.length > 1) return undefined;
    return { schema: found[0]![0], name: found[0]![1] };
  }

  /**
   * The functions of that name by schema (undefined: not looked up yet, or past max staleness). A
   * schema missing from the map has no function of that name.
   */
  functions(name: string): ReadonlyMap<string, FunctionInfo> | undefined {
    const hit = this.#functions.get(name);
    if (!hit || Date.now() - hit.at > this.maxStalenessMs) return undefined;
    return hit.info;
  }

  /** Looks up every (schema, name) pair not cached (or past max staleness), in one query. */
  async ensure(pairs: Iterable<[string, string]>): Promise<void> {
    const missing = new Map<string, [string, string]>();
    for (const [schema, name] of pairs) {
      if (this.relation(schema, name) === undefined) missing.set(relKey(schema, name), [schema, name]);
    }
    if (missing.size === 0) return;
    await this.#fetchRelations([...missing.values()]);
  }

  /** Looks up every function name not cached (or past max staleness), in one query. */
  async ensureFunctions(names: Iterable<string>): Promise<void> {
    const missing = new Set<string>();
    for (const name of names) if (this.functions(name) === undefined) missing.add(name);
    if (missing.size === 0) return;
    await this.#fetchFunctions([...missing]);
  }

  /**
   * Re-checks every cached entry against the database and increases `generation` if any differs.
   * Run by the timer; callable directly (tests, or before a decision that must be fresh).
   */
  async refresh(): Promise<void> {
    if (this.#refreshing || (this.#byName.size === 0 && this.#functions.size === 0)) return;
    this.#refreshing = true;
    try {
      const pairs = [...this.#byName.keys()].map((k) => splitKey(k));
      if (pairs.length) await this.#fetchRelations(pairs);
      const names = [...this.#functions.keys()];
      if (names.length) await this.#recheckFunctions(names);
    } catch {
      // Logged by #query; entries age past the bound and the next lookup fetches them.
    } finally {
      this.#refreshing = false;
    }
  }

  /** Drops every cached entry (after DDL, a catalog-hooks notification, or a lost listener). */
  invalidate(reason = "ddl"): void {
    this.#generation++;
    this.#byName.clear();
    this.#byOid.clear();
    this.#functions.clear();
    this.log.debug({ reason, generation: this.#generation }, "catalog invalidated");
  }

  async #fetchRelations(pairs: [string, string][]): Promise<void> {
    const startedAt = this.#generation;
    const rows = await this.#query(relationsQuery(pairs));
    // An invalidation while the query ran: its answer may predate the change.
    if (this.#generation !== startedAt) return;
    const now = Date.now();
    const found = new Map<string, RelationInfo>();
    for (const [oid, schema, name, relkind, cols, definition, values, withheld, owner, serial, defaultOf] of rows) {
      const info: RelationInfo = {
        oid: Number(oid),
        schema: schema!,
        name: name!,
        relkind: relkind!,
        columns: JSON.parse(cols!) as string[],
        valueColumns: JSON.parse(values!) as string[],
        withheld: withheld === "t",
        ownedBy: owner ? (JSON.parse(owner) as [string, string, string][]) : [],
        serialSequences: serial ? (JSON.parse(serial) as Record<string, [string, string][]>) : {},
        defaultOf: defaultOf ? (JSON.parse(defaultOf) as [string, string][]) : [],
      };
      if (definition) info.definition = definition;
      found.set(relKey(info.schema, info.name), info);
    }
    let changed = false;
    for (const [schema, name] of pairs) {
      const key = relKey(schema, name);
      const info = found.get(key) ?? null;
      const old = this.#byName.get(key);
      if (old && !sameRelation(old.info, info)) changed = true;
      if (old?.info) this.#byOid.delete(old.info.oid);
      this.#byName.set(key, { info, at: now });
      if (info) this.#byOid.set(info.oid, info);
    }
    if (changed) this.#generation++;
    if (this.#byName.size > MAX_ENTRIES) this.invalidate("cache full");
  }

  /** Compares overload fingerprints; refetches only the names whose overloads changed. */
  async #recheckFunctions(names: string[]): Promise<void> {
    const startedAt = this.#generation;
    const rows = await this.#query(functionsFingerprintQuery(names));
    if (this.#generation !== startedAt) return;
    const now = Date.now();
    const current = new Map(rows.map(([name, fp]) => [name!, fp!]));
    const changed: string[] = [];
    for (const name of names) {
      const entry = this.#functions.get(name);
      if (!entry) continue;
      if (entry.fingerprint !== (current.get(name) ?? "")) changed.push(name);
      else entry.at = now;
    }
    if (changed.length) await this.#fetchFunctions(changed);
  }

  async #fetchFunctions(names: string[]): Promise<void> {
    const startedAt = this.#generation;
    const rows = await this.#query(functionsQuery(names));
    if (this.#generation !== startedAt) return;
    const now = Date.now();
    const found = new Map<string, Map<string, FunctionInfo>>(names.map((n) => [n, new Map()]));
    const prints = new Map<string, [string, string][]>();
    for (const [schema, name, volatility, exposes, fp] of rows) {
      found.get(name!)?.set(schema!, { volatility: VOLATILITY[volatility!] ?? "volatile", exposes: exposes === "t" });
      prints.set(name!, [...(prints.get(name!) ?? []), [schema!, fp!]]);
    }
    let changed = false;
    for (const [name, info] of found) {
      const old = this.#functions.get(name);
      if (old && !sameFunctions(old.info, info)) changed = true;
      // The same text functionsFingerprintQuery gives: per schema (sorted), overloads by oid.
      const fingerprint = (prints.get(name) ?? []).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, fp]) => fp).join(",");
      this.#functions.set(name, { info, at: now, fingerprint });
    }
    if (changed) this.#generation++;
    if (this.#functions.size > MAX_ENTRIES) this.invalidate("cache full");
  }

  #query(sql: string): Promise<(string | null)[][]> {
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
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listener?.close();
    void this.#conn?.then((c) => c.socket.destroy(), () => undefined);
    this.#conn = undefined;
  }
}

function relKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf("\u0000");
  return [key.slice(0, i), key.slice(i + 1)];
}

function sameRelation(a: RelationInfo | null, b: RelationInfo | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.oid === b.oid &&
    a.schema === b.schema &&
    a.name === b.name &&
    a.relkind === b.relkind &&
    a.definition === b.definition &&
    a.valueColumns.join("\u0000") === b.valueColumns.join("\u0000") &&
    a.withheld === b.withheld &&
    JSON.stringify(a.ownedBy) === JSON.stringify(b.ownedBy) &&
    JSON.stringify(a.serialSequences) === JSON.stringify(b.serialSequences) &&
    JSON.stringify(a.defaultOf) === JSON.stringify(b.defaultOf) &&
    a.columns.length === b.columns.length &&
    a.columns.every((c, i) => c === b.columns[i])
  );
}

function sameFunctions(a: ReadonlyMap<string, FunctionInfo>, b: ReadonlyMap<string, FunctionInfo>): boolean {
  if (a.size !== b.size) return false;
  for (const [schema, x] of a) {
    const y = b.get(schema);
    if (!y || y.volatility !== x.volatility || y.exposes !== x.exposes) return false;
  }
  return true;
}
