// The whole-document walk behind ResponseMasker (masker.ts): a JSON value's text read once, each masked value
// (or key) an edit, everything else kept as it came. Containers that name fields by data are walked by
// json-rewrite-pairs.ts, strings (and what they carry) by json-rewrite-strings.ts; this file holds the rules
// they look up and the dispatch between them.

import type { MaskStrategy } from "../decision/types.js";
import { RegateError } from "../errors.js";
import { applyStrategy } from "../mask/index.js";
import { maskDetected } from "./detected-text.js";
import { literalEnd, replaceScalars, skipWs, stringEnd, stringValue, type Scan } from "./json-scan.js";
import { MAX_DEPTH, mergeActions, mergeSpecs, type DetectSpec, type FieldAction } from "./mask-actions.js";
import type { FieldRuleSet, Pointer } from "./mask-rule-set.js";
import { fieldNameFold, fieldNameLookup, MAX_PAIR_NAME, type FieldNameMatching } from "./field-names.js";
import { schemaAt, SHALLOW } from "./mcp-json-schemas.js";
import { containerAllowed, keptScalar, oasChild, openApiRoot, openApiRootMember, type OasAt, type OasStep } from "./openapi-schemas.js";
import { walkArray, walkObject } from "./json-rewrite-pairs.js";
import { byteValues, notJson, stringAt } from "./json-rewrite-strings.js";

/** A document being rewritten, with the key path to the cursor (folded keys; kept for pointer rules only). */
export interface Walk extends Scan {
  path: string[];
  /** The keys (or "#" for an array element) of the document's first levels, for schemaAt. */
  shallow: string[];
  /** Inside a JSON Schema an MCP message carries (schemaAt): field names are property names, not values. */
  inSchema: boolean;
  /** The value at the cursor's place in an OpenAPI document (openapi-schemas.ts); undefined elsewhere. */
  oas: OasAt | undefined;
  /** The value at the cursor is an array's element (an array there may be an entry, `["ssn", "…"]`). */
  element: boolean;
  /** `name=value` pairs in its strings name fields (query-pairs.ts); not in a header's value, which mask-headers.ts reads. */
  urlPairs: boolean;
  /** Where containers a pair's value stepped over end (json-rewrite-pairs.ts): stepped over again, one lookup. */
  ends?: Map<number, number>;
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

/** Whether `text` is a JSON object whose first member says it is an OpenAPI document (openApiRootMember). */
function openApiText(text: string): boolean {
  const scan: Scan = { text, pos: 0, edits: [] };
  skipWs(scan);
  if (text.charCodeAt(scan.pos) !== 0x7b) return false;
  scan.pos++;
  skipWs(scan);
  if (text.charCodeAt(scan.pos) !== 0x22) return false;
  const keyStart = scan.pos;
  const key = stringValue(text, keyStart, stringEnd(scan));
  if (key !== "openapi" && key !== "swagger") return false;
  skipWs(scan);
  scan.pos++; // ":"
  skipWs(scan);
  if (text.charCodeAt(scan.pos) !== 0x22) return false;
  const start = scan.pos;
  return openApiRootMember(key, stringValue(text, start, stringEnd(scan)));
}

/**
 * The field's action when the value at the cursor, at `at` in a field's schema, is not structure (a scalar
 * failing its check, a container where a scalar belongs); `walk.oas` is left at what its members need.
 */
function schemaLeaf(walk: Walk, at: OasAt | undefined): FieldAction | undefined {
  if (at?.field === undefined) return undefined;
  skipWs(walk);
  const t = walk.text;
  const start = walk.pos;
  const c = t.charCodeAt(start);
  if (c === 0x7b || c === 0x5b) return containerAllowed(at, c === 0x5b) ? undefined : ((walk.oas = undefined), at.field);
  walk.oas = undefined;
  const probe: Scan = { text: t, pos: start, edits: [] };
  const kept = c === 0x22 ? keptScalar(at, stringValue(t, start, stringEnd(probe)), true) : keptScalar(at, t.slice(start, literalEnd(probe)), false);
  return kept ? undefined : at.field;
}

/** A decision's compiled mask rules and the walk that applies them to JSON text. */
export class JsonRewriter {
  /** Folded field name -> action, matched at any depth. */
  readonly names: Map<string, FieldAction>;
  readonly pointers: Pointer[];
  /** Detectors that apply to every string of the document. */
  readonly detect: DetectSpec | undefined;
  readonly key: Buffer | undefined;
  /** How keys are compared (field-names.ts). */
  readonly fold: (name: string) => string;
  /** The action of the rule a key names, as fold compares them (a dotted key's last parts too: field-names.ts). */
  readonly #named: (name: string) => FieldAction | undefined;
  /** Field rules cannot be honoured on a body that is not JSON. */
  readonly hasFieldRules: boolean;

