import type { UpstreamConfig } from "../config/index.js";
import { RegateError } from "../errors.js";
import type { Logger } from "../log.js";
import { Backend, FrameReader } from "../postgres/protocol/index.js";
import { literal, simpleQuery } from "../postgres/simple-query.js";
import { connectUpstream, type UpstreamConnection } from "../postgres/upstream.js";
import type { Lock, LockStore, LockTarget } from "./types.js";

export const LOCKS_CHANNEL = "regate_locks";
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;

/** The table every replica shares; created by the first regate that starts (an advisory lock orders the race). */
export function locksTableSql(schema: string): string {
  return `BEGIN;
SELECT pg_advisory_xact_lock(hashtext('regate.locks.migrate'));
CREATE SCHEMA IF NOT EXISTS ${schema};
CREATE TABLE IF NOT EXISTS ${schema}.locks (
  id text PRIMARY KEY,
  target_kind text NOT NULL CHECK (target_kind IN ('principal', 'group', 'token', 'session')),
  target_value text NOT NULL,
  message text NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  expires_at timestamptz
);
COMMIT;`;
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
  #query: UpstreamConnection | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #listen: UpstreamConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #resync: NodeJS.Timeout | undefined;
  #retryMs = RETRY_MIN_MS;
  #closed = false;

  constructor(
    private readonly upstream: UpstreamConfig,
    private readonly schema: string,
    private readonly log: Logger,
    private readonly resyncSeconds: number,
  ) {}

  /** Creates the table and reads it; throws when the database cannot be reached (regate must not start blind). */
  async start(): Promise<void> {
    // CREATE SCHEMA needs CREATE on the database even when the schema exists: skip it when an
    // administrator made the table beforehand, so regate's role needs no more than the table's rights.
    const [exists] = await this.#run(`SELECT to_regclass(${literal(`${this.schema}.locks`)}) IS NOT NULL`);
    if (exists?.[0] !== "t") await this.#run(locksTableSql(this.schema));
    await this.reload();
    void this.#startListening();
    this.#resync = setInterval(() => void this.reload().catch((err: unknown) => this.log.warn({ err }, "lock store re-read failed")), this.resyncSeconds * 1000);
    this.#resync.unref();
  }

  snapshot(): readonly Lock[] {
    return this.#locks;
  }

  async add(lock: Lock): Promise<void> {
    const [kind, value] = Object.entries(lock.target)[0]!;
    await this.#run(
      `INSERT INTO ${this.schema}.locks (id, target_kind, target_value, message, created_at, created_by, expires_at) VALUES (${literal(lock.id)}, ${literal(kind)}, ${literal(value as string)}, ${literal(lock.message)}, ${literal(lock.created_at)}, ${literal(lock.created_by)}, ${lock.expires_at ? literal(lock.expires_at) : "NULL"}); SELECT pg_notify(${literal(LOCKS_CHANNEL)}, ${literal(lock.id)});`,
    );
    // The notification's re-read may have brought it already.
    if (!this.#locks.some((l) => l.id === lock.id)) this.#merge([...this.#locks, lock]);
  }

  async remove(id: string): Promise<boolean> {
    const rows = await this.#run(`WITH gone AS (DELETE FROM ${this.schema}.locks WHERE id = ${literal(id)} RETURNING id) SELECT id, pg_notify(${literal(LOCKS_CHANNEL)}, id) FROM gone`);
    this.#merge(this.#locks.filter((l) => l.id !== id));
    return rows.length > 0;
  }

  onAdded(listener: (locks: Lock[]) => void): void {
    this.#listeners.push(listener);
  }

  /** Re-reads every live lock; locks not seen before are announced to the listeners. */
  async reload(): Promise<void> {
    const rows = await this.#run(
      `SELECT id, target_kind, target_value, message, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), created_by, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM ${this.schema}.locks WHERE expires_at IS NULL OR expires_at > now() ORDER BY created_at`,
    );
    this.#merge(
      rows.map(([id, kind, value, message, created_at, created_by, expires_at]) => ({
        id: id!,
        target: { [kind!]: value! } as LockTarget,
        message: message!,
        created_at: created_at!,
        created_by: created_by!,
        ...(expires_at ? { expires_at } : {}),
      })),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#resync) clearInterval(this.#resync);
    this.#listen?.socket.destroy();
    this.#query?.socket.destroy();
  }

  #merge(next: Lock[]): void {
    const known = new Set(this.#locks.map((l) => l.id));
    this.#locks = next;
    const added = next.filter((l) => !known.has(l.id));
    if (added.length) for (const l of this.#listeners) l(added);
  }

  /** One query at a time on regate's own connection, reconnecting when it was lost. */
  #run(sql: string): Promise<(string | null)[][]> {
    const next = this.#chain.then(async () => {
      if (this.#closed) throw new RegateError("UPSTREAM_UNAVAILABLE", "lock store is closed");
      let leftover: Buffer | undefined;
      if (!this.#query || this.#query.socket.destroyed) {
        const conn = (this.#query = await connectUpstream(this.upstream, { application_name: "regate-locks" }));
        conn.socket.on("error", () => conn.socket.destroy());
        leftover = conn.leftover;
      }
      const conn = this.#query;
      try {
        return await simpleQuery(conn.socket, sql, leftover);
      } catch (err) {
        // A failed statement may leave the connection inside an aborted block: start afresh next time.
        conn.socket.destroy();
        throw err instanceof RegateError && err.code === "UPSTREAM_UNAVAILABLE" ? err : new RegateError("UPSTREAM_UNAVAILABLE", "the lock store query failed", { cause: err });
      }
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #startListening(): Promise<void> {
    if (this.#closed) return;
    let conn: UpstreamConnection;
    try {
      conn = await connectUpstream(this.upstream, { application_name: "regate-locks-listen" });
      if (this.#closed) return void conn.socket.destroy();
      await simpleQuery(conn.socket, `LISTEN ${LOCKS_CHANNEL}`, conn.leftover);
      // Anything may have changed while nobody listened.
      await this.reload();
    } catch (err) {
      this.log.warn({ err }, "lock store listener could not start; retrying");
      return this.#retry();
    }
    this.#listen = conn;
    this.#retryMs = RETRY_MIN_MS;
    const reader = new FrameReader(1 << 20);
    conn.socket.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk, (f) => {
          if (f.type === Backend.NotificationResponse) void this.reload().catch((err: unknown) => this.log.warn({ err }, "lock store re-read failed"));
          return true;
        });
      } catch (err) {
        this.log.warn({ err }, "lock store listener read a bad frame; reconnecting");
        conn.socket.destroy();
      }
    });
    const lost = () => {
      if (this.#listen !== conn) return;
      this.#listen = undefined;
      if (this.#closed) return;
      this.log.warn("lock store listener lost its connection; reconnecting");
      this.#retry();
    };
    conn.socket.once("close", lost);
    conn.socket.once("error", lost);
  }

  #retry(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#startListening(), this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }
}
