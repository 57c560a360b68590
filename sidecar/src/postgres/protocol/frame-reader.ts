import { RegateError } from "../../errors.js";

export interface Frame {
  /** Message type byte; 0 for startup-phase packets, which have none. */
  type: number;
  /** Body without type and length. A view into the read buffer: valid until the next push(). */
  body: Buffer;
  /** The whole message as received, for forwarding unchanged. Same lifetime as body. */
  raw: Buffer;
  /** Assembled from several chunks into a buffer of its own, rather than a view into the chunk just pushed. */
  joined?: boolean;
}

/** Where a typed message's body starts in its raw bytes (type byte, then the length): decoders read from here. */
export const BODY = 5;

/**
 * A frame whose body view is made only when asked for: most messages are forwarded as their raw bytes or
 * decoded from `raw` at BODY, and a Buffer view costs about 110 ns to make (two per message, ten messages
 * per pgbench transaction).
 */
class ReadFrame implements Frame {
  #body: Buffer | undefined;
  constructor(
    readonly type: number,
    readonly raw: Buffer,
    private readonly header: number,
    readonly joined: boolean,
  ) {}

  get body(): Buffer {
    return (this.#body ??= this.raw.subarray(this.header));
  }
}

/**
 * Frames a byte stream into messages without copying: frames are views into the chunk they arrived
 * in; only a message split across chunks is assembled into a buffer of its own.
 */
export class FrameReader {
  #parts: Buffer[] = [];
  #partsLength = 0;
  #startup: boolean;

  constructor(
    private readonly maxMessageBytes: number,
    startupPhase = false,
    private readonly maxStartupBytes = 10_000,
  ) {
    this.#startup = startupPhase;
  }

  /** After the startup packet, messages carry a type byte. */
  endStartupPhase(): void {
    this.#startup = false;
  }

  get inStartupPhase(): boolean {
    return this.#startup;
  }

  /** Bytes received but not yet framed (e.g. after an SSLRequest, which must be alone). */
  get buffered(): number {
    return this.#partsLength;
  }

  /** Calls onFrame for each complete message; onFrame may return false to stop (remaining bytes stay buffered). */
  push(chunk: Buffer, onFrame: (frame: Frame) => boolean | void): void {
    let off = 0;
    if (this.#parts.length > 0) {
      // Complete only the message that spans the chunk boundary; the rest of the chunk is read in place.
      // Parts are kept as a list and joined once, so a large message in many chunks is copied once.
      const header = this.#startup ? 4 : 5;
      this.#parts.push(chunk);
      this.#partsLength += chunk.length;
      if (this.#partsLength < header) return;
      const total = this.#checkedLength(this.#peek(header), 0) + (this.#startup ? 0 : 1);
      if (this.#partsLength < total) return;
      const before = this.#partsLength - chunk.length;
      const take = total - before;
      this.#parts[this.#parts.length - 1] = chunk.subarray(0, take);
      const raw = Buffer.concat(this.#parts, total);
      this.#parts = [];
      this.#partsLength = 0;
      const frame = new ReadFrame(this.#startup ? 0 : raw[0]!, raw, header, true);
      off = take;
      if (onFrame(frame) === false) {
        this.#keep(chunk, off);
        return;
      }
    }
    while (true) {
      const header = this.#startup ? 4 : 5;
      if (chunk.length - off < header) break;
      const total = this.#checkedLength(chunk, off) + (this.#startup ? 0 : 1);
      if (chunk.length - off < total) break;
      const raw = chunk.subarray(off, off + total);
      const frame = new ReadFrame(this.#startup ? 0 : raw[0]!, raw, header, false);
      off += total;
      if (onFrame(frame) === false) break;
    }
    this.#keep(chunk, off);
  }

  /** Takes what is buffered after onFrame stopped, to be pushed again as a chunk of its own. */
  takeBuffered(): Buffer {
    const all = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#partsLength);
    this.#parts = [];
    this.#partsLength = 0;
    return all;
  }

  /** The first n buffered bytes (n is a header's size). */
  #peek(n: number): Buffer {
    const first = this.#parts[0]!;
    if (first.length >= n) return first;
    const head = Buffer.alloc(n);
    let at = 0;
    for (const part of this.#parts) {
      at += part.copy(head, at, 0, Math.min(part.length, n - at));
      if (at === n) break;
    }
    return head;
  }

  #keep(chunk: Buffer, off: number): void {
    if (off >= chunk.length) return;
    // A copy: the caller may reuse the chunk's memory (TLS, pooled buffers).
    const rest = Buffer.from(chunk.subarray(off));
    this.#parts.push(rest);
    this.#partsLength += rest.length;
  }

  #checkedLength(buf: Buffer, off: number): number {
    const len = buf.readInt32BE(this.#startup ? off : off + 1);
    const max = this.#startup ? this.maxStartupBytes : this.maxMessageBytes;
    if (len < 4 || len > max) {
      throw new RegateError("PROTOCOL_VIOLATION", `invalid message length ${len}${len > max ? ` (limit ${max})` : ""}`);
    }
    return len;
  }

  /** Takes whatever is buffered (for handing a socket over, e.g. to TLS). */
  drain(): Buffer | undefined {
    if (this.#parts.length === 0) return undefined;
    const all = Buffer.concat(this.#parts);
    this.#parts = [];
    this.#partsLength = 0;
    return all;
  }
}
