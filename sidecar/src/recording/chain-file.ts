import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { Chain } from "./chain.js";
import { checkChain } from "./verify.js";

/**
 * One append-only chained file, written synchronously: when `append` returns the record is in the file (the
 * OS page cache), unless it was deferred (group commit: see `append`). A failed write is undone (the file is
 * cut back to its last whole record) and thrown, so the chain on disk never holds half a record that a later
 * one would build on.
 */
export class ChainFile {
  readonly path: string;
  #fd: number;
  #size: number;
  #chain: Chain;
  /** Seq and head of the last record in the file (the chain's may be ahead, by the pending records). */
  #disk: { seq: number; head: string };
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Told of each batch of whole records once it is in the file (the fleet store copies them from here). */
  onWritten: ((firstSeq: number, lines: readonly Buffer[]) => void) | undefined;

  private constructor(path: string, fd: number, size: number, chain: Chain) {
    this.path = path;
    this.#fd = fd;
    this.#size = size;
    this.#chain = chain;
    this.#disk = { seq: chain.seq, head: chain.head };
  }

  /** A new file; fails if it exists. */
  static create(path: string): ChainFile {
    return new ChainFile(path, openSync(path, "wx", 0o600), 0, new Chain());
  }

  /**
   * An existing file (or a new one) continued where its chain ends. A last line cut off by a crash is
   * removed and reported in `repaired`; any other break throws, since appending would hide it.
   */
  static continue(path: string): { file: ChainFile; repaired?: number } {
    let bytes = Buffer.alloc(0);
    try {
      bytes = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    // In bytes: a crash can cut the last line inside a character.
    let repaired: number | undefined;
    const nl = bytes.lastIndexOf(0x0a);
    if (bytes.length > 0 && nl !== bytes.length - 1) {
      repaired = bytes.length - (nl + 1);
      bytes = bytes.subarray(0, nl + 1);
    }
    const check = checkChain(bytes);
    if (!check.ok) throw new Error(`${path}: chain broken at line ${check.problem!.line}: ${check.problem!.message}`);
    const fd = openSync(path, "a+", 0o600);
    const size = bytes.length;
    if (repaired !== undefined) ftruncateSync(fd, size);
    return { file: new ChainFile(path, fd, size, new Chain(check.records.length, check.head)), ...(repaired !== undefined ? { repaired } : {}) };
  }

  /** Records in the chain, those still pending included (the seq the next record builds on). */
  get records(): number {
    return this.#chain.seq;
  }

  /** SHA-256 of the chain's last record, pending or written. */
  get head(): string {
    return this.#chain.head;
  }

  /** Bytes on disk: whole records written, pending ones not included. */
  get size(): number {
    return this.#size;
  }

  /** True while records wait in the pending buffer for `flush`. */
  get pending(): boolean {
    return this.#pending.length > 0;
  }

  /**
   * Appends one record; returns its length in bytes. With `defer`, the record only joins the pending buffer
   * (the chain in memory moves on, the file does not) and reaches the file with the next `flush` or the next
   * record appended without `defer`: one write for all of them, in chain order. Without `defer`, when this
   * returns the record and every pending one before it are in the file. A failed write loses the pending
   * records too: the file is cut back to its last whole record and the chain to what the file holds, so the
   * next record builds on what is on disk.
   */
  append(type: string, body: Record<string, unknown>, defer = false): number {
    const { line, hash } = this.#chain.next(type, body);
    const bytes = Buffer.from(line, "utf8");
    this.#chain.commit(hash);
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (!defer) this.flush();
    return bytes.length;
  }

  /** Writes the pending records in one go (nothing to do when there are none); throws when that fails. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const lines = this.#pending;
    const bytes = lines.length === 1 ? lines[0]! : Buffer.concat(lines, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      let off = 0;
      // At an explicit position: after a failed write is cut back, the fd's own offset still points past
      // the cut, and the next record would land after a hole of NUL bytes.
      while (off < bytes.length) off += writeSync(this.#fd, bytes, off, bytes.length - off, this.#size + off);
    } catch (err) {
      try {
        if (fstatSync(this.#fd).size !== this.#size) ftruncateSync(this.#fd, this.#size);
      } catch {
        // The next append fails the same way; the caller already refuses statements.
      }
      // Back to the file's last whole record: what a later record's `prev` must name.
      this.#chain = new Chain(this.#disk.seq, this.#disk.head);
      throw err;
    }
    this.#size += bytes.length;
    const firstSeq = this.#disk.seq + 1;
    this.#disk = { seq: this.#chain.seq, head: this.#chain.head };
    this.onWritten?.(firstSeq, lines);
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
  }
}
