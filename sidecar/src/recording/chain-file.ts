import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { Chain } from "./chain.js";
import { checkChain } from "./verify.js";

/**
 * One append-only chained file, written synchronously: when `append` returns the record is in the
 * file (the OS page cache). A failed write is undone (the file is cut back to its last whole record) and
 * thrown, so the chain on disk never holds half a record that a later one would build on.
 */
export class ChainFile {
  readonly path: string;
  #fd: number;
  #size: number;
  #chain: Chain;

  private constructor(path: string, fd: number, size: number, chain: Chain) {
    this.path = path;
    this.#fd = fd;
    this.#size = size;
    this.#chain = chain;
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
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    let repaired: number | undefined;
    const nl = text.lastIndexOf("\n");
    if (text.length > 0 && nl !== text.length - 1) {
      repaired = Buffer.byteLength(text.slice(nl + 1));
      text = text.slice(0, nl + 1);
    }
    const check = checkChain(text);
    if (!check.ok) throw new Error(`${path}: chain broken at line ${check.problem!.line}: ${check.problem!.message}`);
    const fd = openSync(path, "a+", 0o600);
    const size = Buffer.byteLength(text);
    if (repaired !== undefined) ftruncateSync(fd, size);
    return { file: new ChainFile(path, fd, size, new Chain(check.records.length, check.head)), ...(repaired !== undefined ? { repaired } : {}) };
  }

  get records(): number {
    return this.#chain.seq;
  }

  get head(): string {
    return this.#chain.head;
  }

  get size(): number {
    return this.#size;
  }

  append(type: string, body: Record<string, unknown>): void {
    const { line, hash } = this.#chain.next(type, body);
    const bytes = Buffer.from(line, "utf8");
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
      throw err;
    }
    this.#size += bytes.length;
    this.#chain.commit(hash);
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
  }
}
