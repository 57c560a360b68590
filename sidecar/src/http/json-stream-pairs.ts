// Name/value pairs and entries for the streaming JSON masker (json-stream.ts), as masker.ts finds them in a
// whole document: `{"name": "ssn", "value": …}` in either order, `[["ssn", …]]`. A value read before its pair
// is known to name a masked field (`{"value": …, "name": "ssn"}`, an entry's second element until the
// entry proves to have two) is held, not sent, and kept as it came beside its output; when its container
// closes it is masked again from that text, or let go as it was written.

import { RegateError } from "../errors.js";
import type { DetectSpec, FieldAction } from "./mask-actions.js";
import type { ResponseMasker } from "./masker.js";
import type { Frame } from "./json-stream-tokens.js";

/** A value held in the output: [out, outEnd) of the output, [raw, rawEnd) of the text as it came. */
interface Held {
  out: number;
  raw: number;
  outEnd: number;
  rawEnd: number;
  detect: DetectSpec | undefined;
  key: string;
  element: boolean;
  /** The container's key path (pointer rules). */
  path: string[];
}

export interface PairState {
  /** What the pair's name (a `name`/`Key` member, an entry's first element) makes of its values. */
  named: FieldAction | undefined;
  held: Held[];
  /** The held value being read; it ends at its container's next `,` or close. */
  open: Held | undefined;
}

export const newPair = (): PairState => ({ named: undefined, held: [], open: undefined });

export class PairHolds {
  /** The response as it came since the first value still held. */
  #raw = "";
  #count = 0;
  /** Where in the output the first value still held starts. */
  #firstOut = 0;

  /** Some value is held: nothing may be sent. */
  get holding(): boolean {
    return this.#count > 0;
  }

  /** `raw` went into the output (as it came, or masked). */
  add(raw: string): void {
    if (this.#count > 0) this.#raw += raw;
  }

  /** A value of `frame` starts at output offset `out` (everything before it already in the output). */
  start(frame: Frame, out: number, detect: DetectSpec | undefined, key: string, element: boolean, path: string[]): void {
    if (this.#count++ === 0) this.#firstOut = out;
    const held: Held = { out, raw: this.#raw.length, outEnd: out, rawEnd: this.#raw.length, detect, key, element, path };
    frame.pair!.held.push(held);
    frame.pair!.open = held;
  }

  /** `frame`'s held value, if one is being read, ends at output offset `out`. */
  end(frame: Frame, out: number): void {
    const held = frame.pair?.open;
    if (held === undefined) return;
    held.outEnd = out;
    held.rawEnd = this.#raw.length;
    frame.pair!.open = undefined;
  }

  /** Over `max` characters held: refused, since what is held may be a masked field's value. */
  check(outLength: number, max: number): void {
    if (this.#count > 0 && outLength - this.#firstOut > max) throw new RegateError("MASK_LINEAGE_UNKNOWN", "a name/value pair's value is larger than regate holds to mask");
  }

  /**
   * `frame` closes (the output `out` ends just before its closing bracket): its held values masked again as
   * its pair's field when it is one, at `depth` (its values' depth). Returns the output.
   */
  resolve(frame: Frame, out: string, masker: ResponseMasker, depth: number): string {
    const pair = frame.pair!;
    this.end(frame, out.length);
    const action = pair.named !== undefined && (frame.object || frame.index === 2) ? pair.named : undefined;
    for (let k = pair.held.length - 1; k >= 0; k--) {
      const h = pair.held[k]!;
      if (action !== undefined) out = out.slice(0, h.out) + masker.maskHeldValue(this.#raw.slice(h.raw, h.rawEnd), h.detect, action, h.key, h.element, depth, h.path) + out.slice(h.outEnd);
      this.#count--;
    }
    pair.held.length = 0;
    if (this.#count === 0) this.#raw = "";
    return out;
  }
}