  constructor(rules: FieldRuleSet, key: Buffer | undefined, matching: FieldNameMatching) {
    this.names = rules.names;
    this.pointers = rules.pointers;
    this.detect = rules.detect;
    this.key = key;
    this.fold = fieldNameFold(matching);
    this.#named = fieldNameLookup(rules.names, matching, this.fold);
    this.hasFieldRules = this.names.size > 0 || this.pointers.length > 0;
  }

  /** The JSON value `text` at `depth` and key path `path` (walked in place, left as it was) masked. */
  rewrite(text: string, detect: DetectSpec | undefined, depth: number, embedded: number, path: string[], urlPairs = true): string {
    return applyEdits(text, this.walk(text, detect, depth, embedded, path, urlPairs).edits);
  }

  /** The edits masking the JSON value `text`, whose key path is `path` (left as it was). */
  walk(text: string, detect: DetectSpec | undefined, depth: number, embedded: number, path: string[], urlPairs: boolean): Walk {
    const walk: Walk = { text, pos: 0, edits: [], path, shallow: [], inSchema: false, oas: undefined, element: false, urlPairs };
    if (depth === 0 && embedded === 0 && this.names.size > 0 && openApiText(text)) walk.oas = openApiRoot();
    this.#value(walk, detect, depth, embedded);
    return walk;
  }

  /**
   * `text`, a pair's or entry's value as it came, masked as `action`'s field (ResponseMasker.maskHeldValue);
   * `schema`: it is that field's schema in an OpenAPI document (a parameter's), read as one.
   */
  rewriteHeld(text: string, detect: DetectSpec | undefined, action: FieldAction, key: string, element: boolean, depth: number, path: string[], schema?: OasAt): string {
    const walk: Walk = { text, pos: 0, edits: [], path, shallow: [], inSchema: false, oas: schema, element, urlPairs: true };
    if (schema !== undefined) this.#heldSchema(walk, detect, key, depth);
    else this.heldValue(walk, detect, action, key, depth, 0);
    return applyEdits(text, walk.edits);
  }

  /** The action of the field `name` names when written as data (field-names.ts). */
  pairAction(name: string): FieldAction | undefined {
    return this.names.size === 0 || name.length > MAX_PAIR_NAME ? undefined : this.#named(name);
  }

  /** Member `key` (`member`) or an element one level below `at` in an OpenAPI document. */
  oasChild(at: OasAt, key: string, member: boolean): OasStep {
    return oasChild(at, key, member, this.#named);
  }

  /** The action for member `key` (`named`) or an array element, at `path` (folded keys, its own last). */
  actionAt(key: string, named: boolean, path: readonly string[]): FieldAction | undefined {
    return mergeActions(named ? this.#named(key) : undefined, this.pointers.length > 0 ? this.#pointerAction(path) : undefined);
  }

  #pointerAction(path: readonly string[]): FieldAction | undefined {
    let action: FieldAction | undefined;
    for (const p of this.pointers) {
      if (p.tokens.length !== path.length) continue;
      let ok = true;
      for (let i = 0; i < path.length && ok; i++) ok = p.tokens[i] === "*" || p.tokens[i] === path[i];
      if (ok) action = mergeActions(action, p.action);
    }
    return action;
  }

  /** Detected spans of `s` masked; null when a `null` strategy hit. */
  maskDetected(s: string, detect: DetectSpec | undefined): string | null {
    return maskDetected(s, detect, this.key);
  }

  /** A text value masked whole; null under the `null` strategy. */
  maskWhole(value: string, strategy: MaskStrategy): string | null {
    return applyStrategy(value, strategy, undefined, this.key);
  }

  /** The JSON text replacing a scalar (a string's value or a literal's text) masked whole. */
  wholeReplacement(value: string, strategy: MaskStrategy): string {
    return JSON.stringify(this.maskWhole(value, strategy));
  }

  /** Strings need reading: a detector applies, or a field rule may name a key of JSON they carry. */
  #inspects(detect: DetectSpec | undefined): boolean {
    return detect !== undefined || this.hasFieldRules;
  }

