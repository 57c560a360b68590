import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import { NotifyListener } from "../postgres/notify-listener.js";
import { SerialConnection, STORE_STARTUP } from "../postgres/serial-connection.js";
import { ensureStoreTables, storeTablesSql } from "../postgres/store-tables.js";
import { literal } from "../postgres/simple-query.js";
import type { Lock, LockStore, LockTarget } from "./types.js";

export const LOCKS_CHANNEL = "regate_locks";

/** The table every replica shares; created by the first regate that starts. */
export function locksTableSql(schema: string): string {
  return storeTablesSql(
    schema,
    "locks",
    `CREATE TABLE IF NOT EXISTS ${schema}.locks (
  id text PRIMARY KEY,
  target_kind text NOT NULL CHECK (target_kind IN ('principal', 'group', 'token', 'session')),
  target_value text NOT NULL,
  message text NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  expires_at timestamptz
);`,
  );
}

/**
 * Locks in a PostgreSQL table shared by replicas. A change is written and announced with NOTIFY in one
 * transaction; the notification carries only the lock id, and each replica re-reads the table (so a
 * forged NOTIFY can only cause a re-read). Each (re)connection of the LISTEN re-reads too, as a
 * notification may have been missed, and so does a timer every resync_seconds. While the database is
 * unreachable the last locks read stay in force; add and remove fail (the admin API answers 503).
 */
export class PgLockStore implements LockStore {
  #locks: readonly Lock[] = [];
  readonly #listeners: ((locks: Lock[]) => void)[] = [];
  readonly #db: SerialConnection;
  readonly #listener: NotifyListener;
  #resync: NodeJS.Timeout | undefined;
  /** Reads of the table started so far (they complete in this order: one serial connection). */
  #reads = 0;
  /**
   * Locks known before a read of the table could show them (added here, or by another worker): a read that
   * started earlier must not drop them, or the lock would lapse until the next NOTIFY. By id, with the
   * number of the last read that may have missed it; a later read's answer stands (it may have been removed).
   */
  readonly #adopted = new Map<string, { lock: Lock; missedBy: number }>();

  constructor(
    upstream: UpstreamConfig,
    private readonly schema: string,
    private readonly log: Logger,
    private readonly resyncSeconds: number,
  ) {
    this.#db = new SerialConnection(upstream, "regate-locks", "lock store", STORE_STARTUP);
    this.#listener = new NotifyListener({
      upstream,
      channel: LOCKS_CHANNEL,
      applicationName: "regate-locks-listen",
      params: STORE_STARTUP,
      name: "lock store listener",
      log,
      onNotify: () => void this.reload().catch((err: unknown) => this.log.warn({ err }, "lock store re-read failed")),
      // Anything may have changed while nobody listened.
      onListening: () => this.reload(),
    });
  }

  /** Creates the table and reads it; throws when the database cannot be reached (regate must not start blind). */
  async start(): Promise<void> {
    await ensureStoreTables(this.#db, `${this.schema}.locks`, locksTableSql(this.schema));
    await this.reload();
    void this.#listener.start();
    this.#resync = setInterval(() => void this.reload().catch((err: unknown) => this.log.warn({ err }, "lock store re-read failed")), this.resyncSeconds * 1000);
    this.#resync.unref();
  }

  snapshot(): readonly Lock[] {
    return this.#locks;
  }

  async add(lock: Lock): Promise<void> {
    const [kind, value] = Object.entries(lock.target)[0]!;
    await this.#db.query(
      `INSERT INTO ${this.schema}.locks (id, target_kind, target_value, message, created_at, created_by, expires_at) VALUES (${literal(lock.id)}, ${literal(kind)}, ${literal(value as string)}, ${literal(lock.message)}, ${literal(lock.created_at)}, ${literal(lock.created_by)}, ${lock.expires_at ? literal(lock.expires_at) : "NULL"}); SELECT pg_notify(${literal(LOCKS_CHANNEL)}, ${literal(lock.id)});`,
    );
    this.adopt(lock);
  }

  adopt(lock: Lock): void {
    this.#adopted.set(lock.id, { lock, missedBy: this.#reads });
    // The notification's re-read may have brought it already.
    if (!this.#locks.some((l) => l.id === lock.id)) this.#merge([...this.#locks, lock]);
  }

  async remove(id: string): Promise<boolean> {
    const rows = await this.#db.query(`WITH gone AS (DELETE FROM ${this.schema}.locks WHERE id = ${literal(id)} RETURNING id) SELECT id, pg_notify(${literal(LOCKS_CHANNEL)}, id) FROM gone`);
    this.#adopted.delete(id);
    this.#merge(this.#locks.filter((l) => l.id !== id));
    return rows.length > 0;
  }

  onAdded(listener: (locks: Lock[]) => void): void {
    this.#listeners.push(listener);
  }

  /** Re-reads every live lock; locks not seen before are announced to the listeners. */
  async reload(): Promise<void> {
    const read = ++this.#reads;
    const rows = await this.#db.query(
      `SELECT id, target_kind, target_value, message, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), created_by, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM ${this.schema}.locks WHERE expires_at IS NULL OR expires_at > now() ORDER BY created_at`,
    );
    const next: Lock[] = rows.map(([id, kind, value, message, created_at, created_by, expires_at]) => ({
      id: id!,
      target: { [kind!]: value! } as LockTarget,
      message: message!,
      created_at: created_at!,
      created_by: created_by!,
      ...(expires_at ? { expires_at } : {}),
    }));
    for (const [id, a] of this.#adopted) {
      if (read > a.missedBy) this.#adopted.delete(id);
      else if (!next.some((l) => l.id === id)) next.push(a.lock);
    }
    this.#merge(next);
  }

  async close(): Promise<void> {
    if (this.#resync) clearInterval(this.#resync);
    this.#listener.close();
    await this.#db.close();
  }

  #merge(next: Lock[]): void {
    const known = new Set(this.#locks.map((l) => l.id));
    this.#locks = next;
    const added = next.filter((l) => !known.has(l.id));
    if (added.length) for (const l of this.#listeners) l(added);
  }
}
