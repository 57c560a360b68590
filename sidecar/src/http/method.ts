// The method the upstream will execute. Widely used frameworks let a request name another method than its
// request line: a header (X-HTTP-Method-Override and its two cousins) or a `_method` parameter in the query
// or the body. regate either judges the overriding method ("decide", the default) or removes every override
// before forwarding ("strip"); it never forwards an override the policy did not see.

import type { BodyFacts } from "./body.js";

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

function bodyParam(body: BodyFacts): unknown[] {
  const b = body.parsed_body;
  if (b === null || typeof b !== "object" || Array.isArray(b)) return [];
  if (!Object.prototype.hasOwnProperty.call(b, OVERRIDE_PARAM)) return [];
  const v = (b as Record<string, unknown>)[OVERRIDE_PARAM];
  // Form fields arrive as arrays of values; a JSON body has a single value.
  return body.content_type === "application/x-www-form-urlencoded" && Array.isArray(v) ? v : [v];
}

/** Overrides present in a request, by source (no decision about them yet). */
export function findOverrides(headers: Record<string, string | string[] | undefined>, query: Record<string, string[]>, body: BodyFacts): { source: OverrideSource; value: unknown }[] {
  const found: { source: OverrideSource; value: unknown }[] = [];
  for (const h of OVERRIDE_HEADERS) {
    const v = headers[h];
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) for (const part of one.split(",")) found.push({ source: h, value: part });
  }
  for (const v of query[OVERRIDE_PARAM] ?? []) found.push({ source: "query", value: v });
  for (const v of bodyParam(body)) found.push({ source: "body", value: v });
  return found;
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

const OVERRIDE_BYTES = [Buffer.from("_method"), Buffer.from("%5fmethod"), Buffer.from("%5Fmethod"), Buffer.from("\\u005f"), Buffer.from("\\u005F")];

/**
 * A body regate did not parse into fields (over the input cap, malformed, multipart, compressed) may still
 * carry a `_method` the upstream reads. True when its bytes could: the caller refuses the request, since the
 * policy cannot see that override.
 */
export function unparsedBodyMayOverride(raw: Buffer, body: BodyFacts): boolean {
  if (raw.length === 0 || body.parsed_body !== undefined) return false;
  return OVERRIDE_BYTES.some((b) => raw.includes(b));
}
