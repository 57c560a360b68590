// Decision-log upload in OPA's decision_logs protocol: events are buffered, then POSTed to {service}/logs as a
// gzip'd JSON array, in chunks no larger than the upload size limit, every min..max delay (jittered), retried with
// exponential backoff on failure. Events leave the buffer only when the collector answered 2xx.
//
// The buffer is bounded by events and by bytes, whichever comes first: events alone would let a dead collector and
// large statements hold gigabytes. Buffer policy when full: `drop_oldest` (OPA's behaviour: counted in `dropped`),
// or `block`: admit() refuses new decisions with DECISION_LOG_BACKPRESSURE, so nothing that was decided is ever lost.

import { gzipSync } from "node:zlib";
import type { Logger } from "pino";
import type { DecisionEvent, DecisionSink } from "../decision/index.js";
import { RegateError } from "../errors.js";
import { shownUrl } from "../shown-url.js";
import { CollectorClient, TooLarge, type CollectorOptions } from "./collector-client.js";

export type BufferPolicy = "drop_oldest" | "block";

export interface UploaderOptions extends CollectorOptions {
  /** One decision as one JSON value. */
  serialize(e: DecisionEvent): string;
  /** A batch of serialised events as the request body before gzip (OPA: a JSON array). */
  frame(items: string[]): string;
  min_delay_seconds: number;
  max_delay_seconds: number;
  /** Upper bound of one request body before gzip (so the gzip'd body is below it too); frame overhead aside. */
  upload_size_limit_bytes: number;
  buffer_size_limit_events: number;
  /** Bytes of serialised events the buffer holds at most (UTF-8). */
  buffer_size_limit_bytes: number;
  buffer_policy: BufferPolicy;
  log: Logger;
}

/** Counts that reconcile: received = uploaded + dropped + buffered; decisions made = received + refused. */
export interface UploaderStats {
  received: number;
  uploaded: number;
  dropped: number;
  refused: number;
  buffered: number;
  upload_failures: number;
  requests: number;
  last_error?: string;
  last_success?: string;
}

const MIN_BACKOFF_MS = 100;

/** A buffered, batching, retrying HTTP sink: OPA's decision-log upload, and the OCSF HTTPS and Splunk HEC sinks. */
export class BatchUploader implements DecisionSink {
  /** Serialised events not yet acknowledged, oldest first; `#head` avoids shifting the array. */
  #queue: string[] = [];
  /** UTF-8 bytes of each queued event, index for index with #queue (measured once, at enqueue). */
  #sizes: number[] = [];
  #head = 0;
  /** Events of the request in flight: queue[head .. head+inFlight) are not droppable. */
  #inFlight = 0;
  /** UTF-8 bytes of queue[head ..]. */
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #failures = 0;
  /** At most this many events per request after a 413, until a request succeeds. */
  #chunkCap = Infinity;
  #closed = false;
  #refusing = false;
  readonly #counts: Omit<UploaderStats, "buffered"> = { received: 0, uploaded: 0, dropped: 0, refused: 0, upload_failures: 0, requests: 0 };
  readonly #collector: CollectorClient;

  constructor(private readonly opts: UploaderOptions) {
    this.#collector = new CollectorClient(opts);
    this.#schedule(this.#delay());
  }