  #value(scan: Walk, detect: DetectSpec | undefined, depth: number, embedded: number): void {
    if (depth > MAX_DEPTH) throw new RegateError("MASK_LINEAGE_UNKNOWN", "response is nested too deeply to mask");
    skipWs(scan);
    const c = scan.text.charCodeAt(scan.pos);
    if ((c === 0x7b || c === 0x5b) && this.#inspects(detect) && byteValues(this, scan, detect, depth, embedded)) return;
    if (c === 0x7b) return walkObject(this, scan, detect, depth, embedded);
    if (c === 0x5b) return walkArray(this, scan, detect, depth, embedded);
    if (c === 0x22) {
      const start = scan.pos;
      const end = stringEnd(scan);
      if (this.#inspects(detect)) stringAt(this, scan, start, end, detect, depth, embedded);
      return;
    }
    const start = scan.pos;
    const end = literalEnd(scan);
    if (!detect || c === 0x74 || c === 0x66 || c === 0x6e) return;
    // A card number sent as a JSON number is still a card number; its text is judged exactly as sent.
    const raw = scan.text.slice(start, end);
    const masked = this.maskDetected(raw, detect);
    if (masked !== raw) scan.edits.push([start, end, JSON.stringify(masked)]);
  }

  /**
   * A member (`named`) or element `key` at the cursor, one level below `depth`. The action it applied, if any.
   * `pair`: the action of the field a name/value pair names (json-rewrite-pairs.ts), applied unless the
   * member's own rule masks it whole.
   */
  child(scan: Walk, key: string, named: boolean, detect: DetectSpec | undefined, depth: number, embedded: number, pair?: FieldAction, at?: OasAt): FieldAction | undefined {
    const usePointers = this.pointers.length > 0;
    if (usePointers) scan.path.push(this.fold(key));
    const schema = !scan.inSchema && embedded === 0 && depth < SHALLOW && this.names.size > 0 && schemaAt(scan.shallow, depth, named ? key : "#");
    if (schema) scan.inSchema = true;
    const oas = scan.oas;
    // `at`: the context a parameter's schema takes once the parameter names a field (json-rewrite-pairs.ts).
    const step = oas === undefined ? undefined : at !== undefined ? { at, exempt: false, field: undefined } : oasChild(oas, key, named, this.#named);
    try {
      let own = mergeActions(named && !scan.inSchema && step?.exempt !== true ? this.#named(key) : undefined, usePointers ? this.#pointerAction(scan.path) : undefined);
      if (step !== undefined) {
        scan.oas = step.at;
        own = mergeActions(own, step.field ?? schemaLeaf(scan, step.at));
      }
      const action = pair === undefined || own?.whole !== undefined ? own : pair.whole !== undefined ? pair : mergeActions(own, pair);
      if (action?.whole !== undefined) replaceScalars(scan, (value) => this.wholeReplacement(value, action.whole!), depth + 1);
      else {
        scan.element = !named;
        this.#value(scan, mergeSpecs(detect, action?.detect), depth + 1, embedded);
      }
      return action;
    } finally {
      if (usePointers) scan.path.pop();
      if (schema) scan.inSchema = false;
      scan.oas = oas;
    }
  }

  /** The schema at the walk's cursor (at `depth`, member `key`), read at `walk.oas`: a field's schema (rewriteHeld). */
  #heldSchema(walk: Walk, detect: DetectSpec | undefined, key: string, depth: number): void {
    const usePointers = this.pointers.length > 0;
    if (usePointers) walk.path.push(this.fold(key));
    try {
      const action = schemaLeaf(walk, walk.oas);
      if (action?.whole !== undefined) replaceScalars(walk, (value) => this.wholeReplacement(value, action.whole!), depth);
      else this.#value(walk, mergeSpecs(detect, action?.detect), depth, 0);
    } finally {
      if (usePointers) walk.path.pop();
    }
  }

  /** The value at the walk's cursor (at `depth`, member or element `key`) masked as `action`'s field on top of `detect`. */
  heldValue(walk: Walk, detect: DetectSpec | undefined, action: FieldAction, key: string, depth: number, embedded: number): void {
    if (action.whole !== undefined) return replaceScalars(walk, (value) => this.wholeReplacement(value, action.whole!), depth);
    const usePointers = this.pointers.length > 0;
    if (usePointers) walk.path.push(this.fold(key));
    try {
      this.#value(walk, mergeSpecs(detect, action.detect), depth, embedded);
    } finally {
      if (usePointers) walk.path.pop();
    }
  }

  /** Plain text (no JSON around it) masked as a string value holding no JSON is; null when nulled. */
  maskText(s: string, detect: DetectSpec | undefined): string | null {
    return notJson(this, s, detect, 0, 0, [], true);
  }
}
