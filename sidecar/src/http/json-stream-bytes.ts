// Containers the streaming JSON masker (json-stream-scan.ts) holds whole while they may be text written as
// byte values (byte-arrays.ts: a Buffer's `data`, a Uint8Array's `{"0": 115, …}`): such text can only be read,
// and masked, once the container has closed. Masked then as a whole document's walk would (masker.ts).

import { RegateError } from "../errors.js";
import type { ResponseMasker } from "./masker.js";
import type { ValueRule } from "./json-stream-tokens.js";

/** A container being held whole while it may be text as byte values, from `start` of the output. */
interface ByteCapture {
  start: number;
  /** The stream's nesting depth while the container is the current one. */
  depth: number;
  rule: ValueRule;
  path: string[];
  /** Elements read so far, each a byte. */
  count: number;
}

const BYTE_LITERAL = /^(?:0|[1-9]\d{0,2})$/;

/** The innermost container that may still be byte values, if any (an inner one replaces an outer one). */
export class ByteCaptures {
  #capture: ByteCapture | undefined;
  #closed = false;

  /** A container is held: nothing may be sent. */
  get active(): boolean {
    return this.#capture !== undefined;
  }

  /** The held container has just closed: end() masks it. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * A container starts at output offset `start`, at `depth`, under `rule` and key path `path`; held unless
   * nothing would read its text (masked whole, or no detector and no field rule).
   */
  open(masker: ResponseMasker, rule: ValueRule, start: number, depth: number, path: readonly string[]): void {
    const reads = rule.whole === undefined && (rule.detect !== undefined || masker.hasFieldRules);
    this.#capture = reads ? { start, depth, rule, path: masker.hasPointers ? [...path] : [], count: 0 } : undefined;
  }

  /** A string value starts: no byte's container holds one. */
  string(): void {
    this.#capture = undefined;
  }

  /** An object's key: a byte's container (`{"0": …, "1": …}`) numbers them from 0. */
  key(key: string): void {
    if (this.#capture !== undefined && key !== String(this.#capture.count)) this.#capture = undefined;
  }

  /** A literal value: a byte is 0 to 255, written plainly. */
  literal(tok: string): void {
    if (this.#capture === undefined) return;
    if (BYTE_LITERAL.test(tok) && Number(tok) <= 255) this.#capture.count++;
    else this.#capture = undefined;
  }

  /** The container at `depth` closes. */
  close(depth: number): void {
    if (this.#capture !== undefined && this.#capture.depth === depth) this.#closed = true;
  }

  /** Over `max` characters held since the container started (output length `outLength`): refused. */
  check(outLength: number, max: number): void {
    if (this.#capture !== undefined && outLength - this.#capture.start > max) throw new RegateError("MASK_LINEAGE_UNKNOWN", "a JSON value is larger than regate masks");
  }

  /** The output `out`, whose end is the held container now closed, with that container masked as the bytes it may be. */
  end(masker: ResponseMasker, out: string): string {
    const capture = this.#capture!;
    this.#capture = undefined;
    this.#closed = false;
    const text = out.slice(capture.start);
    const masked = masker.maskValueText(text, capture.rule.detect, capture.depth - 1, capture.path);
    return masked === text ? out : out.slice(0, capture.start) + masked;
  }
}
