/**
 * Joins one worker's output into whole lines. Workers write to pipes the primary reads; a decision-log
 * line can exceed PIPE_BUF, so it may arrive in pieces, and two workers' pieces must never be
 * interleaved on the primary's stdout. The primary writes only up to the last newline of what it has.
 */
export class LineJoiner {
  #rest: Buffer[] = [];
  #restBytes = 0;

  /** A line longer than this is passed on in pieces rather than held without bound. */
  constructor(private readonly maxLineBytes = 64 * 1024 * 1024) {}

  /** The whole lines completed by `chunk` (one buffer), or undefined when none is complete yet. */
  push(chunk: Buffer): Buffer | undefined {
    const nl = chunk.lastIndexOf(0x0a);
    if (nl < 0) {
      this.#rest.push(chunk);
      this.#restBytes += chunk.length;
      if (this.#restBytes < this.maxLineBytes) return undefined;
      return this.flush();
    }
    const head = chunk.subarray(0, nl + 1);
    const out = this.#restBytes ? Buffer.concat([...this.#rest, head]) : head;
    const tail = chunk.subarray(nl + 1);
    // The tail is copied: the pipe's buffer is not ours to keep.
    this.#rest = tail.length ? [Buffer.from(tail)] : [];
    this.#restBytes = tail.length;
    return out;
  }

  /** What is left, ended with a newline (the worker exited mid-line); undefined when nothing is. */
  flush(): Buffer | undefined {
    if (!this.#restBytes) return undefined;
    const out = Buffer.concat([...this.#rest, Buffer.from("\n")]);
    this.#rest = [];
    this.#restBytes = 0;
    return out;
  }
}
