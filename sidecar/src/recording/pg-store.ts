import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import { SerialConnection } from "../postgres/serial-connection.js";
import { literal } from "../postgres/simple-query.js";
import { ensureStoreTables, storeTablesSql } from "../postgres/store-tables.js";

/** The table every replica writes its records to: one row per record line, as it is in the local file. */
export function recordsTableSql(schema: string): string {
  return storeTablesSql(
    schema,
    "recording_records",
    `CREATE TABLE IF NOT EXISTS ${schema}.recording_records (
  replica text NOT NULL,
  file text NOT NULL,
  seq bigint NOT NULL CHECK (seq > 0),
  line text NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (replica, file, seq)
);
CREATE TABLE IF NOT EXISTS ${schema}.recording_reads (
  at timestamptz NOT NULL DEFAULT now(),
  reader text NOT NULL,
  what text NOT NULL
);`,
  );
}

export interface StoreOptions {
  upstream: UpstreamConfig;
  schema: string;
  replica: string;
  /** Bytes of records waiting at most (their text, as UTF-16 in memory roughly twice that). */
  queueMaxBytes: number;
  batchMaxRecords: number;
  onBacklog: "refuse" | "drop";
  log: Logger;
}

interface Pending {
  file: string;
  seq: number;
  line: string;
  /** Its length in the file, newline included. */
  bytes: number;
}

/** Retry delays after a failed INSERT: the store may be restarting; never faster than this. */
const RETRY_MS = [100, 250, 500, 1000, 2000];
/** An INSERT not answered in this long is abandoned (the connection cut) and retried: a store behind a dead
 * network path would otherwise hold the queue until TCP gives up. Retrying is safe: inserts are idempotent. */
const INSERT_TIMEOUT_MS = 10_000;
/** With on_backlog refuse, only this many times the bound may wait: past it records are dropped (and counted). */
const HARD_FACTOR = 2;

/**
 * Copies records to the fleet store, off the statement path: `push` only queues (the local file already holds
 * the record), one INSERT at a time drains the queue in batches, in order. A failed INSERT is retried, the
 * batch kept, so nothing is lost while the store restarts; the queue is bounded (queue_max_bytes) and the
 * recorder asks `backlog()` before admitting a statement. Rows are inserted idempotently: a retry of a batch
 * whose commit was not acknowledged finds its rows there, and a row already there with other content (two
 * replicas sharing a name) stops the copy with a clear error instead of mixing two chains.
 */
export class PgRecordingStore {
  readonly opts: StoreOptions;
  #db: SerialConnection;
  #queue: Pending[] = [];
  #head = 0;
  #queuedBytes = 0;
  #draining = false;
  #retry = 0;
  #timer: NodeJS.Timeout | undefined;
  #failure: unknown;
  #closed = false;
  #idle: (() => void)[] = [];
  stats = { stored: 0, bytes: 0, dropped: 0, failures: 0 };

  constructor(opts: StoreOptions) {
    this.opts = opts;
    this.#db = new SerialConnection(opts.upstream, `regate-recordings:${opts.replica}`.slice(0, 63), "recording store");
  }

