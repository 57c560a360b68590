// JSON behind an anti-XSSI prefix: Gerrit, Angular's $http convention and Google APIs write `)]}'` and a
// newline before every JSON answer (older ones `while(1);` or `for(;;);`), which clients cut before parsing.
// The document after it is masked as any other; the prefix goes out as it came.

import { Transform, type TransformCallback } from "node:stream";

const PREFIX = /^(?:\)\]\}',?[ \t]*\r?\n|while[ \t]*\([ \t]*1[ \t]*\)[ \t]*;|for[ \t]*\([ \t]*;[ \t]*;[ \t]*\)[ \t]*;)/;
/** Longer than any prefix PREFIX matches with the blanks a server could put in it. */
const MAX_PREFIX = 32;

/** The anti-XSSI prefix `text` starts with, or "". */
export function xssiPrefix(text: string): string {
  const c = text.charCodeAt(0);
  // ")", "w", "f": anything else starts no prefix (a JSON document starts with none of them but `false`).
  if (c !== 0x29 && c !== 0x77 && c !== 0x66) return "";
  return PREFIX.exec(text)?.[0] ?? "";
}

/**
 * Cuts an anti-XSSI prefix off the start of a stream and hands it to `onPrefix` (before any byte after it is
 * passed on); a stream without one passes whole. Waits for at most MAX_PREFIX bytes.
 */
export class XssiStrip extends Transform {
  readonly #onPrefix: (prefix: string) => void;
  #head: Buffer | undefined = Buffer.alloc(0);

  constructor(onPrefix: (prefix: string) => void) {
    super();
    this.#onPrefix = onPrefix;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.#head) return done(null, chunk);
    const head = this.#head.length === 0 ? chunk : Buffer.concat([this.#head, chunk]);
    const text = head.toString("latin1", 0, MAX_PREFIX);
    const prefix = xssiPrefix(text);
    if (prefix === "" && head.length < MAX_PREFIX && couldGrowIntoPrefix(text)) {
      this.#head = head;
      return done();
    }
    this.#head = undefined;
    if (prefix !== "") this.#onPrefix(prefix);
    done(null, head.subarray(prefix.length));
  }

  override _flush(done: TransformCallback): void {
    const head = this.#head;
    this.#head = undefined;
    done(null, head && head.length > 0 ? head : undefined);
  }
}

/** More bytes could still make `text` a prefix: it is empty or starts as one does (waiting costs MAX_PREFIX bytes at most). */
function couldGrowIntoPrefix(text: string): boolean {
  const c = text.charCodeAt(0);
  return text === "" || c === 0x29 || c === 0x77 || c === 0x66;
}
