// What a completed JSON token becomes under its value rule, for the streaming masker (json-stream.ts).
// Pure functions of the token's text: the scanner (json-stream-scan.ts) keeps the grammar's state, these keep
// the masking rules.

import type { MaskStrategy } from "../decision/types.js";
import { REDACTED } from "../mask/index.js";
import { mergeActions, mergeSpecs, type DetectSpec, type FieldAction } from "./mask-actions.js";
import type { PairState } from "./json-stream-pairs.js";
import type { ResponseMasker } from "./masker.js";
import { containerAllowed, keptScalar, type OasAt } from "./openapi-schemas.js";

/** What applies to the value about to start: replaced whole, or scanned with these detectors. */
export interface ValueRule {
  whole?: MaskStrategy;
  detect?: DetectSpec;
  /** Its place in an OpenAPI document (openapi-schemas.ts). */
  oas?: OasAt;
}

export interface Frame {
  object: boolean;
  rule: ValueRule;
  /** Elements seen so far (arrays); members, for the root object (whose first may make it OpenAPI). */
  index: number;
  /** Length of the key path while this container is the current one. */
  pathLen: number;
  /** An array that is an array's element: it may be an entry, `["ssn", "…"]`. */
  entry: boolean;
  /** A name/value pair or entry in the making (json-stream-pairs.ts); undefined until a member or element may be one. */
  pair: PairState | undefined;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

export function syntax(what: string): SyntaxError {
  return new SyntaxError(`JSON response body: ${what}`);
}

/** The rule of `parent`'s child `key` (a member name, or an array index); `path` is left at the child's key path. */
export function childRule(masker: ResponseMasker, path: string[], parent: Frame, key: string, named: boolean): ValueRule {
  const rule = parent.rule;
  if (rule.whole !== undefined) return rule;
  // The key path is kept only for pointer rules (setting an array's length is not free).
  const pointers = masker.hasPointers;
  if (pointers) path.length = parent.pathLen;
  if (!pointers && !masker.hasNamedFields) return rule;
  if (pointers) path.push(masker.foldKey(key));
  const step = rule.oas === undefined ? undefined : masker.oasChild(rule.oas, key, named);
  const action = mergeActions(masker.actionAt(key, named && step?.exempt !== true, path), step?.field);
  if (action?.whole !== undefined) return { whole: action.whole };
  const detect = mergeSpecs(rule.detect, action?.detect);
  const at = step?.at;
  return detect ? (at ? { detect, oas: at } : { detect }) : at ? { oas: at } : {};
}

/**
 * `rule` for a value that starts (`c`, its first character) or a scalar that ended (`value`, `string`): in a
 * field's schema, what is not structure gets the field's mask (openapi-schemas.ts).
 */
export function schemaRule(rule: ValueRule, c: number, value?: string, string = false): ValueRule {
  const at = rule.oas;
  if (at?.field === undefined) return rule;
  if (c === 0x7b || c === 0x5b) return containerAllowed(at, c === 0x5b) ? rule : withAction(rule, at.field);
  return keptScalar(at, value!, string) ? rule : withAction(rule, at.field);
}

/** `rule` with a pair's `action` on top (its field's value is masked whole, or scanned with its detectors too). */
export function withAction(rule: ValueRule, action: FieldAction): ValueRule {
  if (rule.whole !== undefined) return rule;
  if (action.whole !== undefined) return { whole: action.whole };
  const detect = mergeSpecs(rule.detect, action.detect);
  return detect ? { detect } : {};
}

/** The value of a string token `tok` (quotes included). */
export function decodedString(tok: string, escaped: boolean): string {
  // Escapes are checked (and decoded) by JSON.parse itself; without one the text is the value.
  return escaped ? (JSON.parse(tok) as string) : tok.slice(1, -1);
}

/** A key of `object` as it goes out: `tok` as it came, or the masked `key` re-encoded. */
export function keyText(masker: ResponseMasker, object: Frame, key: string, tok: string): string {
  const detect = object.rule.whole === undefined ? object.rule.detect : undefined;
  // Object keys can carry values too (maps keyed by email): they are scanned like strings.
  const masked = detect ? (masker.maskDetectedText(key, detect) ?? REDACTED) : key;
  return masked === key ? tok : JSON.stringify(masked);
}

/**
 * A string value as it goes out under `rule`; `depth` is how deep it is nested, `path` its key path (as
 * childRule keeps it). Under any field rule a string is read: it may carry JSON whose fields a rule names.
 */
export function stringText(masker: ResponseMasker, rule: ValueRule, tok: string, escaped: boolean, depth: number, path: readonly string[]): string {
  if (rule.whole !== undefined) return masker.wholeReplacement(decodedString(tok, escaped), rule.whole);
  if (!rule.detect && !masker.hasFieldRules) {
    if (escaped) decodedString(tok, escaped);
    return tok;
  }
  return masker.maskStringToken(tok, rule.detect, depth, path, true);
}

/**
 * A number, `true`, `false`, `null` or Python's `NaN`, `Infinity`, `-Infinity` (python-json.ts) as it goes out
 * under `rule`; anything else is a syntax error.
 */
export function literalText(masker: ResponseMasker, rule: ValueRule, raw: string): string {
  const keyword = raw === "true" || raw === "false" || raw === "null" || raw === "NaN" || raw === "Infinity" || raw === "-Infinity";
  if (!keyword && !NUMBER.test(raw)) throw syntax(`unexpected token ${raw.slice(0, 20)}`);
  if (rule.whole !== undefined && raw !== "null") return masker.wholeReplacement(raw, rule.whole);
  if (rule.whole === undefined && rule.detect && !keyword) {
    // A card number sent as a JSON number is still a card number; its text is judged exactly as sent.
    const masked = masker.maskDetectedText(raw, rule.detect);
    return masked === raw ? raw : JSON.stringify(masked);
  }
  return raw;
}
