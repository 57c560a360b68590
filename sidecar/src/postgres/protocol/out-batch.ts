import type { Writable } from "node:stream";

/**
 * Buffers bound for one socket, collected while one chunk from the other side is handled and written
 * together at its end. A buffer that continues the previous one in memory (messages forwarded as they
 * arrived, one after another in the chunk that was read) extends it instead of becoming a part of its
 * own: the usual batch is one slice of the chunk that was read, written with no copy and no writev.
 * Joining is byte-exact whatever the buffers' origin: two views adjacent in one ArrayBuffer are, together,
 * exactly their bytes in order.
 */
export class OutBatch {
  #parts: Buffer[] = [];
  /** The part being extended, and where its bytes end in its ArrayBuffer. */
  #run: Buffer | undefined;
  #runEnd = 0;
  #bytes = 0;

  /** Bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  push(buf: Buffer): void {
    if (buf.length === 0) return;
    this.#bytes += buf.length;
    const run = this.#run;
    if (run !== undefined) {
      if (run.buffer === buf.buffer && this.#runEnd === buf.byteOffset) {
        this.#runEnd += buf.length;
        return;
      }
      this.#parts.push(this.#closeRun(run));
    }
    this.#run = buf;
    this.#runEnd = buf.byteOffset + buf.length;
  }

  /** What waits, in order (joined where adjacent in memory), and empties the batch; [] when nothing waits. */
  take(): Buffer[] {
    const run = this.#run;
    if (run === undefined) return [];
    const parts = this.#parts;
    parts.push(this.#closeRun(run));
    this.#parts = [];
    this.#run = undefined;
    this.#bytes = 0;
    return parts;
  }

  /**
   * Writes what waits to `to` and empties the batch; false when `to` asks its writer to wait. One run is one
   * write of a view; several parts are one write of a copy (`join`: many small rewritten rows) or several
   * corked writes (no copy of a large message).
   */
  writeTo(to: Writable, join: boolean): boolean {
    const bytes = this.#bytes;
    const parts = this.take();
    if (parts.length === 0) return true;
    if (parts.length === 1) return to.write(parts[0]!);
    if (join) return to.write(Buffer.concat(parts, bytes));
    to.cork();
    for (const part of parts) to.write(part);
    to.uncork();
    return to.writableLength < to.writableHighWaterMark;
  }

  #closeRun(run: Buffer): Buffer {
    const length = this.#runEnd - run.byteOffset;
    return length === run.length ? run : Buffer.from(run.buffer, run.byteOffset, length);
  }
}
