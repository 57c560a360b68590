// Where `key=value` pairs sit in a response header value, for mask-headers.ts to mask the values whose keys
// name a field rule. A header value nests: a redirect's query carries a whole URL (`?next=https://h/p?name=…`,
// also percent-encoded), a Refresh holds `url=/p?name=…`, a parameter holds JSON (`state={"name":…}`), an
// OAuth `state` holds escaped JSON. Each pair is found wherever it starts, inside another pair's value too.

import type { FieldAction } from "./mask-actions.js";

/**
 * `name=value` or `name: value` pairs: query strings, parameters, `k=v; k=v` lists. A URL's scheme and its
 * host's port are no pairs: `https://host/p?name=…` and `host:8080/p?name=…` read as `https: //host/p?name=…`
 * and `host: 8080/p?name=…` swallowed the query's first parameter as their value, and it was never matched.
 */
const PAIR = /([^\s=:&;,?#"'<>/\\]+)[ \t]*(?:=|:(?!\/\/|\d{1,5}[/?]))[ \t]*("(?:[^"\\]|\\.)*"|[^\s&;,"<>#]*)/g;
/**
 * A JSON member's key, its quotes escaped any number of times (`{\"name\":…}` in a string) or single (a
 * Python dict's repr), `\uXXXX` escapes in it, and the colon.
 */
const JSON_KEY = /(\\*)(["'])((?:[^"'\\]|\\+u[0-9a-fA-F]{4}){1,256})\1\2[ \t]*:[ \t]*/g;
const KEY_ESCAPE = /\\+u([0-9a-fA-F]{4})/g;
/** A JSON scalar that is not a string: runs to the next delimiter. */
const JSON_SCALAR = /[^\s,}\]"'\\]*/y;
/** What marks the rest of a standard header's value as an upstream's own data: a URL's query, fragment or scheme. */
const NESTED = /[?#]|:\/\//;
/**
 * A label key's prefix that Kubernetes reserves for the keys it defines (`app.kubernetes.io/name` is an
 * application's name): only there does `prefix/name=web` read as one key. Elsewhere `example.com/name=Bob`
 * is a host and a path as much as a label, and is masked as the path's pair.
 */
const RESERVED_LABEL_PREFIX = /^(?:[a-z0-9-]+\.)*(?:kubernetes\.io|k8s\.io)$/i;
/** What may come before a label key in a header value: a list's separators (a URL's host follows `//`). */
const LABEL_START = new Set([..." \t,;{([\"'"].map((c) => c.charCodeAt(0)));

/**
 * Which pairs count: every one (custom headers, and the URLs of Location, Link, Refresh, Content-Location),
 * or, in the other standard headers, whose parameter names (`max-age`, `filename`, `realm`) are HTTP's, only
 * those in text the upstream wrote: after a `?`, `#` or `://` (a URL inside the value,
 * `error_uri="https://h/p?name=…"`), and inside a parameter's value, whether a token, a quoted string or an
 * RFC 8187 extended value (`filename="name=Alice.csv"`, `filename*=UTF-8''name%3DAlice`): a file name or a
 * description is built from the record as much as a URL is.
 */
export type PairScope = "all" | "nested";

/** A value to mask, by its span in the text, under the action of the key that named it. */
export interface PairValue {
  /** Where the pair starts (its key, or a JSON key's quote). */
  at: number;
  start: number;
  end: number;
  action: FieldAction;
}

export interface PairValues {
  values: PairValue[];
  /** A named value regate cannot bound (a JSON object or array under the key): the caller redacts whole. */
  unbounded: boolean;
}

/** The field action for a key at `at` in the text (undefined: no rule names it). */
export type KeyAction = (key: string) => FieldAction | undefined;

/**
 * A decoded spelling of a header value (percent escapes, HTML references) and the value as sent: `at` maps
 * a position of the decoded text to the one it came from. Where a nested scope's parameter values lie is
 * read off the value as sent, so that a decoded `;` or `"` cannot move a pair out of one.
 */
export interface Spelling {
  sent: string;
  at(i: number): number;
}

/**
 * The values of the pairs in `text` whose keys `actionOf` names. `pairAction` reads a label key whole (see
 * RESERVED_LABEL_PREFIX). With `json` false, JSON members are left to the caller (the value was masked as a
 * JSON document already). `spelling` says what `text` was decoded from (itself by default).
 */
export function pairValues(text: string, scope: PairScope, json: boolean, actionOf: KeyAction, pairAction: KeyAction, spelling?: Spelling): PairValues {
  const out: PairValues = { values: [], unbounded: false };
  const inScope = scopeOf(text, scope, spelling ?? { sent: text, at: (i) => i });
  if (!inScope) return out;
  PAIR.lastIndex = 0;
  for (let p = PAIR.exec(text); p; p = PAIR.exec(text)) {
    const valueAt = p.index + p[0].length - p[2]!.length;
    // The value may hold pairs of its own (a URL in a parameter): scanning goes on from its start.
    PAIR.lastIndex = valueAt > p.index ? valueAt : p.index + 1;
    if (!inScope(p.index)) continue;
    const action = keyAction(text, p.index, p[1]!, scope, actionOf, pairAction);
    if (!action) continue;
    let s = valueAt;
    let e = p.index + p[0].length;
    if (p[2]!.startsWith('"') && p[2]!.length >= 2) {
      s++;
      e--;
    }
    out.values.push({ at: p.index, start: s, end: e, action });
  }
  if (json) jsonMembers(text, inScope, actionOf, out);
  return out;
}

/**
 * A parameter's value in a header's own list: a quoted string's content (closed or running to the end), or a
 * token after `=` (an extended value's `charset'lang'` and escapes included, and HTML references: the `;`
 * of `&#61;` ends no parameter for a reader who decodes it).
 */
const PARAMETER_VALUE = /"((?:[^"\\]|\\.)*)(?:"|$)|=[ \t]*((?:&#?[A-Za-z0-9]{1,8};|[^;,\s"])+)/g;