  /** Creates the tables when missing; throws when the store cannot be reached (regate must not start unrecorded). */
  async start(): Promise<void> {
    await ensureStoreTables(this.#db, `${this.opts.schema}.recording_records`, recordsTableSql(this.opts.schema));
  }

  /** Records waiting for the store. */
  get depth(): number {
    return this.#queue.length - this.#head;
  }

  /** Bytes of the records waiting for the store. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** True while the last INSERT failed (the queue is kept and retried). */
  get failing(): boolean {
    return this.#failure !== undefined;
  }

  /** The last INSERT's error while failing. */
  get problem(): string | undefined {
    return this.#failure === undefined ? undefined : (this.#failure as Error).message ?? String(this.#failure);
  }

  /** Why a new statement must wait for the store (on_backlog refuse), or undefined. */
  backlog(): string | undefined {
    if (this.opts.onBacklog !== "refuse" || this.#queuedBytes < this.opts.queueMaxBytes) return undefined;
    return this.failing ? "the recording store cannot be reached" : "the recording store is behind";
  }

  /** Queues lines the local file now holds; `firstSeq` is the seq of the first. */
  push(file: string, firstSeq: number, lines: readonly Buffer[]): void {
    if (this.#closed) return;
    const bound = this.opts.onBacklog === "drop" ? this.opts.queueMaxBytes : this.opts.queueMaxBytes * HARD_FACTOR;
    lines.forEach((buf, i) => {
      if (this.#queuedBytes + buf.length > bound) {
        this.stats.dropped++;
        return;
      }
      // The line's own text, without its newline: what its hash is computed over.
      this.#queue.push({ file, seq: firstSeq + i, line: buf.toString("utf8", 0, buf.length - 1), bytes: buf.length });
      this.#queuedBytes += buf.length;
    });
    this.#kick();
  }

  /** Queues lines (without their newline) found in the local files at start; not bounded, since nothing waits on them. */
  backfill(file: string, firstSeq: number, lines: readonly string[]): void {
    lines.forEach((line, i) => {
      const bytes = Buffer.byteLength(line) + 1;
      this.#queue.push({ file, seq: firstSeq + i, line, bytes });
      this.#queuedBytes += bytes;
    });
    this.#kick();
  }

  #kick(): void {
    if (this.#draining || this.#timer || this.depth === 0) return;
    this.#draining = true;
    void this.#drain();
  }

  async #drain(): Promise<void> {
    while (this.depth > 0) {
      const batch = this.#queue.slice(this.#head, this.#head + this.opts.batchMaxRecords);
      try {
        const timer = setTimeout(() => this.#db.abort(), INSERT_TIMEOUT_MS);
        try {
          await this.#insert(batch);
        } finally {
          clearTimeout(timer);
        }
      } catch (err) {
        this.stats.failures++;
        if (this.#failure === undefined) this.opts.log.error({ err, replica: this.opts.replica, queued: this.depth }, "recording store: records cannot be copied; kept and retried");
        this.#failure = err;
        this.#draining = false;
        if (this.#closed) return this.#settle();
        const wait = RETRY_MS[Math.min(this.#retry++, RETRY_MS.length - 1)]!;
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#kick();
        }, wait);
        this.#timer.unref();
        return;
      }
      if (this.#failure !== undefined) this.opts.log.info({ replica: this.opts.replica }, "recording store reachable again; copying resumed");
      this.#failure = undefined;
      this.#retry = 0;
      this.#head += batch.length;
      this.stats.stored += batch.length;
      for (const p of batch) {
        this.stats.bytes += p.bytes;
        this.#queuedBytes -= p.bytes;
      }
      // Compact once the consumed prefix dominates, so the array does not grow for ever.
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
    }
    this.#draining = false;
    this.#settle();
  }

  async #insert(batch: Pending[]): Promise<void> {
    const t = `${this.opts.schema}.recording_records`;
    const replica = literal(this.opts.replica);
    const values = batch.map((p) => `(${replica}, ${literal(p.file)}, ${p.seq}, ${literal(p.line)})`).join(",\n");
    const inserted = await this.#db.query(`INSERT INTO ${t} (replica, file, seq, line) VALUES ${values} ON CONFLICT (replica, file, seq) DO NOTHING RETURNING 1`);
    if (inserted.length === batch.length) return;
    // Some were there already: a retried batch whose commit was not acknowledged (the same lines), or another
    // process writing under this replica's name (other lines).
    const [[differ]] = (await this.#db.query(
      `SELECT count(*) FROM (VALUES ${values}) v(replica, file, seq, line) JOIN ${t} r USING (replica, file, seq) WHERE r.line <> v.line`,
    )) as [[string]];
    if (Number(differ) > 0) throw new Error(`the recording store already holds ${differ} different record(s) for replica ${this.opts.replica}: is another live replica using the same recording.postgres.replica?`);
  }

  #settle(): void {
    if (this.depth > 0 && !this.#closed) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const w of waiting) w();
  }

  /** Resolves once the queue is empty (or the store gave up at close). */
  drained(): Promise<void> {
    if (this.depth === 0 && !this.#draining) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** The last seq the store holds of each of this replica's files. */
  async storedSeqs(): Promise<Map<string, number>> {
    const rows = await this.#db.query(`SELECT file, max(seq) FROM ${this.opts.schema}.recording_records WHERE replica = ${literal(this.opts.replica)} GROUP BY file`);
    return new Map(rows.map(([file, seq]) => [file!, Number(seq)]));
  }

  /** Removes a file's records (retention deleted it locally; its tombstone is in the journal, copied too). */
  async deleteFile(file: string): Promise<void> {
    await this.#db.query(`DELETE FROM ${this.opts.schema}.recording_records WHERE replica = ${literal(this.opts.replica)} AND file = ${literal(file)}`);
  }

  /** Waits up to `ms` for the queue to drain, then closes; what is still queued is counted as dropped. */
  async close(ms = 5000): Promise<void> {
    if (this.depth > 0) {
      if (this.#timer) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#kick();
      }
      await Promise.race([this.drained(), new Promise((r) => setTimeout(r, ms).unref())]);
    }
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.depth > 0) {
      this.stats.dropped += this.depth;
      this.#queuedBytes = 0;
      this.opts.log.error({ replica: this.opts.replica, lost: this.depth }, "recording store: records not copied at shutdown (the local files hold them)");
    }
    this.#settle();
    await this.#db.close();
  }
}
