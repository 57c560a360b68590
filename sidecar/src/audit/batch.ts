/**
 * Log items (decision events, finished request lines) that wait at most BATCH_MS, or until about
 * BATCH_BYTES of them wait, and are then written together. pino's asynchronous destination hands every
 * write to a libuv thread and wakes the loop when it is done: one write per batch instead of one per item
 * is what keeps the logs off a request's CPU bill. Nothing is lost: open batches are written on close and
 * at process exit, ahead of pino's own exit flush.
 */
export class LogBatch<T> {
  #items: T[] = [];
  #bytes = 0;
  #scheduled = false;
  readonly #write: (items: T[]) => void;
  readonly #onTimer = (): void => this.flush();

  /** `write` gets the waiting items in the order they were pushed, and puts them on the destination. */
  constructor(write: (items: T[]) => void) {
    this.#write = write;
    open.add(this);
  }

  /** About how many bytes the waiting items will take once written. */
  get bytes(): number {
    return this.#bytes;
  }

  push(item: T, bytes: number): void {
    this.#items.push(item);
    this.#bytes += bytes;
    if (this.#bytes >= BATCH_BYTES) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(this.#onTimer, BATCH_MS).unref();
    }
  }

  /** Writes what waits, now. */
  flush(): void {
    this.#scheduled = false;
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    this.#write(items);
  }

  /** Flushes and leaves the exit flush; later items are still written, in batches. */
  close(): void {
    this.flush();
    open.delete(this);
  }
}

const open = new Set<{ flush(): void }>();

/** Writes every open batch now (at exit; tests that read what was logged so far). */
export function flushLogBatches(): void {
  for (const batch of open) batch.flush();
}

process.prependListener("exit", flushLogBatches);

/** How long a logged item may wait for its batch, and how much may wait before the batch is written at once. */
const BATCH_MS = 5;
const BATCH_BYTES = 256 * 1024;
