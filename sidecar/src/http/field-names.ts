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
 * CloudFormation `{"ParameterKey","ParameterValue"}`, `{"field"|"property"|"attribute"|"parameter", "value"}`,
 * compact `{"k","v"}`), compared whatever their case and separators (`field_name`, `PropertyName`). Under any
 * deployer matching option: these are structure, not field names. `label`, `title` and `text` are not read
 * as names: `{"label": "Email", "value": "email"}` is a select option far more often than a record.
 */
const NAME_KEYS = new Set(["name", "key", "k", "field", "fieldname", "fieldkey", "property", "propertyname", "propertykey", "attribute", "attributename", "attributekey", "parameter", "parametername", "parameterkey"]);
/**
 * What holds the named field's value: `value`, its short and typed spellings (`val`, `v`, `stringValue`), the
 * name key's own (`ParameterValue`, `fieldValue`), and what audit logs and change histories keep beside the
 * field they name (Salesforce `OldValue`/`NewValue`, Zendesk `previous_value`, Jira `from`/`fromString`/
 * `to`/`toString`): each is that field's value at some time.
 */
const VALUE_KEYS = new Set([
  "value", "values", "val", "v", "stringvalue", "displayvalue",
  "fieldvalue", "propertyvalue", "attributevalue", "parametervalue",
  "oldvalue", "newvalue", "previousvalue", "from", "fromstring", "to", "tostring",
]);

/** Longest key read as a pair's key, and longest string read as the field name a pair gives. */
const MAX_PAIR_KEY = 24;
export const MAX_PAIR_NAME = 128;

const foldStructure = fieldNameFold("spelling");

/** ASCII letters (lowercased) a pair's key can start with: most keys are told apart without a lookup. */
const PAIR_KEY_START = new Set([...NAME_KEYS, ...VALUE_KEYS].map((k) => k.charCodeAt(0)));

const roleOf = memo((key: string): PairRole => {
  const k = foldStructure(key);
  return NAME_KEYS.has(k) ? PairRole.Name : VALUE_KEYS.has(k) ? PairRole.Value : PairRole.None;
});

export function pairRole(key: string): PairRole {
  const c = key.charCodeAt(0);
  if (key.length > MAX_PAIR_KEY || (c < 0x80 && !PAIR_KEY_START.has(c | 0x20))) return PairRole.None;
  return roleOf(key);
}

/**
 * How a key (or a name written as data) finds its rule in `names` (rule names folded by `fold`, `mode`'s).
 * Under `spelling` a dotted name is also a path written flat (OpenTelemetry and Datadog attributes `user.email`, Elasticsearch
 * `fields`, Java properties): each part after a dot is tried too, as `{"user": {"email": …}}` would be
 * found one level down. `email.verified` is still not `email`. `case` and `exact` keep the older matching.
 */
export function fieldNameLookup<T>(names: ReadonlyMap<string, T>, mode: FieldNameMatching, fold: (name: string) => string): (name: string) => T | undefined {
  if (mode !== "spelling") return (name) => names.get(fold(name));
  return (name) => {
    const found = names.get(fold(name));
    if (found !== undefined || names.size === 0) return found;
    for (let dot = name.indexOf("."); dot !== -1 && dot < name.length - 1; dot = name.indexOf(".", dot + 1)) {
      const part = names.get(fold(name.slice(dot + 1)));
      if (part !== undefined) return part;
    }
    return undefined;
  };
}
