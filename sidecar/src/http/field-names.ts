// How a JSON key (or a name written as data) is compared with the field names of mask rules. One model
// field is written `card_number` by Django, Rails and pydantic, `cardNumber` by Jackson and GraphQL,
// `CardNumber` by .NET and AWS, `card-number` by JSON:API: a rule written one way must find it the others.

import { foldName } from "../mask/text-views.js";

/**
 * spelling: case and word separators (`_`, `-`, space, `.`) do not count (the default);
 * case: case does not count; exact: keys match as written (after folding look-alike and invisible characters).
 */
export type FieldNameMatching = "spelling" | "case" | "exact";

export const FIELD_NAME_MATCHINGS: readonly FieldNameMatching[] = ["spelling", "case", "exact"];

const SEPARATORS = /[-_ .]/g;

/**
 * The fold for `mode`. A key as a reader sees it first (NFKC, invisible characters dropped: `ｓｓｎ`, `s\u200bsn`
 * and `ssn\u0000` are all `ssn` on screen). Separators are dropped, not words split: `ssn` still differs
 * from `session` and `ssn_count`, and `card_number` from `cardnumbers`.
 */
export function fieldNameFold(mode: FieldNameMatching): (name: string) => string {
  if (mode === "exact") return foldName;
  if (mode === "case") return memo((name) => foldName(name).toLowerCase());
  return memo((name) => foldName(name).toLowerCase().replace(SEPARATORS, ""));
}

/** Keys up to this long are remembered, this many at a time: an API repeats its few keys in every record. */
const MEMO_MAX_CHARS = 64;
const MEMO_MAX_ENTRIES = 4096;

/** `fn` remembered for short names (a lookup costs less than the three passes of a fold). */
function memo<T>(fn: (name: string) => T): (name: string) => T {
  const seen = new Map<string, T>();
  return (name) => {
    if (name.length > MEMO_MAX_CHARS) return fn(name);
    let v = seen.get(name);
    if (v === undefined) {
      v = fn(name);
      if (seen.size >= MEMO_MAX_ENTRIES) seen.clear();
      seen.set(name, v);
    }
    return v;
  };
}

/** What a member's key says about a name/value pair object (see pairRole). */
export const enum PairRole {
  None,
  /** Its string value names the field: `name`, `Key`, `field`, … */
  Name,
  /** It holds the field's value: `value`, `Value`, `values`. */
  Value,
}

/**
 * Keys of an object that names a field by data (Kubernetes env `{"name","value"}`, AWS tags `{"Key","Value"}`,
 * `{"field"|"property"|"attribute"|"parameter", "value"}`), compared whatever their case and separators
 * (`field_name`, `PropertyName`). Under any deployer matching option: these are structure, not field names.
 */
const NAME_KEYS = new Set(["name", "key", "field", "fieldname", "property", "propertyname", "attribute", "attributename", "parameter", "parametername"]);
const VALUE_KEYS = new Set(["value", "values"]);

/** Longest key read as a pair's key, and longest string read as the field name a pair gives. */
const MAX_PAIR_KEY = 24;
export const MAX_PAIR_NAME = 128;

const foldStructure = fieldNameFold("spelling");

/** ASCII letters a pair's key can start with (n, k, f, p, a, v): most keys are told apart without a lookup. */
const PAIR_KEY_START = new Set([0x6e, 0x6b, 0x66, 0x70, 0x61, 0x76]);

const roleOf = memo((key: string): PairRole => {
  const k = foldStructure(key);
  return NAME_KEYS.has(k) ? PairRole.Name : VALUE_KEYS.has(k) ? PairRole.Value : PairRole.None;
});

export function pairRole(key: string): PairRole {
  const c = key.charCodeAt(0);
  if (key.length > MAX_PAIR_KEY || (c < 0x80 && !PAIR_KEY_START.has(c | 0x20))) return PairRole.None;
  return roleOf(key);
}
