// Response masking by field (name at any depth, or JSON pointer) and by value detectors.

import type { MaskRule, MaskStrategy } from "../decision/types.js";
import { RegateError } from "../errors.js";
import { applyStrategy, REDACTED } from "../mask/index.js";
import { detectedSpans, maskDetected, type DetectedSpan } from "./detected-text.js";
import { maskBase64Runs } from "./base64-runs.js";
import { bytesAsText, byteValuesAt, byteValuesText } from "./byte-arrays.js";
import { holdsJson, MAX_EMBEDDED, outerEdits } from "./embedded-json.js";
import { literalEnd, replaceScalars, skipWs, stringEnd, stringValue, type Scan } from "./json-scan.js";
import { parseJsonOrPython } from "./python-json.js";
import { MAX_DEPTH, mergeActions, mergeSpecs, type DetectSpec, type FieldAction } from "./mask-actions.js";
import { compileFieldRules, type NamedFieldRule, type Pointer } from "./mask-rule-set.js";
import { fieldNameFold, MAX_PAIR_NAME, pairRole, PairRole, type FieldNameMatching } from "./field-names.js";
import { schemaAt, SHALLOW } from "./mcp-json-schemas.js";
import { maskQueryPairs } from "./query-pairs.js";

export type { NamedFieldRule } from "./mask-rule-set.js";

/** A document being rewritten, with the key path to the cursor (folded keys; kept for pointer rules only). */
interface Walk extends Scan {
  path: string[];
  /** The keys (or "#" for an array element) of the document's first levels, for schemaAt. */
  shallow: string[];
  /** Inside a JSON Schema an MCP message carries (schemaAt): field names are property names, not values. */
  inSchema: boolean;
  /** The value at the cursor is an array's element (an array there may be an entry, `["ssn", "…"]`). */
  element: boolean;
  /** `name=value` pairs in its strings name fields (query-pairs.ts); not in a header's value, which mask-headers.ts reads. */
  urlPairs: boolean;
}

/** A value of a name/value pair or entry, walked before the pair was known to name a masked field. */
interface HeldValue {
  start: number;
  /** The walk's edits inside it: [e0, e1). */
  e0: number;
  e1: number;
  /** Detectors it was walked with. */
  detect: DetectSpec | undefined;
  key: string;
  element: boolean;
}