/** Where pairs count in `text` (see PairScope); undefined: nowhere. */
function scopeOf(text: string, scope: PairScope, spelling: Spelling): ((i: number) => boolean) | undefined {
  if (scope === "all") return () => true;
  const tail = text.search(NESTED);
  const values: [number, number][] = [];
  PARAMETER_VALUE.lastIndex = 0;
  for (let v = PARAMETER_VALUE.exec(spelling.sent); v; v = PARAMETER_VALUE.exec(spelling.sent)) {
    const inner = v[1] ?? v[2]!;
    const end = v.index + v[0].length - (v[1] !== undefined && v[0].endsWith('"') && v[0].length > 1 ? 1 : 0);
    values.push([end - inner.length, end]);
  }
  if (tail < 0 && values.length === 0) return undefined;
  return (i) => {
    if (tail >= 0 && i >= tail) return true;
    const at = spelling.at(i);
    return values.some(([s, e]) => at >= s && at < e);
  };
}

/** JSON members (`"name":"Alice"`, `\"name\":\"Alice\"`) whose keys a rule names, where `inScope` says pairs count. */
function jsonMembers(text: string, inScope: (i: number) => boolean, actionOf: KeyAction, out: PairValues): void {
  JSON_KEY.lastIndex = 0;
  for (let k = JSON_KEY.exec(text); k; k = JSON_KEY.exec(text)) {
    if (!inScope(k.index)) continue;
    const action = actionOf(k[3]!.replace(KEY_ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))));
    if (!action) continue;
    const quote = `${k[1]!}${k[2]!}`;
    const at = k.index + k[0].length;
    const c = text[at];
    if (c === "{" || c === "[") {
      out.unbounded = true;
      return;
    }
    if (text.startsWith(quote, at)) {
      const end = closingQuote(text, at + quote.length, quote);
      if (end < 0) {
        out.unbounded = true;
        return;
      }
      out.values.push({ at: k.index, start: at + quote.length, end, action });
      continue;
    }
    JSON_SCALAR.lastIndex = at;
    const m = JSON_SCALAR.exec(text);
    if (m && m[0].length > 0) out.values.push({ at: k.index, start: at, end: at + m[0].length, action });
  }
}

/**
 * Where a string opened by `quote` ends: the next `quote` not itself escaped once more (an inner quote of
 * the string carries more backslashes than its delimiters). -1 if it never ends.
 */
function closingQuote(text: string, from: number, quote: string): number {
  for (let i = text.indexOf(quote, from); i >= 0; i = text.indexOf(quote, i + 1)) {
    if (i === from || text[i - 1] !== "\\") return i;
  }
  return -1;
}

/**
 * The field rule a pair named `key` at `at` falls under. A key after a reserved label prefix
 * (`app.kubernetes.io/name=web`, at a list's start or separator, in a header's own list rather than a URL
 * inside it) is read whole, as the same key is in a JSON body; any other `host/name=…` is a path's pair.
 */
function keyAction(text: string, at: number, key: string, scope: PairScope, actionOf: KeyAction, pairAction: KeyAction): FieldAction | undefined {
  const action = actionOf(key);
  if (action === undefined || at === 0 || text.charCodeAt(at - 1) !== 0x2f || scope !== "all") return action;
  const prefix = labelPrefix(text, at - 1);
  return prefix === undefined ? action : pairAction(`${prefix}/${key}`);
}

/** The reserved label key prefix ending at the `/` at `slash`, if the text before it is one. */
function labelPrefix(text: string, slash: number): string | undefined {
  let i = slash;
  while (i > 0 && slash - i <= 253) {
    const c = text.charCodeAt(i - 1) | 0x20;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e) i--;
    else break;
  }
  if (i > 0 && !LABEL_START.has(text.charCodeAt(i - 1))) return undefined;
  // Inside a URL's query or after a scheme, a `host/path` is a URL's, never a label list's.
  if (NESTED.test(text.slice(0, i))) return undefined;
  const prefix = text.slice(i, slash);
  return RESERVED_LABEL_PREFIX.test(prefix) ? prefix : undefined;
}
