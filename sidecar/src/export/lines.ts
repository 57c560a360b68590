import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import type { DecisionEvent, DecisionSink } from "../decision/index.js";
import { RegateError } from "../errors.js";
import type { BufferPolicy, UploaderStats } from "./upload.js";

/** How many lines may wait for the stream, and what happens beyond: the export's buffer settings. */
export interface LineBound {
  buffer_size_limit_events: number;
  /** UTF-8 bytes of lines waiting at most. */
  buffer_size_limit_bytes: number;
  buffer_policy: BufferPolicy;
}

/** Unbounded: what a caller that does not say gets (tests, the bench). */
const UNBOUNDED: LineBound = { buffer_size_limit_events: Number.MAX_SAFE_INTEGER, buffer_size_limit_bytes: Number.MAX_SAFE_INTEGER, buffer_policy: "drop_oldest" };

/**
 * JSON lines to a stream (stdout or an appended file). Lines written within one turn of the event loop go out
 * as one write.
 *
 * Bounded like the uploads: a stdout nobody reads (a stuck log shipper) or a file on a disk that stopped would
 * otherwise keep every line in memory until the process is killed, and a file that failed (disk full,
 * permissions) would swallow every later line without a word. Lines still waiting (not yet taken by the
 * stream) are counted, with their bytes; beyond `buffer_size_limit_events` or `buffer_size_limit_bytes`, or
 * once the stream failed, `drop_oldest` leaves the new line out (what the stream holds cannot be taken back)
 * and counts it in `dropped`, and `block` refuses new
 * decisions before they are made (DECISION_LOG_BACKPRESSURE, as the uploads do), counted in `refused`.
 */
export class LineSink implements DecisionSink {
  #pending = "";
  #pendingLines = 0;
  /** UTF-8 bytes of #pending. */
  #pendingBytes = 0;
  /** Lines handed to the stream whose write has not completed. */
  #inStream = 0;
  /** UTF-8 bytes of the lines pending or in the stream. */
  #bytes = 0;
  #scheduled = false;
  #failure: Error | undefined;
  #refusing = false;
  written = 0;
  readonly #counts = { received: 0, dropped: 0, refused: 0 };

  constructor(
    private readonly out: Writable,
    private readonly serialize: (e: DecisionEvent) => string,
    private readonly ownsStream: boolean,
    private readonly onError: (err: Error) => void = () => {},
    private readonly bound: LineBound = UNBOUNDED,
  ) {
    // A file that cannot be written (disk full, permissions) must not take the sidecar down.
    if (ownsStream) out.on("error", (err) => this.#fail(err));
  }

  static file(path: string, serialize: (e: DecisionEvent) => string, onError?: (err: Error) => void, bound?: LineBound): LineSink {
    return new LineSink(createWriteStream(path, { flags: "a", mode: 0o600 }), serialize, true, onError, bound);
  }

  /** Lines not yet written by the stream. */
  get buffered(): number {
    return this.#pendingLines + this.#inStream;
  }

  get stats(): UploaderStats {
    return {
      ...this.#counts,
      uploaded: this.written,
      buffered: this.buffered,
      upload_failures: this.#failure ? 1 : 0,
      requests: 0,
      ...(this.#failure ? { last_error: this.#failure.message } : {}),
    };
  }

  #full(): boolean {
    return this.#failure !== undefined || this.buffered >= this.bound.buffer_size_limit_events || this.#bytes >= this.bound.buffer_size_limit_bytes;
  }

  full(): boolean {
    return this.bound.buffer_policy === "block" && this.#full();
  }

  /** Block mode: refuse a new decision while its line could not be written (the caller fails closed). */
  admit(): RegateError | undefined {
    if (this.bound.buffer_policy !== "block" || !this.#full()) return undefined;
    this.#counts.refused++;
    this.#refusing = true;
    return new RegateError("DECISION_LOG_BACKPRESSURE", undefined, {
      detail: this.#failure
        ? "the OCSF event file cannot be written"
        : `the OCSF event output is not being read (${this.buffered} events, ${this.#bytes} bytes waiting)`,
    });
  }

  record(e: DecisionEvent): void {
    // The refusal this sink's admit() caused is counted in `refused`, not written to the output that is full.
    if (this.#refusing) {
      this.#refusing = false;
      if (e.decision.error_code === "DECISION_LOG_BACKPRESSURE") return;
    }
    this.line(this.serialize(e));
  }

  /** One line that is not a decision (a lifecycle event), in the same stream and order. */
  line(json: string): void {
    this.#counts.received++;
    const size = Buffer.byteLength(json) + 1;
    // A line that would take the waiting bytes past the limit is left out too (one huge line is never kept).
    if (this.#full() || this.#bytes + size > this.bound.buffer_size_limit_bytes) {
      this.#counts.dropped++;
      return;
    }
    this.#pending += json + "\n";
    this.#pendingLines++;
    this.#pendingBytes += size;
    this.#bytes += size;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    if (!this.#pending) return;
    const text = this.#pending;
    const lines = this.#pendingLines;
    this.#pending = "";
    this.#pendingLines = 0;
    const bytes = this.#pendingBytes;
    this.#pendingBytes = 0;
    if (this.#failure) {
      this.#bytes -= bytes;
      this.#counts.dropped += lines;
      return;
    }
    this.#inStream += lines;
    // The callback runs once the stream has written the chunk (or failed to): only then do the lines stop
    // counting against the bound.
    this.out.write(text, (err) => {
      this.#inStream -= lines;
      this.#bytes -= bytes;
      if (err) {
        this.#counts.dropped += lines;
        this.#fail(err);
      } else this.written += lines;
    });
  }

  #fail(err: Error): void {
    if (this.#failure === undefined) this.onError(err);
    this.#failure = err;
  }

  async close(): Promise<void> {
    this.#flush();
    if (this.ownsStream && !this.out.destroyed) await new Promise<void>((r) => this.out.end(r));
  }
}
