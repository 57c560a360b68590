// Name/value pairs and entries for the streaming JSON masker (json-stream.ts), as masker.ts finds them in a
// whole document: `{"name": "ssn", "value": …}` in either order, `[["ssn", …]]`. A value read before its pair
// is known to name a masked field (`{"value": …, "name": "ssn"}`, an entry's second element until the
// entry proves to have two) is held, not sent, and kept as it came beside its output; when its container
// closes it is masked again from that text, or let go as it was written. The stream tells this file which
// member or element starts and which string ends; this file decides which of them name a field or are held.

import { RegateError } from "../errors.js";
import { mergeActions, type DetectSpec, type FieldAction } from "./mask-actions.js";
import type { ResponseMasker } from "./masker.js";
import { pairRole, PairRole } from "./field-names.js";
import { oasPairRole, oasParamSchema, paramSchema } from "./openapi-schemas.js";
import { decodedString, withAction, type Frame, type ValueRule } from "./json-stream-tokens.js";

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
  /** The last name that named a field (a parameter's schema `title` may spell it). */
  name?: string;
  held: Held[];
  /** The held value being read; it ends at its container's next `,` or close. */
  open: Held | undefined;
}

const newPair = (): PairState => ({ named: undefined, held: [], open: undefined });

export class PairHolds {
  /** The response as it came since the first value still held. */
  #raw = "";
  #count = 0;
  /** Where in the output the first value still held starts. */
  #firstOut = 0;
  /** The container whose pair the string value about to be read names (a `name` member, an entry's first element). */
  #nameFor: Frame | undefined;
  /** The value about to start is held: its key (a `value` member's, or "1"). */
  #holdNext: string | undefined;

  /** Some value is held: nothing may be sent. */
  get holding(): boolean {
    return this.#count > 0;
  }

  /** `raw` went into the output (as it came, or masked). */
  add(raw: string): void {
    if (this.#count > 0) this.#raw += raw;
  }

  /**
   * Member `key` of `object`, whose value's rule is `next`, under named field rules: a pair's name (its string
   * value is read for the field it names) or a pair's value (masked as the field when the name came first,
   * held until the object closes if not). The rule its value is read under.
   */
  member(object: Frame, key: string, next: ValueRule): ValueRule {
    const role = oasPairRole(object.rule.oas, key, pairRole(key));
    if (role === PairRole.None) {
      // A parameter's schema is its field's once its name is known: read so when it came first, held if not.
      if (next.whole !== undefined || !oasParamSchema(object.rule.oas, key)) return next;
      const named = object.pair?.named;
      if (named !== undefined) return { ...next, oas: paramSchema(named, object.pair!.name) };
      this.#holdNext = key;
      return next;
    }
    if (role === PairRole.Name) this.#nameFor = object;
    else if (next.whole !== undefined) return next;
    else if (object.pair?.named !== undefined) return withAction(next, object.pair.named);
    else this.#holdNext = key;
    return next;
  }

  /**
   * Element `array.index - 1` of `array`, whose rule is `next`, under named field rules: an entry's first
   * element may name a field; its second is then held until the entry proves to have two.
   */
  element(array: Frame, next: ValueRule): void {
    if (!array.entry || array.rule.whole !== undefined) return;
    if (array.index === 1) this.#nameFor = array;
    else if (array.index === 2 && array.pair?.named !== undefined && next.whole === undefined) this.#holdNext = "1";
  }

  /**
   * A value of `frame` starts with character `c` at output offset `out` (everything before it already in the
   * output), read with detectors `detect`; `path` is the stream's key path (pointer rules), or empty.
   */
  valueStarts(frame: Frame | undefined, c: number, out: number, detect: DetectSpec | undefined, path: readonly string[]): void {
    if (c !== 0x22) this.#nameFor = undefined;
    const key = this.#holdNext;
    if (key === undefined) return;
    this.#holdNext = undefined;
    // A value is held only as a member or element, never at the top.
    const f = frame!;
    const heldPath = path.length === 0 ? [] : path.slice(0, f.pathLen);
    const pair = (f.pair ??= newPair());
    if (this.#count++ === 0) this.#firstOut = out;
    const held: Held = { out, raw: this.#raw.length, outEnd: out, rawEnd: this.#raw.length, detect, key, element: !f.object, path: heldPath };
    pair.held.push(held);
    pair.open = held;
  }

  /** String `tok` (quotes included) ends as a value of `frame`: when it is `frame`'s pair's name, the field it names counts. */
  stringRead(frame: Frame | undefined, tok: string, escaped: boolean, masker: ResponseMasker): void {
    const named = this.#nameFor;
    if (named === undefined || named !== frame) return;
    this.#nameFor = undefined;
    const action = masker.pairAction(decodedString(tok, escaped));
    if (action === undefined) return;
    named.pair ??= newPair();
    named.pair.named = named.pair.named === undefined ? action : mergeActions(named.pair.named, action);
    named.pair.name = decodedString(tok, escaped);
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
      // A parameter's schema is read again as its field's schema, not masked whole as its value.
      const schema = !h.element && action !== undefined && oasParamSchema(frame.rule.oas, h.key) ? paramSchema(action, pair.name) : undefined;
      if (action !== undefined) out = out.slice(0, h.out) + masker.maskHeldValue(this.#raw.slice(h.raw, h.rawEnd), h.detect, action, h.key, h.element, depth, h.path, schema) + out.slice(h.outEnd);
      this.#count--;
    }
    pair.held.length = 0;
    if (this.#count === 0) this.#raw = "";
    return out;
  }
}
