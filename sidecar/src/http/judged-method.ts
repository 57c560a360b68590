// The method the upstream will execute: the request line's, or an override the request carries, judged by the
// policy; or, with http.request.method_override: strip, the overrides removed before the policy sees the request.

import type { IncomingHttpHeaders } from "node:http";
import { charsetHidesAscii } from "./body-readings.js";
import { isJsonMedia } from "./body.js";
import type { BodyFacts } from "./request-body-facts.js";
import { effectiveMethod, findOverrides, isOverrideParam, stripOverrideHeaders, unparsedBodyMayOverride, type EffectiveMethod } from "./method.js";
import { parsedQuery, withoutParam } from "./path.js";
import { httpInputs, type RequestFacts } from "./to-input.js";
import type { PolicyInput } from "../decision/types.js";

/** Also the answer to a body in an encoding regate cannot undo: the upstream may undo it (body-parser inflates zstd on newer Node). */
export const BODY_MAY_OVERRIDE = "the request body may carry a _method override regate cannot read (too large, malformed or compressed)";

export type JudgedMethod = { ok: true; method: EffectiveMethod; query: string } | { ok: false; reason: string };

/**
 * `sent` is the body as it goes upstream (inflated). In strip mode the override headers are removed from
 * `headers` in place, and the returned query has no override parameter.
 */
export function judgedMethod(wire: string, headers: IncomingHttpHeaders, query: string, body: BodyFacts, sent: Buffer, mode: "decide" | "strip"): JudgedMethod {
  let overrides = findOverrides(headers, parsedQuery(query), body);
  // Whatever its declared type: upstreams read the media type their own way (PHP cuts it at "," or a
  // space, Go folds "İ" to "i"), so any body regate could not read may be a form to one of them.
  if (unparsedBodyMayOverride(sent, body)) return { ok: false, reason: BODY_MAY_OVERRIDE };
  // That search reads ASCII; in a charset that spells ASCII otherwise it finds nothing, so such a body is refused:
  // a multipart one (Tomcat reads its part headers in that charset) and a form one alike. A form in such a
  // charset is `body_parse_error` too, but the policy judging that may let it through (a method rule, an upload
  // route), and the method it judged would be the request line's while Spring runs the DELETE the form names.
  // A JSON one stays the policy's to judge as unparsable: no form reader takes a JSON type's fields.
  const unread = sent.length > 0 && body.parsed_body === undefined && !(body.body_parse_error && isJsonMedia(body.content_type));
  const charset = unread ? charsetHidesAscii(headers["content-type"]) : undefined;
  if (charset !== undefined) return { ok: false, reason: `the request body's charset (${charset.slice(0, 40)}) may spell a _method override regate cannot read; send it in UTF-8` };
  if (mode === "strip" && overrides.length > 0) {
    if (overrides.some((o) => o.source === "body")) return { ok: false, reason: "a _method override in the request body cannot be removed" };
    stripOverrideHeaders(headers);
    query = withoutParam(query, isOverrideParam);
    overrides = [];
  }
  const effective = effectiveMethod(wire, overrides);
  return effective.ok ? { ok: true, method: effective.result, query } : effective;
}

/**
 * Why an allowed request cannot go upstream as sent: an override to HEAD on a request line that is not HEAD.
 * An upstream that honours it answers as to a HEAD (a Content-Length, no body) while regate, having sent the
 * request line's method, reads a body of that length and waits for it until the upstream closes; read as an
 * answer to a HEAD instead, the body of an upstream that does not honour it would stay on the connection and
 * answer the next request sent there. Only the agent can say which it meant: a HEAD request says it.
 */
export function unframeableOverride(wire: string, method: EffectiveMethod): string | undefined {
  if (method.method !== "HEAD" || wire === "HEAD") return undefined;
  return `a method override to HEAD on a ${wire} request cannot be forwarded: the upstream may answer it with or without a body, and regate cannot tell which; send a HEAD request instead`;
}

/**
 * The inputs the policy judges a request by, each of which must be allowed: one per method the upstream may
 * execute. Frameworks disagree on whether they honour an override (most only on POST, some not at all), so
 * both the override and the request line are judged; Express, Go's ServeMux, Flask, Django, Rails and Spring
 * answer a HEAD with the GET handler, which runs in full (only its body is dropped), so a HEAD, on the
 * request line or as an override, is judged as a GET too.
 */
export function judgedInputs(facts: RequestFacts): PolicyInput[] {
  const wire = facts.requestMethod;
  const method = facts.method.method;
  const inputs = httpInputs(facts);
  if (method !== wire) inputs.push(...httpInputs({ ...facts, method: { method: wire } }));
  if ((wire === "HEAD" || method === "HEAD") && wire !== "GET" && method !== "GET") inputs.push(...httpInputs({ ...facts, method: { method: "GET" } }));
  return inputs;
}
