// Response headers under a decision's mask rules: an upstream puts record values in headers too (a Location
// with `?email=`, a download named after an SSN, an `X-Customer-Email`), and the agent reads them all.

import type { OutgoingHttpHeaders } from "node:http";
import { RegateError } from "../errors.js";
import { DETECTOR_NAMES, findMatches, REDACTED } from "../mask/index.js";
import { looksLikeJson } from "./body.js";
import { addDetector, mergeActions, mergeSpecs, type DetectSpec, type FieldAction } from "./mask-actions.js";
import type { ResponseMasker } from "./masker.js";
import { applyEdits as applyAll, decodedView, hasEscape, identityView, sentSpan, type Edit, type View } from "./percent-view.js";
import { ruleInName, wordsOf } from "./header-name-words.js";
import { isStandard, URL_HEADERS } from "./standard-headers.js";
import { maskHeaderBase64 } from "./header-base64.js";
import { maskBase64Runs } from "./base64-runs.js";
import { pairValues, type PairScope, type PairValues } from "./header-pairs.js";
import { decodeLayer, decodedViews } from "../mask/text-views.js";

/** What a header value may hold (Node refuses anything else); a masked value outside it is redacted whole. */
const HEADER_SAFE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** How many layers of escapes and references are decoded before regate stops looking (and redacts what it still finds). */
const MAX_LAYERS = 12;
/** An HTML character reference a reader decodes (mask/text-views.ts reads the same ones). */
const REFERENCE = /&(?:#[xX]?[0-9A-Fa-f]|[A-Za-z]{2,8};)/;
/** Anything left to decode: a %XX escape or a reference. */
const ENCODED = /%[0-9A-Fa-f]{2}|&(?:#[xX]?[0-9A-Fa-f]|[A-Za-z]{2,8};)/;

interface HeaderMasking {
  masker: ResponseMasker;
  /** Each field rule's name as its words run together (see wordsOf), with what it does; and the longest. */
  rules: Map<string, FieldAction>;
  longestRule: number;
  /** Header and parameter names already matched against the rules (null: no rule). */
  names: Map<string, FieldAction | null>;
  detect: DetectSpec | undefined;
  /**
   * What a short `name: value` became (null: dropped). Masking a header depends only on its name, its value
   * and this masker (every strategy is deterministic within the process: mask/strategies.ts), and an
   * upstream sends the same Content-Type, Server or Cache-Control on every answer: each is scanned once.
   */
  seen: Map<string, string | null>;
}

/** Longest `name` + `value` whose result is kept, and how many are kept before the map starts over. */
const SEEN_MAX_CHARS = 256;
const SEEN_MAX_ENTRIES = 512;

/** Names longer than this are matched each time rather than remembered; this many are remembered. */
const NAME_MEMO_CHARS = 128;
const NAME_MEMO_ENTRIES = 1024;

/** The field rule a header or parameter name matches (header-name-words.ts), remembered per name. */
function actionFor(m: HeaderMasking, name: string): FieldAction | undefined {
  if (m.rules.size === 0) return undefined;
  const known = m.names.get(name);
  if (known !== undefined) return known ?? undefined;
  const action = ruleInName(m.rules, m.longestRule, name);
  if (name.length <= NAME_MEMO_CHARS) {
    if (m.names.size >= NAME_MEMO_ENTRIES) m.names.clear();
    m.names.set(name, action ?? null);
  }
  return action;
}

/**
 * The detectors a header is scanned with: the decision's, and under field rules every other one too, with
 * `redact`. In a body regate can tell which field a value sits in and leaves unnamed ones to the policy; a
 * header value is text built from the record (a file name, a redirect), where the field a value came from
 * cannot be told, and a non-JSON body under field rules would have been refused. Headers cannot be refused
 * one by one without breaking the response, so the masked value is looked for instead: over-masking beats
 * leaking, and the detectors' checksums keep ids and dates out of it.
 */
function headerDetectors(masker: ResponseMasker): DetectSpec | undefined {
  if (!masker.hasFieldRules) return masker.detect;
  let extra: DetectSpec | undefined;
  for (const d of DETECTOR_NAMES) if (!masker.detect?.strategy.has(d)) extra = addDetector(extra, d, "redact");
  return mergeSpecs(masker.detect, extra);
}

const prepared = new WeakMap<ResponseMasker, HeaderMasking>();

function prepare(masker: ResponseMasker): HeaderMasking {
  let p = prepared.get(masker);
  if (!p) {
    const rules = new Map<string, FieldAction>();
    let longestRule = 0;
    for (const r of masker.namedRules) {
      const name = wordsOf(r.name).join("");
      if (name === "") continue;
      rules.set(name, mergeActions(rules.get(name), r.action)!);
      longestRule = Math.max(longestRule, name.length);
    }
    p = { masker, rules, longestRule, names: new Map(), detect: headerDetectors(masker), seen: new Map() };
    prepared.set(masker, p);
  }
  return p;
}

/**
 * Masks response headers in place under a decision's mask rules and returns how many it changed or dropped.
 * For each header:
 *  - a name that holds a detected value (header names may be `X-123-45-6789`) drops the header;
 *  - a name matching a field rule (header-name-words.ts ruleInName) masks the value as that field's value;
 *  - a JSON value is masked as a JSON document;
 *  - `name=value` / `name: value` pairs whose name matches a field rule have their value masked (in
 *    custom headers and in the URLs of standard ones);
 *  - detectors run over the value as sent and percent-decoded, each hit masked in place;
 *  - a value encoded more than once that still holds a hit when fully decoded is redacted whole.
 * Content-Length is left alone: it frames the body, and regate recomputes it wherever it rewrites one. So is
 * Mcp-Session-Id, which the client must send back as it came.
 * A `null` strategy leaves the header present and empty.
 */
export function maskResponseHeaders(headers: OutgoingHttpHeaders, masker: ResponseMasker): number {
  const m = prepare(masker);
  let changed = 0;
  for (const [name, value] of Object.entries(headers)) {
    // An MCP session id is a token the client sends back byte for byte: masked (a UUID's digits can read as a
    // card number), it names no session and the server answers 404. regate keeps it as issued (mcp-sessions.ts).
    if (value === undefined || name === "content-length" || name === "mcp-session-id") continue;
    // Header names are tokens (no newline), so the key names the pair unambiguously.
    const key = typeof value === "string" && name.length + value.length <= SEEN_MAX_CHARS ? `${name}\n${value}` : undefined;
    const known = key === undefined ? undefined : m.seen.get(key);
    if (known !== undefined) {
      if (known === value) continue;
      if (known === null) delete headers[name];
      else headers[name] = known;
      changed++;
      continue;
    }
    const masked = maskHeader(m, headers, name, value);
    if (masked !== value) changed++;
    if (key !== undefined) {
      if (m.seen.size >= SEEN_MAX_ENTRIES) m.seen.clear();
      m.seen.set(key, masked === undefined ? null : (masked as string));
    }
  }
  return changed;
}

/** One header masked in place; returns its new value (undefined: dropped). */
function maskHeader(m: HeaderMasking, headers: OutgoingHttpHeaders, name: string, value: NonNullable<OutgoingHttpHeaders[string]>): OutgoingHttpHeaders[string] {
  if (m.detect && nameHoldsValue(name, m.detect)) {
    delete headers[name];
    return undefined;
  }
  const lower = name.toLowerCase();
  const standard = isStandard(lower);
  const action = standard ? undefined : actionFor(m, name);
  const pairs: PairScope = !standard || URL_HEADERS.has(lower) ? "all" : "nested";
  if (Array.isArray(value)) {
    const masked = value.map((v) => maskHeaderValue(m, v, action, pairs));
    if (!masked.some((v, i) => v !== value[i])) return value;
    headers[name] = masked;
    return masked;
  }
  const text = String(value);
  const masked = maskHeaderValue(m, text, action, pairs);
  if (masked === text) return value;
  headers[name] = masked;
  return masked;
}

/**
 * Detectors will not start a match right after a "-" (an SSN inside a longer dashed number is no SSN), and
 * a header name is dashed words: `X-123-45-6789` is scanned from each word on.
 */
function nameHoldsValue(name: string, detect: DetectSpec): boolean {
  for (let i = 0; i < name.length; i = name.indexOf("-", i) + 1 || name.length) {
    if (findMatches(name.slice(i), detect.names).length > 0) return true;
  }
  return false;
}

/** One header value masked; see maskResponseHeaders. */
function maskHeaderValue(m: HeaderMasking, value: string, action: FieldAction | undefined, pairs: PairScope): string {
  if (action?.whole !== undefined) return safe(m.masker.maskWhole(value, action.whole) ?? "");
  const detect = mergeSpecs(m.detect, action?.detect);
  let v = value;
  // A value that is JSON as a whole is masked as a document; JSON members are looked for only in one that is not.
  let json = true;
  if (looksLikeJson(v)) {
    try {
      v = m.masker.maskJsonText(v);
      json = false;
    } catch (err) {
      if (err instanceof RegateError) return REDACTED;
      if (!(err instanceof SyntaxError)) throw err;
    }
  }
  if (m.rules.size > 0 && REFERENCE.test(v)) {
    // HTML character references (`name&#61;Alice`, `&amp;name=`, `na&#109;e=`), alone or with escapes:
    // read as an agent reads them.
    const spelled = maskSpelled(m, v, detect, pairs, json);
    if (spelled === undefined) return REDACTED;
    return safe(maskBase64Pairs(m, maskHeaderBase64(spelled, m.masker, detect)));
  }
  // As sent, then percent-decoded once (mapped back onto the bytes as sent).
  v = applyEdits(v, editsIn(m, identityView(v), v, detect, pairs, json));
  if (hasEscape(v)) {
    v = applyEdits(v, editsIn(m, decodedView(v), v, detect, pairs, json));
    if (stillFound(m, v, detect)) return REDACTED;
  }
  return safe(maskBase64Pairs(m, maskHeaderBase64(v, m.masker, detect)));
}

/**
 * A value holding HTML character references, masked in one pass over the value as sent: detectors as
 * always (they read references and escapes themselves), and named pairs in every spelling a reader could
 * decode (references and escapes, layer by layer, each mapped back to what was sent). A value found in
 * several spellings is masked once, as its most decoded spelling reads. Undefined: the caller redacts the
 * value whole (a named value regate cannot bound, or one encoded deeper than it maps back).
 */
function maskSpelled(m: HeaderMasking, value: string, detect: DetectSpec | undefined, pairs: PairScope, json: boolean): string | undefined {
  const { views, deeper } = decodedViews(value);
  const named = new Map<string, Edit>();
  for (const view of [identityView(value), ...views]) {
    const found = pairValues(view.text, pairs, json, (key) => actionFor(m, key), (key) => m.masker.pairAction(key), { sent: value, at: (i) => (view.from ? view.from[i]! : i) });
    if (found.unbounded) return undefined;
    for (const e of namedEdits(m, view, found)) named.set(`${e[0]},${e[1]}`, e);
  }
  if (deeper !== undefined && pairValues(deeper, "all", json, (key) => actionFor(m, key), (key) => m.masker.pairAction(key)).values.length > 0) return undefined;
  const edits = [...named.values()];
  if (detect) for (const d of m.masker.detectedSpans(value, detect)) if (d.end > d.start) edits.push([d.start, d.end, d.replacement ?? ""]);
  return applyEdits(value, edits);
}

/** What replaces the named values `found` in `view`, as spans of the text as sent. */
function namedEdits(m: HeaderMasking, view: View, found: PairValues): Edit[] {
  const edits: Edit[] = [];
  const span = (s: number, e: number, replacement: string): void => {
    if (e > s) edits.push([...sentSpan(view, s, e), replacement]);
  };
  for (const { start: s, end: e, action } of found.values) {
    const inner = view.text.slice(s, e);
    if (action.whole !== undefined) {
      if (inner !== "") span(s, e, m.masker.maskWhole(inner, action.whole) ?? "");
    } else if (action.detect) {
      for (const d of m.masker.detectedSpans(inner, action.detect)) span(s + d.start, s + d.end, d.replacement ?? "");
    }
  }
  return edits;
}

/**
 * Pairs inside base64 runs of a value (an OAuth `state` that encodes `next=/p&name=…`): decoded, their named
 * values masked as in plain text, encoded back. JSON as a whole was masked by maskHeaderBase64 already.
 */
function maskBase64Pairs(m: HeaderMasking, value: string): string {
  if (m.rules.size === 0 || value.length < 16) return value;
  const masked = maskBase64Runs(value, (text) => applyEdits(text, editsIn(m, identityView(text), text, undefined, "all", !looksLikeJson(text))));
  return masked ?? REDACTED;
}

/** `value` if a header can carry it, else redacted whole. */
function safe(value: string): string {
  return HEADER_SAFE.test(value) ? value : REDACTED;
}

/**
 * What to replace in the value as sent: values of pairs named by field rules (JSON members too unless `json`
 * is false: the value was masked as a JSON document), then detected spans. A named JSON object or array
 * inside a value that is not JSON as a whole cannot be bounded: the whole value is replaced.
 */
function editsIn(m: HeaderMasking, view: View, sent: string, detect: DetectSpec | undefined, pairs: PairScope, json = true): Edit[] {
  const edits: Edit[] = [];
  if (m.rules.size > 0) {
    const found = pairValues(view.text, pairs, json, (key) => actionFor(m, key), (key) => m.masker.pairAction(key), { sent, at: (i) => (view.from ? view.from[i]! : i) });
    if (found.unbounded && view.text.length > 0) edits.push([...sentSpan(view, 0, view.text.length), REDACTED]);
    edits.push(...namedEdits(m, view, found));
  }
  if (detect) for (const d of m.masker.detectedSpans(view.text, detect)) if (d.end > d.start) edits.push([...sentSpan(view, d.start, d.end), d.replacement ?? ""]);
  return edits;
}

/**
 * After masking as sent and decoded once: a value still holding escapes or HTML references once decoded was
 * encoded twice or more (`%2540`, `%26%2361%3B`). It is decoded to the end; if a detector hit or a pair
 * named by a field rule (whatever its value, in any part of the value: a decoded `;` or `"` could move it
 * out of a parameter) is found there, the caller redacts the value whole rather than mapping each layer back.
 */
function stillFound(m: HeaderMasking, value: string, detect: DetectSpec | undefined): boolean {
  let text = decodedView(value).text;
  if (!ENCODED.test(text)) return false;
  for (let i = 0, next = decodeLayer(text); i < MAX_LAYERS && next; i++, next = decodeLayer(text)) text = next.text;
  if (detect && findMatches(text, detect.names).length > 0) return true;
  return editsIn(m, identityView(text), text, undefined, "all").length > 0;
}

/** Edits applied to `raw`; overlapping ones are merged and the merged span redacted. */
function applyEdits(raw: string, edits: Edit[]): string {
  return applyAll(raw, edits, () => REDACTED);
}
