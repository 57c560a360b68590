// The method the upstream will execute. Widely used frameworks let a request name another method than its
// request line: a header (X-HTTP-Method-Override and its two cousins) or a `_method` parameter in the query
// or the body. regate either judges the overriding method ("decide", the default) or removes every override
// before forwarding ("strip"); it never forwards an override the policy did not see. Names are matched the
// way the upstream's stack may read them, not only as spelled: header names with "_" or "." for "-" (CGI, WSGI
// and Rack put "_" and "-" in one variable, PHP "." too) and parameter names as PHP rewrites them (".method" becomes "_method").

import type { BodyFacts } from "./request-body-facts.js";

export type MethodOverrideMode = "decide" | "strip";

export const OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"] as const;
export const OVERRIDE_PARAM = "_method";

/** Where an override was found. */
export type OverrideSource = (typeof OVERRIDE_HEADERS)[number] | "query" | "body";

export interface EffectiveMethod {
  /** What the policy judges: the override when there is one, else the request line's method. */
  method: string;
  /** Set when an override was honoured. */
  override?: { source: OverrideSource[]; value: string };
}

// RFC 9110 token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A header's name as CGI-style servers read it: "_" and "-" are one character to them, and so is "." to PHP,
 * which files a header under HTTP_ + its name with "-" for "_" and then rewrites "." (like a parameter's) to
 * "_": `X.HTTP.Method.Override` is HTTP_X_HTTP_METHOD_OVERRIDE to PHP's built-in server, and Laravel runs it.
 */
export function headerKey(name: string): string {
  return name.includes("_") || name.includes(".") ? name.replace(/[_.]/g, "-") : name;
}

/** The override header a request header counts as (any spelling), if any. */
export function overrideHeader(name: string): (typeof OVERRIDE_HEADERS)[number] | undefined {
  if (!name.startsWith("x")) return undefined;
  const key = headerKey(name);
  return OVERRIDE_HEADERS.find((h) => h === key);
}

/**
 * True for a query or form parameter an upstream may read as `_method`. PHP drops leading spaces and turns
 * "." and " " (and an unclosed "[") into "_", and reads `_method[...]` as an array under `_method`. Nested-
 * parameter parsers skip brackets before the name: qs (Express's urlencoded({ extended: true }) and extended
 * query parser, koa-bodyparser) reads `[_method]` and `[_method]x` as `_method`, and `._method` with its
 * allowDots option (koa-bodyparser's forms); Rack 2 (Rails up to 7.0) `]_method`. Case is ignored, stricter
 * than any framework.
 */
export function isOverrideParam(name: string): boolean {
  // ASP.NET MVC (GetHttpMethodOverride) reads X-HTTP-Method-Override as a form field or query parameter too,
  // its name matched without case: every override header's name counts as a parameter, "_" for "-" as well.
  if (name.length >= 13 && overrideHeader(headerKey(name.trim().toLowerCase())) !== undefined) return true;
  // PHP measures a name with strlen: it ends at a NUL.
  const nul = name.indexOf("\0");
  if (nul >= 0) name = name.slice(0, nul);
  if (name.length < 7) return false;
  const n = name.replace(/^[ ]+/, "").toLowerCase();
  const bracket = n.indexOf("[");
  if (bracket < 0 && !n.includes("]") && !n.includes(".")) return n.replaceAll(" ", "_") === OVERRIDE_PARAM;
  const php = bracket < 0 ? n : n.indexOf("]", bracket) > bracket ? n.slice(0, bracket) : n.slice(0, bracket) + "_" + n.slice(bracket + 1);
  return php.replace(/[ .]/g, "_") === OVERRIDE_PARAM || nestedName(n) === OVERRIDE_PARAM;
}

const NESTING = new Set(["[", "]", "."]);

/** A parameter's top-level name to qs (allowDots too) and Rack 2: its first run of characters other than "[", "]", ".". */
function nestedName(n: string): string {
  let start = 0;
  while (start < n.length && NESTING.has(n[start]!)) start++;
  let end = start;
  while (end < n.length && !NESTING.has(n[end]!)) end++;
  return n.slice(start, end);
}

/** Values of every parameter an upstream may read as `_method`. */
function paramValues(params: object, form: boolean): unknown[] {
  const out: unknown[] = [];
  for (const [name, v] of Object.entries(params)) {
    if (!isOverrideParam(name)) continue;
    // Form fields and query parameters arrive as arrays of values; a JSON body's member is a single value.
    if (form && Array.isArray(v)) out.push(...(v as unknown[]));
    else out.push(v);
  }
  return out;
}

function bodyParam(body: BodyFacts): unknown[] {
  const b = body.parsed_body;
  if (b === null || typeof b !== "object" || Array.isArray(b)) return [];
  return paramValues(b, body.content_type === "application/x-www-form-urlencoded");
}

/** Overrides present in a request, by source (no decision about them yet). */
export function findOverrides(headers: Record<string, string | string[] | undefined>, query: Record<string, string[]>, body: BodyFacts): { source: OverrideSource; value: unknown }[] {
  const found: { source: OverrideSource; value: unknown }[] = [];
  for (const [name, v] of Object.entries(headers)) {
    const h = overrideHeader(name);
    if (h === undefined || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) for (const part of one.split(",")) found.push({ source: h, value: part });
  }
  for (const v of paramValues(query, true)) found.push({ source: "query", value: v });
  for (const v of bodyParam(body)) found.push({ source: "body", value: v });
  return found;
}

/** Removes every override header, in any spelling (method_override: strip). */
export function stripOverrideHeaders(headers: Record<string, unknown>): void {
  for (const name of Object.keys(headers)) if (overrideHeader(name) !== undefined) delete headers[name];
}

/**
 * The effective method, or why the request is refused: overrides that disagree with each other, or that are
 * not method names, leave no one method to judge.
 */
export function effectiveMethod(wire: string, overrides: readonly { source: OverrideSource; value: unknown }[]): { ok: true; result: EffectiveMethod } | { ok: false; reason: string } {
  if (overrides.length === 0) return { ok: true, result: { method: wire } };
  let value: string | undefined;
  const sources: OverrideSource[] = [];
  for (const o of overrides) {
    const v = typeof o.value === "string" ? o.value.trim().toUpperCase() : undefined;
    if (v === undefined || !TOKEN.test(v)) return { ok: false, reason: `method override in ${o.source} is not a method name` };
    if (value !== undefined && v !== value) return { ok: false, reason: "method overrides disagree" };
    value = v;
    if (!sources.includes(o.source)) sources.push(o.source);
  }
  return { ok: true, result: { method: value!, override: { source: sources, value: value! } } };
}

/**
 * A body regate did not parse into fields (over the input cap, malformed, multipart, compressed, UTF-16)
 * may still carry a `_method` the upstream reads. True when its bytes could: the caller refuses the request,
 * since the policy cannot see that override. Any spelling PHP reads as `_method` counts (".method",
 * "[method"), and the override headers' names (ASP.NET MVC reads them as fields), in any case, behind percent,
 * %u, JSON, quoted-printable, RFC 2047 or backslash (quoted-pair) escapes, in UTF-16. A JSON-RPC `"method"` member does not.
 * `raw` is the body as it goes upstream: a compressed one inflated (body.ts upstreamBody).
 */
const MANGLED = /[_.[ +]method|http[-_ +]method|method[-_ +]override/i;
/** A multipart name in RFC 2231 form (`name*0="_me"; name*1="thod"`), which Go joins: regate does not. */
const RFC2231_NAME = /\bname\*/i;

export function unparsedBodyMayOverride(raw: Buffer, body: BodyFacts): boolean {
  if (raw.length === 0 || body.parsed_body !== undefined) return false;
  // NULs between letters (UTF-16, UTF-32) hide the name from a byte search: take them out first.
  let text = raw.toString("latin1");
  if (text.includes("\0")) text = text.replaceAll("\0", "");
  // Any of its letters could be escaped (%6d, \u006d, \x6d), more than once (%256d): undone a few times over.
  for (let pass = 0; pass < 4; pass++) {
    if (MANGLED.test(text) || RFC2231_NAME.test(text)) return true;
    const next = text
      // RFC 2047 encoded words, which Commons FileUpload and Tomcat's copy of it decode in a part's name
      // (name="=?UTF-8?B?X21ldGhvZA==?="); their Q form is left to the "=XX" step below.
      .replace(/=\?[^?\s]+\?b\?([a-z0-9+/=]*)\?=/gi, (_m, b64: string) => Buffer.from(b64, "base64").toString("latin1"))
      // Percent, IIS's %uXXXX, JSON's \uXXXX, \xXX, and quoted-printable (and Q-encoded) =XX escapes; then a
      // backslash before any other character, a quoted-pair, which Rack's multipart parser undoes in a part's
      // name (name="_m\ethod" is `_method` to Rack::MethodOverride).
      .replace(/%([0-9a-f]{2})|%u([0-9a-f]{4})|\\u([0-9a-f]{4})|\\x([0-9a-f]{2})|=([0-9a-f]{2})|\\([\s\S])/gi, (_m, a?: string, u?: string, b?: string, c?: string, q?: string, pair?: string) =>
        pair ?? String.fromCharCode(parseInt(a ?? u ?? b ?? c ?? q ?? "0", 16)),
      );
    if (next === text) return false;
    text = next;
  }
  return true;
}

/** Methods that change nothing on the upstream (RFC 9110 9.2.1). */
const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Whether regate may send a request again when the kept-alive upstream connection it went out on closed before
 * any answer (the upstream closed it as idle just as the request arrived). Only a safe method with no override
 * at all: the upstream may execute the override's method, and PUT or DELETE, idempotent on paper, are not
 * always so in practice (Go's Transport draws the same line).
 */
export function replayable(wire: string, effective: EffectiveMethod): boolean {
  return effective.override === undefined && effective.method === wire && SAFE_METHODS.has(wire);
}
