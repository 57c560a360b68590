import { RegateError } from "../../errors.js";

/** Reads fields of one message body in place. Every read is bounds-checked: a short body is 08P01. */
export class BodyReader {
  off: number;
  /** `start`: where the fields begin in `buf` (BODY for a whole message); they end where `buf` does. */
  constructor(
    readonly buf: Buffer,
    start = 0,
  ) {
    this.off = start;
  }

  #need(n: number): void {
    if (n < 0 || this.off + n > this.buf.length) throw new RegateError("PROTOCOL_VIOLATION", "message is shorter than its fields");
  }
  byte(): number {
    this.#need(1);
    return this.buf[this.off++]!;
  }
  int16(): number {
    this.#need(2);
    const v = this.buf.readInt16BE(this.off);
    this.off += 2;
    return v;
  }
  int32(): number {
    this.#need(4);
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }
  uint32(): number {
    this.#need(4);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  /** NUL-terminated UTF-8 string. */
  cstring(): string {
    const end = this.buf.indexOf(0, this.off);
    if (end === -1) throw new RegateError("PROTOCOL_VIOLATION", "unterminated string in message");
    // The unnamed statement and portal: most Bind, Execute and Describe messages name one.
    if (end === this.off) {
      this.off++;
      return "";
    }
    const s = this.buf.toString("utf8", this.off, end);
    this.off = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    this.#need(n);
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  rest(): Buffer {
    const b = this.buf.subarray(this.off);
    this.off = this.buf.length;
    return b;
  }
  get remaining(): number {
    return this.buf.length - this.off;
  }
  end(): void {
    if (this.off !== this.buf.length) throw new RegateError("PROTOCOL_VIOLATION", "message has trailing bytes");
  }
}