/** `text` with its edits (in order, not overlapping) applied; unchanged text as it came. */
function applyEdits(text: string, edits: Walk["edits"]): string {
  if (edits.length === 0) return text;
  let out = "";
  let pos = 0;
  for (const [start, end, replacement] of edits) {
    out += text.slice(pos, start) + replacement;
    pos = end;
  }
  return out + text.slice(pos);
}

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
  readonly #names: Map<string, FieldAction>;
  readonly #pointers: Pointer[];
  readonly #detect: DetectSpec | undefined;
  readonly #key: Buffer | undefined;
  readonly #fold: (name: string) => string;
  readonly #namedRules: NamedFieldRule[];

  /** Field rules cannot be honoured on a body that is not JSON. */
  readonly hasFieldRules: boolean;

  private constructor(rules: readonly MaskRule[], key: Buffer | undefined, names: FieldNameMatching) {
    this.#key = key;
    this.#fold = fieldNameFold(names);
    const compiled = compileFieldRules(rules, this.#fold);
    this.#names = compiled.names;
    this.#pointers = compiled.pointers;
    this.#namedRules = compiled.namedRules;
    this.#detect = compiled.detect;
    this.hasFieldRules = this.#names.size > 0 || this.#pointers.length > 0;
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
    return this.#rewrite(text, this.#detect, 0, 0, []);
  }

  /** Masks detected values in plain text (detector rules only: fields cannot be found in text), base64 in it too. */
  maskPlainText(text: string): string {
    return this.#notJson(text, this.#detect, 0, 0, [], true) ?? "";
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
    return this.#detect;
  }

  /** Some rule names a field by name (strings may carry JSON whose fields it names). */
  get hasNamedFields(): boolean {
    return this.#names.size > 0;
  }

  /** Every field rule with the name it gives, as written (pointers by their last token): for response headers. */
  get namedRules(): readonly NamedFieldRule[] {
    return this.#namedRules;
  }

  /** Some rule is a JSON pointer: the streaming masker keeps the path of folded keys. */
  get hasPointers(): boolean {
    return this.#pointers.length > 0;
  }

  /** A key as rules compare it (field-names.ts). */
  foldKey(key: string): string {
    return this.#fold(key);
  }

  /**
   * The action of the field `name` names when written as data: a pair's `name`/`Key` string, an entry's first
   * element, a query parameter's name (field-names.ts).
   */
  pairAction(name: string): FieldAction | undefined {
    return this.#names.size === 0 || name.length > MAX_PAIR_NAME ? undefined : this.#names.get(this.#fold(name));
  }

  /**
   * `text`, a value of a pair or entry as it came (whitespace around it allowed) at `depth` and key path `path`
   * (its own key not yet on it), masked as `action`'s field on top of `detect`: what the streaming masker
   * writes once the pair is known, as a whole document's walk would.
   */
  maskHeldValue(text: string, detect: DetectSpec | undefined, action: FieldAction, key: string, element: boolean, depth: number, path: readonly string[]): string {
    const walk: Walk = { text, pos: 0, edits: [], path: [...path], shallow: [], inSchema: false, element, urlPairs: true };
    this.#heldValue(walk, detect, action, key, depth, 0);
    return applyEdits(text, walk.edits);
  }

  /** The action for member `key` (`named`) or an array element, at `path` (folded keys, its own last). */
  actionAt(key: string, named: boolean, path: readonly string[]): FieldAction | undefined {
    return mergeActions(named ? this.#names.get(this.#fold(key)) : undefined, this.#pointers.length > 0 ? this.#pointerAction(path) : undefined);
  }

  /**
   * A string token as it came (quotes and escapes included) at `depth` and key path `path` (folded keys,
   * as the streaming masker keeps them for pointer rules), under detectors `detect`: masked as a string of
   * a whole document is (JSON inside it included), or returned as it came. With `urlPairs`, `?ssn=…` in it names
   * a field as in a document; a header's value (header-base64.ts) leaves its parameters to mask-headers.ts.
   */
  maskStringToken(tok: string, detect: DetectSpec | undefined, depth: number, path: readonly string[], urlPairs = false): string {
    return this.#rewrite(tok, detect, depth, 0, [...path], urlPairs);
  }

  /**
   * A whole JSON value at `depth` and key path `path` under detectors `detect`, masked as it would be inside a
   * document (the streaming masker hands over a container that may be text as byte values).
   */
  maskValueText(text: string, detect: DetectSpec | undefined, depth: number, path: readonly string[]): string {
    return this.#rewrite(text, detect, depth, 0, [...path]);
  }

  /** Detected spans of `s` masked; null when a `null` strategy hit. */
  maskDetectedText(s: string, detect: DetectSpec | undefined): string | null {
    return this.#maskDetected(s, detect);
  }

  /** The JSON text replacing a scalar (a string's value or a literal's text) masked whole. */
  wholeReplacement(value: string, strategy: MaskStrategy): string {
    return JSON.stringify(this.maskWhole(value, strategy));
  }

  /** A text value masked whole; null under the `null` strategy. */
  maskWhole(value: string, strategy: MaskStrategy): string | null {
    return applyStrategy(value, strategy, undefined, this.#key);
  }

  /** The spans of `s` that `detect` finds, each with its detector's replacement. */
  detectedSpans(s: string, detect: DetectSpec): DetectedSpan[] {
    return detectedSpans(s, detect, this.#key);
  }

  #rewrite(text: string, detect: DetectSpec | undefined, depth: number, embedded: number, path: string[], urlPairs = true): string {
    return applyEdits(text, this.#walk(text, detect, depth, embedded, path, urlPairs).edits);
  }

  /** The edits masking the JSON value `text`, whose key path is `path` (left as it was). */
  #walk(text: string, detect: DetectSpec | undefined, depth: number, embedded: number, path: string[], urlPairs: boolean): Walk {
    const walk: Walk = { text, pos: 0, edits: [], path, shallow: [], inSchema: false, element: false, urlPairs };
    this.#value(walk, detect, depth, embedded);
    return walk;
  }

  /** Strings need reading: a detector applies, or a field rule may name a key of JSON they carry. */
  #inspects(detect: DetectSpec | undefined): boolean {
    return detect !== undefined || this.hasFieldRules;
  }

  #value(scan: Walk, detect: DetectSpec | undefined, depth: number, embedded: number): void {
    if (depth > MAX_DEPTH) throw new RegateError("MASK_LINEAGE_UNKNOWN", "response is nested too deeply to mask");
    skipWs(scan);
    const c = scan.text.charCodeAt(scan.pos);
    if ((c === 0x7b || c === 0x5b) && this.#inspects(detect) && this.#byteValues(scan, detect, depth, embedded)) return;
    if (c === 0x7b) return this.#object(scan, detect, depth, embedded);
    if (c === 0x5b) return this.#array(scan, detect, depth, embedded);
    if (c === 0x22) {
      const start = scan.pos;
      const end = stringEnd(scan);
      if (this.#inspects(detect)) this.#stringAt(scan, start, end, detect, depth, embedded);
      return;
    }
    const start = scan.pos;
    const end = literalEnd(scan);
    if (!detect || c === 0x74 || c === 0x66 || c === 0x6e) return;
    // A card number sent as a JSON number is still a card number; its text is judged exactly as sent.
    const raw = scan.text.slice(start, end);
    const masked = this.#maskDetected(raw, detect);
    if (masked !== raw) scan.edits.push([start, end, JSON.stringify(masked)]);
  }

  /**
   * An object at the cursor. Under field rules it may name a field by data (field-names.ts): a member such
   * as `name` or `Key` whose string names a masked field makes its `value` members that field's value,
   * whichever comes first (`{"value": …, "name": "ssn"}` too). Values walked before the name was read
   * have their edits replaced once the object is whole.
   */
  #object(scan: Walk, detect: DetectSpec | undefined, depth: number, embedded: number): void {
    const pairs = this.#names.size > 0 && !scan.inSchema;
    let named: FieldAction | undefined;
    let held: HeldValue[] | undefined;
    scan.pos++;
    for (;;) {
      skipWs(scan);
      if (scan.text.charCodeAt(scan.pos) === 0x7d) break;
      const keyStart = scan.pos;
      const keyEnd = stringEnd(scan);
      const key = stringValue(scan.text, keyStart, keyEnd);
      // Object keys can carry values too (maps keyed by email): they are scanned like strings.
      if (detect) {
        const masked = this.#maskDetected(key, detect) ?? REDACTED;
        if (masked !== key) scan.edits.push([keyStart, keyEnd, JSON.stringify(masked)]);
      }
      skipWs(scan);
      scan.pos++; // ":"
      const role = pairs ? pairRole(key) : PairRole.None;
      if (role === PairRole.None) this.#child(scan, key, true, detect, depth, embedded);
      else {
        skipWs(scan);
        const start = scan.pos;
        const e0 = scan.edits.length;
        const action = this.#child(scan, key, true, detect, depth, embedded);
        if (role === PairRole.Name) named = mergeActions(named, this.#namedBy(scan.text, start, scan.pos));
        else if (action?.whole === undefined) (held ??= []).push({ start, e0, e1: scan.edits.length, detect: mergeSpecs(detect, action?.detect), key, element: false });
      }
      skipWs(scan);
      if (scan.text.charCodeAt(scan.pos) === 0x2c) scan.pos++;
    }
    scan.pos++;
    if (named && held) this.#remask(scan, held, named, depth, embedded);
  }

  /**
   * An array at the cursor. An array of two elements inside an array, the first a string naming a masked
   * field, is an entry (Python's dict items, `Object.entries`, URLSearchParams and Headers entries): its
   * second element is that field's value. `["en", "fr"]` names no field and is left alone.
   */
  #array(scan: Walk, detect: DetectSpec | undefined, depth: number, embedded: number): void {
    const entry = scan.element && this.#names.size > 0 && !scan.inSchema;
    let named: FieldAction | undefined;
    let second: HeldValue | undefined;
    let count = 0;
    scan.pos++;
    for (;;) {
      skipWs(scan);
      if (scan.text.charCodeAt(scan.pos) === 0x5d) break;
      const start = scan.pos;
      const e0 = scan.edits.length;
      const action = this.#child(scan, String(count), false, detect, depth, embedded);
      if (entry && count === 0) named = this.#namedBy(scan.text, start, scan.pos);
      else if (named && count === 1 && action?.whole === undefined) second = { start, e0, e1: scan.edits.length, detect: mergeSpecs(detect, action?.detect), key: "1", element: true };
      count++;
      skipWs(scan);
      if (scan.text.charCodeAt(scan.pos) === 0x2c) scan.pos++;
    }
    scan.pos++;
    if (named && second && count === 2) this.#remask(scan, [second], named, depth, embedded);
  }

  /** The action of the field the JSON string at [start, end) names, if it names one. */
  #namedBy(text: string, start: number, end: number): FieldAction | undefined {
    if (text.charCodeAt(start) !== 0x22 || end - start > MAX_PAIR_NAME + 2) return undefined;
    return this.pairAction(stringValue(text, start, end));
  }

  /** Values of a container at `depth` masked again as `action`'s field: their edits replaced, last first. */
  #remask(scan: Walk, held: readonly HeldValue[], action: FieldAction, depth: number, embedded: number): void {
    for (let k = held.length - 1; k >= 0; k--) {
      const h = held[k]!;
      const sub: Walk = { text: scan.text, pos: h.start, edits: [], path: scan.path, shallow: scan.shallow, inSchema: false, element: h.element, urlPairs: scan.urlPairs };
      this.#heldValue(sub, h.detect, action, h.key, depth + 1, embedded);
      scan.edits.splice(h.e0, h.e1 - h.e0, ...sub.edits);
    }
  }

  /** The value at the walk's cursor (at `depth`, member or element `key`) masked as `action`'s field on top of `detect`. */
  #heldValue(walk: Walk, detect: DetectSpec | undefined, action: FieldAction, key: string, depth: number, embedded: number): void {
    if (action.whole !== undefined) return replaceScalars(walk, (value) => this.wholeReplacement(value, action.whole!), depth);
    const usePointers = this.#pointers.length > 0;
    if (usePointers) walk.path.push(this.#fold(key));
    try {
      this.#value(walk, mergeSpecs(detect, action.detect), depth, embedded);
    } finally {
      if (usePointers) walk.path.pop();
    }
  }

  /** The action it applied, if any. */
  #child(scan: Walk, key: string, named: boolean, detect: DetectSpec | undefined, depth: number, embedded: number): FieldAction | undefined {
    const usePointers = this.#pointers.length > 0;
    if (usePointers) scan.path.push(this.#fold(key));
    const schema = !scan.inSchema && embedded === 0 && depth < SHALLOW && this.#names.size > 0 && schemaAt(scan.shallow, depth, named ? key : "#");
    if (schema) scan.inSchema = true;
    try {
      const action = mergeActions(named && !scan.inSchema ? this.#names.get(this.#fold(key)) : undefined, usePointers ? this.#pointerAction(scan.path) : undefined);
      if (action?.whole !== undefined) replaceScalars(scan, (value) => this.wholeReplacement(value, action.whole!), depth + 1);
      else {
        scan.element = !named;
        this.#value(scan, mergeSpecs(detect, action?.detect), depth + 1, embedded);
      }
      return action;
    } finally {
      if (usePointers) scan.path.pop();
      if (schema) scan.inSchema = false;
    }
  }

  #pointerAction(path: readonly string[]): FieldAction | undefined {
    let action: FieldAction | undefined;
    for (const p of this.#pointers) {
      if (p.tokens.length !== path.length) continue;
      let ok = true;
      for (let i = 0; i < path.length && ok; i++) ok = p.tokens[i] === "*" || p.tokens[i] === path[i];
      if (ok) action = mergeActions(action, p.action);
    }
    return action;
  }

  /**
   * The string token at [start, end) of the walk's text. JSON carried inside it (MCP tool results put their
   * payload in `content[].text`) is masked as a document of its own, and its edits are written into the
   * token as it was written (embedded-json.ts): characters no mask changed keep their escapes. A string
   * holding a JSON string (encoded twice) is followed as well: it may hold an object in turn. The embedded
   * document sits at the string's key path, so a JSON pointer reads through it (`/data/email` finds the
   * email of `{"data": "{\"email\": ...}"}`), as a field name does.
   */
  #stringAt(scan: Walk, start: number, end: number, detect: DetectSpec | undefined, depth: number, embedded: number): void {
    const s = stringValue(scan.text, start, end);
    if (holdsJson(s, embedded)) {
      const inner = this.#walk(s, detect, depth + 1, embedded + 1, scan.path, scan.urlPairs);
      for (const edit of outerEdits(scan.text, start, end, s.length, inner.edits)) scan.edits.push(edit);
      return;
    }
    const masked = this.#notJson(s, detect, depth, embedded, scan.path, scan.urlPairs);
    if (masked !== s) scan.edits.push([start, end, JSON.stringify(masked)]);
  }

  /**
   * Text carried as byte values (byte-arrays.ts) at the walk's position: masked as a string holding it would
   * be, and written back as bytes when a mask changed it. False, with nothing read, when the value is not such.
   */
  #byteValues(scan: Walk, detect: DetectSpec | undefined, depth: number, embedded: number): boolean {
    const found = byteValuesAt(scan.text, scan.pos);
    if (found === undefined) return false;
    // An array whose values are all 48-57 spells only digits: far more often a series (temperatures, ages,
    // scores) than a Buffer of a number, and 1 in 10 of those of 13-19 values passes the card check. Read as
    // the numbers it holds, not as text. (A Buffer's bytes in an object, `{"0": ...}`, are still text.)
    if (scan.text.charCodeAt(scan.pos) === 0x5b && found.bytes.every((b) => b >= 0x30 && b <= 0x39)) return false;
    const start = scan.pos;
    scan.pos = found.end;
    const { text, encoding } = bytesAsText(found.bytes);
    // No refusal here at the limit: byte values there are read as a string there is (detectors over the
    // text; JSON or base64 in it, which would need a level more, refused by #string). Refusing every array
    // of four small integers refused a tool result holding a colour, or a token whose claims hold a version.
    const masked = this.#string(text, detect, depth + 1, embedded + 1, scan.path, scan.urlPairs);
    if (masked === null) scan.edits.push([start, found.end, "null"]);
    else if (masked !== text) scan.edits.push([start, found.end, byteValuesText(masked, encoding, scan.text.charCodeAt(start) === 0x7b)]);
    return true;
  }

  /** Text found in a string (decoded from base64): masked as a string value is; null when nulled. */
  #string(s: string, detect: DetectSpec | undefined, depth: number, embedded: number, path: string[], urlPairs: boolean): string | null {
    if (holdsJson(s, embedded)) return this.#rewrite(s, detect, depth + 1, embedded + 1, path, urlPairs);
    return this.#notJson(s, detect, depth, embedded, path, urlPairs);
  }

  /** A string that holds no JSON: detectors over it, then the base64 in it (what they masked is no longer base64). */
  #notJson(s: string, detect: DetectSpec | undefined, depth: number, embedded: number, path: string[], urlPairs: boolean): string | null {
    // `?ssn=…` in a URL names the field as a key would: its value is masked as the field's.
    const paired = !urlPairs || this.#names.size === 0 || !s.includes("=") ? s : maskQueryPairs(s, (name) => this.pairAction(name), (value, action) => this.#maskAs(value, action, detect));
    const masked = this.#maskDetected(paired, detect);
    if (masked === null) return null;
    // Base64 of readable text (a JWT's payload, a raw mail message) is masked as that text, a level deeper,
    // whether it is the whole string or a run in it (`Bearer <jwt>`, `#id_token=<jwt>&state=…`).
    return maskBase64Runs(masked, (text) => {
      if (embedded >= MAX_EMBEDDED) throw new RegateError("MASK_LINEAGE_UNKNOWN", "values are encoded in strings deeper than regate masks");
      return this.#string(text, detect, depth + 1, embedded + 1, path, urlPairs);
    });
  }

  /** A text value masked as `action`'s field would be, on top of `detect`. */
  #maskAs(value: string, action: FieldAction, detect: DetectSpec | undefined): string | null {
    return action.whole !== undefined ? this.maskWhole(value, action.whole) : this.#maskDetected(value, mergeSpecs(detect, action.detect));
  }

  #maskDetected(s: string, detect: DetectSpec | undefined): string | null {
    return maskDetected(s, detect, this.#key);
  }
}
