import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import type { ColumnRef } from "./sql/types.js";
import { functionFromRow, relationFromRow, sameFunctions, sameRelation, type FunctionInfo, type RelationInfo } from "./catalog-facts.js";
import { CatalogConnection } from "./catalog-connection.js";
import { functionsFingerprintQuery, functionsQuery, NOTIFY_CHANNEL, relationsQuery } from "./catalog-queries.js";
import { NotifyListener } from "./notify-listener.js";

export type { Ancestor, FunctionInfo, RelationInfo } from "./catalog-facts.js";

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
  #conn: CatalogConnection;
  #timer: NodeJS.Timeout | undefined;
  #refreshing = false;
  #listener: NotifyListener | undefined;
  readonly maxStalenessMs: number;

  constructor(
    upstream: UpstreamConfig,
    private readonly log: Logger,
    opts: CatalogOptions = {},
  ) {
    this.#conn = new CatalogConnection(upstream, log);
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

  /**
   * A result column the server names by table OID and attnum, as schema.table.column, followed by the same
   * column of each ancestor that has it (a child's or partition's column is its parent's too). A generated
   * column made of other columns is not named: its value is not a column's own (a `partial` mask of the column
   * it is made of would keep the parts its expression chose), so the mask plan takes it from the statement's
   * lineage (resolve-generated.ts), or redacts it when that is not known.
   */
  column(tableOid: number, attnum: number): string[] | undefined {
    const r = this.#byOid.get(tableOid);
    const name = r?.columns[attnum - 1];
    if (!r || !name) return undefined;
    const made = Object.hasOwn(r.generated, name) ? r.generated[name] : [];
    if (made === null || (made !== undefined && made.length > 0)) return undefined;
    const out = [`${r.schema}.${r.name}.${name}`];
    for (const a of r.ancestors) if (a.columns.includes(name)) out.push(`${a.schema}.${a.name}.${name}`);
    return out;
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
    // table: setval on it moves the other table's ids too. It is then a relation of its own. The owner's
    // partitions, whose defaults call it too, hold the owner's rows and are not another table here.
    if (r.defaultOf.some(([s, t]) => s !== owner[0] || t !== owner[1])) return null;
    return { schema: owner[0], table: owner[1], column: owner[2] };
  }

  /** Whether a table is partitioned (relkind p); undefined: not known (no such relation counts as not known). */
  partitioned(schema: string, table: string): boolean | undefined {
    const r = this.relation(schema, table);
    return r ? r.relkind === "p" : undefined;
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

  /**
   * One query on the catalog connection, uncached (search_path pg_catalog): what an approval's grant is
   * bound to is read fresh when it is asked and when it is spent (approved-objects.ts).
   */
  query(sql: string): Promise<(string | null)[][]> {
    return this.#conn.query(sql);
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
      // Logged by CatalogConnection.query; entries age past the bound and the next lookup fetches them.
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
    // An answer describes the catalog as it was when asked, or later: its age counts from the question.
    const now = Date.now();
    const rows = await this.#conn.query(relationsQuery(pairs));
    // An invalidation while the query ran: its answer may predate the change.
    if (this.#generation !== startedAt) return;
    const found = new Map<string, RelationInfo>();
    for (const row of rows) {
      const info = relationFromRow(row);
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
    const now = Date.now();
    const rows = await this.#conn.query(functionsFingerprintQuery(names));
    if (this.#generation !== startedAt) return;
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
    const now = Date.now();
    const rows = await this.#conn.query(functionsQuery(names));
    if (this.#generation !== startedAt) return;
    const found = new Map<string, Map<string, FunctionInfo>>(names.map((n) => [n, new Map()]));
    const prints = new Map<string, [string, string][]>();
    for (const [schema, name, volatility, exposes, fp] of rows) {
      found.get(name!)?.set(schema!, functionFromRow(volatility, exposes));
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

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listener?.close();
    this.#conn.close();
  }
}

function relKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf("\u0000");
  return [key.slice(0, i), key.slice(i + 1)];
}