  /** A snapshot; `buffered` is computed from the queue, not stored. */
  get stats(): UploaderStats {
    return { ...this.#counts, buffered: this.buffered };
  }

  get buffered(): number {
    return this.#queue.length - this.#head;
  }

  /** UTF-8 bytes of the buffered events. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  #full(): boolean {
    return this.buffered >= this.opts.buffer_size_limit_events || this.#bytes >= this.opts.buffer_size_limit_bytes;
  }

  full(): boolean {
    return this.opts.buffer_policy === "block" && this.#full();
  }

  /** Block mode: refuse a new decision while the buffer is full (the caller fails closed). */
  admit(): RegateError | undefined {
    if (this.opts.buffer_policy !== "block" || !this.#full()) return undefined;
    this.#counts.refused++;
    this.#refusing = true;
    this.#kick();
    const what = this.buffered >= this.opts.buffer_size_limit_events ? `${this.opts.buffer_size_limit_events} events` : `${this.opts.buffer_size_limit_bytes} bytes`;
    return new RegateError("DECISION_LOG_BACKPRESSURE", undefined, {
      detail: `the decision-log buffer is full (${what}) and the collector has not caught up`,
    });
  }

  record(e: DecisionEvent): void {
    // The denial this uploader's admit() caused (same synchronous decide) is counted in `refused`; other sinks
    // (stdout, OCSF) still see it.
    if (this.#refusing) {
      this.#refusing = false;
      if (e.decision.error_code === "DECISION_LOG_BACKPRESSURE") return;
    }
    this.enqueue(this.opts.serialize(e));
  }

  /** Buffers one serialised event that is not a decision (a lifecycle event), under the same buffer policy. */
  enqueue(serialized: string): void {
    this.#counts.received++;
    const size = Buffer.byteLength(serialized);
    if (this.opts.buffer_policy === "drop_oldest") {
      // The oldest events not already on their way to the collector make room; when none is left, the new one
      // goes (an event larger than the whole byte limit is never kept).
      let room = !this.#wouldOverflow(size);
      while (!room && this.#dropOldest()) room = !this.#wouldOverflow(size);
      if (!room) {
        this.#counts.dropped++;
        return;
      }
    }
    // block: any other decision that got past admit() is kept (the buffer overshoots by it).
    this.#queue.push(serialized);
    this.#sizes.push(size);
    this.#bytes += size;
    // Upload early once a chunk's worth is waiting, instead of letting the buffer fill up.
    if (this.buffered >= this.#highWater || this.#bytes >= this.opts.buffer_size_limit_bytes / 2) this.#kick();
  }

  #wouldOverflow(size: number): boolean {
    return this.buffered + 1 > this.opts.buffer_size_limit_events || this.#bytes + size > this.opts.buffer_size_limit_bytes;
  }

  /** Drops the oldest event not on its way to the collector; false when there is none. */
  #dropOldest(): boolean {
    const at = this.#head + this.#inFlight;
    if (at >= this.#queue.length) return false;
    this.#bytes -= this.#sizes[at]!;
    if (this.#inFlight === 0) this.#head++;
    else {
      this.#queue.splice(at, 1);
      this.#sizes.splice(at, 1);
    }
    this.#counts.dropped++;
    return true;
  }

  /** Uploads everything buffered now (retrying until `deadlineMs`); used at shutdown and by tests. */
  async flush(deadlineMs = 10_000): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (this.buffered > 0 && Date.now() < until) {
      await this.#runOnce();
      if (this.buffered > 0 && this.#failures > 0) await sleep(Math.min(this.#backoff(), Math.max(0, until - Date.now())));
    }
  }

  async close(deadlineMs = 5_000): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    await this.flush(deadlineMs);
    if (this.buffered > 0) this.opts.log.error({ lost: this.buffered }, "events not uploaded before shutdown");
    this.#collector.close();
  }

  #kick(): void {
    if (this.#running || this.#closed) return;
    if (this.#failures > 0) return; // backing off: the scheduled retry will come
    if (this.#timer) clearTimeout(this.#timer);
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#runOnce().then(() => this.#schedule(this.#nextDelay()));
    }, ms);
    this.#timer.unref();
  }

  /** After a run: back off after a failure, go again at once if half a buffer is waiting, else the periodic delay. */
  #nextDelay(): number {
    if (this.#failures > 0) return this.#backoff();
    return this.buffered > 0 && this.buffered >= this.#highWater ? 0 : this.#delay();
  }

  get #highWater(): number {
    return Math.max(1, this.opts.buffer_size_limit_events >> 1);
  }

  #delay(): number {
    const { min_delay_seconds: min, max_delay_seconds: max } = this.opts;
    return (min + Math.random() * (max - min)) * 1000;
  }

  /** Exponential from 100 ms, capped at max_delay_seconds, with jitter. */
  #backoff(): number {
    const cap = this.opts.max_delay_seconds * 1000;
    const base = Math.min(cap, MIN_BACKOFF_MS * 2 ** Math.min(this.#failures - 1, 20));
    return base / 2 + Math.random() * (base / 2);
  }

  #runOnce(): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = this.#uploadAll().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Uploads chunk after chunk until the buffer is empty or a request fails. */
  async #uploadAll(): Promise<void> {
    while (this.buffered > 0) {
      const count = Math.min(this.#chunk(), this.#chunkCap);
      this.#inFlight = count;
      const body = gzipSync(this.opts.frame(this.#queue.slice(this.#head, this.#head + count)));
      try {
        this.#counts.requests++;
        await this.#collector.post(body);
      } catch (err) {
        if (err instanceof TooLarge && this.#tooLarge(count)) {
          this.#inFlight = 0;
          continue;
        }
        this.#inFlight = 0;
        this.#failures++;
        this.#counts.upload_failures++;
        this.#counts.last_error = (err as Error).message;
        this.opts.log.warn({ err, buffered: this.buffered, failures: this.#failures }, "upload failed; will retry");
        return;
      }
      this.#inFlight = 0;
      for (let i = this.#head; i < this.#head + count; i++) this.#bytes -= this.#sizes[i]!;
      this.#head += count;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#sizes = this.#sizes.slice(this.#head);
        this.#head = 0;
      }
      this.#failures = 0;
      this.#chunkCap = Infinity;
      this.#counts.uploaded += count;
      this.#counts.last_success = new Date().toISOString();
    }
  }

  /**
   * The collector answered 413: this body will never be taken as it is, and retrying it would hold every event
   * behind it for good (in block mode, refuse every decision from then on: one agent's huge statement would stop
   * all agents). A batch is halved and sent again at once. A single event larger than upload_size_limit_bytes
   * (the size the collector was said to take) is dropped, counted in `dropped` and logged with its size (not its
   * content), and the events behind it go on. False: a failure like any other (a collector refusing an event
   * within the limit is misconfigured; retried with backoff).
   */
  #tooLarge(count: number): boolean {
    if (count > 1) {
      this.#counts.upload_failures++;
      this.#chunkCap = Math.max(1, count >> 1);
      return true;
    }
    const bytes = this.#sizes[this.#head]!;
    if (bytes <= this.opts.upload_size_limit_bytes) return false;
    this.#counts.upload_failures++;
    this.#bytes -= bytes;
    this.#head++;
    this.#counts.dropped++;
    this.#counts.last_error = `collector refused an event of ${bytes} bytes as too large (HTTP 413)`;
    this.opts.log.error({ bytes, url: shownUrl(this.opts.url) }, "collector refused an event as too large (HTTP 413); it is dropped, the events after it are sent");
    return true;
  }

  /** How many of the oldest events fit one request; at least one (an oversize event goes alone). */
  #chunk(): number {
    let bytes = 2;
    let n = 0;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const add = this.#sizes[i]! + (n ? 1 : 0);
      if (n > 0 && bytes + add > this.opts.upload_size_limit_bytes) break;
      bytes += add;
      n++;
    }
    return n;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
