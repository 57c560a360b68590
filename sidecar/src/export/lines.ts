import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import type { DecisionEvent, DecisionSink } from "../decision/index.js";

/**
 * JSON lines to a stream (stdout or an appended file). Lines written within one turn of the event loop go out
 * as one write.
 */
export class LineSink implements DecisionSink {
  #pending = "";
  #scheduled = false;
  written = 0;

  constructor(
    private readonly out: Writable,
    private readonly serialize: (e: DecisionEvent) => string,
    private readonly ownsStream: boolean,
    onError: (err: Error) => void = () => {},
  ) {
    // A file that cannot be written (disk full, permissions) must not take the sidecar down.
    if (ownsStream) out.on("error", onError);
  }

  static file(path: string, serialize: (e: DecisionEvent) => string, onError?: (err: Error) => void): LineSink {
    return new LineSink(createWriteStream(path, { flags: "a", mode: 0o600 }), serialize, true, onError);
  }

  record(e: DecisionEvent): void {
    this.line(this.serialize(e));
  }

  /** One line that is not a decision (a lifecycle event), in the same stream and order. */
  line(json: string): void {
    this.#pending += json + "\n";
    this.written++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    if (!this.#pending) return;
    this.out.write(this.#pending);
    this.#pending = "";
  }

  async close(): Promise<void> {
    this.#flush();
    if (this.ownsStream && !this.out.destroyed) await new Promise<void>((r) => this.out.end(r));
  }
}
