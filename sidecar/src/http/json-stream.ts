// Masks a JSON response as it streams: the same rules as ResponseMasker.maskJsonText, applied token by token.
// This file is the stream: bytes in, the grammar (json-stream-scan.ts) over their text, output held back
// until there is enough of it, or all of it.

import { Transform, type TransformCallback } from "node:stream";
import { RegateError } from "../errors.js";
import { syntax } from "./json-stream-tokens.js";
import { StreamScanner } from "./json-stream-scan.js";
import type { ResponseMasker } from "./masker.js";

/**
 * Rewrites a JSON document chunk by chunk: structure and unmasked tokens pass as they came (numbers keep
 * their digits, duplicate keys are each masked), a masked token is replaced once it is complete. The grammar
 * is checked as strictly as JSON.parse; a document that breaks it, nests deeper than MAX_DEPTH or has a
 * token over `maxTokenChars` fails the stream. Nothing is pushed before `holdChars` of output (or the end)
 * so a small document that fails is refused before a byte of it is sent; past that the caller can only cut
 * the response short, which an agent cannot mistake for a complete document.
 */
export class JsonMaskStream extends Transform {
  readonly #holdChars: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #scanner: StreamScanner;
  #held: string[] = [];
  #heldChars = 0;
  #bytes = 0;
  #pushed = false;
  /** Set when the first push is the whole document (it fitted in the hold): its length can be declared. */
  wholeBody = false;

  constructor(masker: ResponseMasker, opts: { holdChars: number; maxTokenChars: number }) {
    super();
    this.#holdChars = opts.holdChars;
    this.#scanner = new StreamScanner(masker, opts.maxTokenChars);
  }

  /** Text sent before the document as it came (an anti-XSSI prefix, xssi.ts): called before any data. */
  lead(text: string): void {
    this.#scanner.lead(text);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.#bytes += chunk.length;
      this.#scanner.scan(this.#decoder.decode(chunk, { stream: true }));
      this.#emit(false);
      done();
    } catch (err) {
      done(this.#failure(err));
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      // An empty body is no document at all, and passes as it came (nothing to mask).
      if (this.#bytes === 0) return done();
      this.#scanner.scan(this.#decoder.decode());
      this.#scanner.end();
      this.#emit(true);
      done();
    } catch (err) {
      done(this.#failure(err));
    }
  }

  #failure(err: unknown): Error {
    if (err instanceof SyntaxError || err instanceof RegateError) return err;
    // TextDecoder's fatal error is a TypeError: the body is not UTF-8, so not JSON either.
    if (err instanceof TypeError) return syntax("not UTF-8");
    return err as Error;
  }

  #emit(final: boolean): void {
    const out = this.#scanner.take();
    if (out === undefined) return;
    if (out !== "") {
      this.#held.push(out);
      this.#heldChars += out.length;
    }
    if (this.#held.length === 0 || (!final && this.#heldChars < this.#holdChars)) return;
    if (final && !this.#pushed) this.wholeBody = true;
    this.#pushed = true;
    this.push(Buffer.from(this.#held.length === 1 ? this.#held[0]! : this.#held.join(""), "utf8"));
    this.#held = [];
    this.#heldChars = 0;
  }
}
