// Response masking by field (name at any depth, or JSON pointer) and by value detectors: what bodies, event
// data and headers call, and what the streaming masker (json-stream.ts) reads the rules through. The walk over
// a whole JSON value is json-rewrite.ts.

import type { MaskRule, MaskStrategy } from "../decision/types.js";
import { RegateError } from "../errors.js";
import { detectedSpans, type DetectedSpan } from "./detected-text.js";
import { parseJsonOrPython } from "./python-json.js";
import type { DetectSpec, FieldAction } from "./mask-actions.js";
import { compileFieldRules, type NamedFieldRule } from "./mask-rule-set.js";
import { fieldNameFold, type FieldNameMatching } from "./field-names.js";
import { JsonRewriter } from "./json-rewrite.js";
import type { OasAt, OasStep } from "./openapi-schemas.js";

export type { NamedFieldRule } from "./mask-rule-set.js";

/**
 * Event data that is not JSON but carries nothing a field could hold: a blank keep-alive and the `[DONE]`
 * sentinel that OpenAI-style streams end with. Any other non-JSON data is refused under field rules.
 */
const EMPTY_EVENT_DATA = /^\s*(?:\[DONE\])?\s*$/;
const JSON_START = /^[ \t\n\r]*[[{"\-0-9tfn]/;

/**
 * Masks response values according to a decision's mask rules. A rule with `field` masks that field's value
 * whole (every scalar inside it, when it is an object or array); with `field` and `detector`, it masks what
 * the detector finds inside the field; with only `detector`, every string (and number, and object key) is
 * scanned. A field is a name matched at any depth, or a JSON pointer when it starts with "/" ("*" matches
 * any key or index). Rules naming only a Postgres `column` do not apply to HTTP.
 */
export class ResponseMasker {
  /** The rules, and the walk that applies them to a whole JSON value (json-rewrite.ts). */
  readonly #doc: JsonRewriter;
  readonly #namedRules: NamedFieldRule[];

  /** Field rules cannot be honoured on a body that is not JSON. */
  readonly hasFieldRules: boolean;

  private constructor(rules: readonly MaskRule[], key: Buffer | undefined, names: FieldNameMatching) {
    const compiled = compileFieldRules(rules, fieldNameFold(names));
    this.#doc = new JsonRewriter(compiled, key, names);
    this.#namedRules = compiled.namedRules;
    this.hasFieldRules = this.#doc.hasFieldRules;
  }

  /**
   * Undefined when no rule applies to an HTTP response. Field names and pointer tokens match keys whatever
   * their case and word separators (`card_number`, `cardNumber`, `Card-Number`), as field-names.ts folds
   * them; `names` keeps case-only or exact matching (`caseSensitive`, the older option, is `exact`).
   */
  static from(rules: readonly MaskRule[], key?: Buffer, opts: { caseSensitive?: boolean; names?: FieldNameMatching } = {}): ResponseMasker | undefined {
    const relevant = rules.filter((r) => r.field !== undefined || r.detector !== undefined);
    const names = opts.names ?? (opts.caseSensitive === true ? "exact" : "spelling");
    return relevant.length === 0 ? undefined : new ResponseMasker(relevant, key, names);
  }

  /**
   * Masks a JSON document by rewriting its text in place: only masked values (and keys) change, everything
   * else keeps its bytes, so numbers survive exactly (integers beyond 2^53 included) and every occurrence of
   * a duplicated key is masked. Throws SyntaxError when `text` is not JSON, RegateError when it is nested
   * deeper than regate inspects. Unchanged documents are returned as they came.
   */
  maskJsonText(text: string): string {
    // Validation first, so the scanner below can trust the syntax (Python's NaN is a literal to it).
    parseJsonOrPython(text);
    return this.#doc.rewrite(text, this.#doc.detect, 0, 0, []);
  }

  /** Masks detected values in plain text (detector rules only: fields cannot be found in text), base64 in it too. */
  maskPlainText(text: string): string {
    return this.#doc.maskText(text, this.#doc.detect) ?? "";
  }

  /**
   * An SSE event's data: JSON when it parses as JSON, text otherwise. Under field rules an event's data is
   * a document as a body is, and data that is not one whole JSON document is refused (RegateError), as a
   * non-JSON body is: a field split across events, or written as `ssn=...`, cannot be found.
   */
  maskEventData(data: string): string {
    // Most text cannot start a JSON value: no parse (and no thrown SyntaxError) for each such event.
    if (JSON_START.test(data)) {
      try {
        return this.maskJsonText(data);
      } catch (err) {
        if (!(err instanceof SyntaxError)) throw err;
      }
    }
    if (this.hasFieldRules && !EMPTY_EVENT_DATA.test(data)) {
      throw new RegateError("MASK_LINEAGE_UNKNOWN", "event data is not a JSON document, so field masks cannot apply to it");
    }
    return this.maskPlainText(data);
  }

  // What the streaming JSON masker (json-stream.ts) needs: the same rules, applied token by token.

  /** Detectors that apply to every string of the document. */
  get detect(): DetectSpec | undefined {
    return this.#doc.detect;
  }

  /** Some rule names a field by name (strings may carry JSON whose fields it names). */
  get hasNamedFields(): boolean {
    return this.#doc.names.size > 0;
  }

  /**
   * Some field rule runs detectors inside its field: one named, or one under any JSON pointer (those ending in
   * `*` or an index included, which namedRules leaves out). What a stream's joins read deltas for.
   */
  get hasFieldDetectors(): boolean {
    for (const a of this.#doc.names.values()) if (a.detect !== undefined) return true;
    return this.#doc.pointers.some((p) => p.action.detect !== undefined);
  }

  /** Every field rule with the name it gives, as written (pointers by their last token): for response headers. */
  get namedRules(): readonly NamedFieldRule[] {
    return this.#namedRules;
  }

  /** Some rule is a JSON pointer: the streaming masker keeps the path of folded keys. */
  get hasPointers(): boolean {
    return this.#doc.pointers.length > 0;
  }

  /** A key as rules compare it (field-names.ts). */
  foldKey(key: string): string {
    return this.#doc.fold(key);
  }

  /**
   * The action of the field `name` names when written as data: a pair's `name`/`Key` string, an entry's first
   * element, a query parameter's name (field-names.ts).
   */
  pairAction(name: string): FieldAction | undefined {
    return this.#doc.pairAction(name);
  }

  /**
   * `text`, a value of a pair or entry as it came (whitespace around it allowed) at `depth` and key path `path`
   * (its own key not yet on it), masked as `action`'s field on top of `detect`: what the streaming masker
   * writes once the pair is known, as a whole document's walk would.
   */
  maskHeldValue(text: string, detect: DetectSpec | undefined, action: FieldAction, key: string, element: boolean, depth: number, path: readonly string[], schema?: OasAt): string {
    return this.#doc.rewriteHeld(text, detect, action, key, element, depth, [...path], schema);
  }

  /** Member `key` (`member`) or an element one level below `at` in an OpenAPI document (openapi-schemas.ts). */
  oasChild(at: OasAt, key: string, member: boolean): OasStep {
    return this.#doc.oasChild(at, key, member);
  }

  /** The action for member `key` (`named`) or an array element, at `path` (folded keys, its own last). */
  actionAt(key: string, named: boolean, path: readonly string[]): FieldAction | undefined {
    return this.#doc.actionAt(key, named, path);
  }

  /**
   * A string token as it came (quotes and escapes included) at `depth` and key path `path` (folded keys,
   * as the streaming masker keeps them for pointer rules), under detectors `detect`: masked as a string of
   * a whole document is (JSON inside it included), or returned as it came. With `urlPairs`, `?ssn=…` in it names
   * a field as in a document; a header's value (header-base64.ts) leaves its parameters to mask-headers.ts.
   */
  maskStringToken(tok: string, detect: DetectSpec | undefined, depth: number, path: readonly string[], urlPairs = false): string {
    return this.#doc.rewrite(tok, detect, depth, 0, [...path], urlPairs);
  }

  /**
   * A whole JSON value at `depth` and key path `path` under detectors `detect`, masked as it would be inside a
   * document (the streaming masker hands over a container that may be text as byte values).
   */
  maskValueText(text: string, detect: DetectSpec | undefined, depth: number, path: readonly string[]): string {
    return this.#doc.rewrite(text, detect, depth, 0, [...path]);
  }

  /** Detected spans of `s` masked; null when a `null` strategy hit. */
  maskDetectedText(s: string, detect: DetectSpec | undefined): string | null {
    return this.#doc.maskDetected(s, detect);
  }

  /** The JSON text replacing a scalar (a string's value or a literal's text) masked whole. */
  wholeReplacement(value: string, strategy: MaskStrategy): string {
    return this.#doc.wholeReplacement(value, strategy);
  }

  /** A text value masked whole; null under the `null` strategy. */
  maskWhole(value: string, strategy: MaskStrategy): string | null {
    return this.#doc.maskWhole(value, strategy);
  }

  /** The spans of `s` that `detect` finds, each with its detector's replacement. */
  detectedSpans(s: string, detect: DetectSpec): DetectedSpan[] {
    return detectedSpans(s, detect, this.#doc.key);
  }
}
