import type { ChainFile } from "./chain-file.js";

/**
 * How long a deferred record (Recorder.writeLater) may wait for the session's next record written at once.
 * Longer than a client's round trip, so a result usually shares the write of the next statement record
 * (one syscall per statement instead of two); short, since records still pending are lost in a crash.
 */
export const DEFER_MS = 10;

/** How a write went, for the recorder's failing mode. */
export interface WriteOutcome {
  ok(): void;
  fail(err: unknown): void;
}

/** Files with deferred records, each written in one go by the next `flush` (group commit). */
export class GroupCommit {
  readonly #outcome: WriteOutcome;
  readonly #dirty = new Set<ChainFile>();
  #flushing?: NodeJS.Timeout;

  constructor(outcome: WriteOutcome) {
    this.#outcome = outcome;
  }

  /** `file` has a deferred record: it is written by the next flush, at the latest DEFER_MS from now. */
  later(file: ChainFile): void {
    this.#dirty.add(file);
    this.#flushing ??= setTimeout(() => this.flush(), DEFER_MS);
  }

  /** Writes every deferred record now (one write per file); a failure puts the recorder in failing mode. */
  flush(): void {
    if (this.#flushing) clearTimeout(this.#flushing);
    this.#flushing = undefined;
    const files = [...this.#dirty];
    this.#dirty.clear();
    for (const f of files) this.flushFile(f);
  }

  /** False when the write failed: the file and its chain are back at the last whole record on disk. */
  flushFile(file: ChainFile): boolean {
    if (!file.pending) return true;
    try {
      file.flush();
      this.#outcome.ok();
      return true;
    } catch (err) {
      this.#outcome.fail(err);
      return false;
    }
  }
}
