// The request headers an HTTP approval is bound to (hold.ts): an approval is for the request the upstream
// will execute, and upstreams act on headers (X-Account-Id, X-Tenant, Idempotency-Key, Prefer, If-Match,
// Range, a custom one), so every header regate forwards from the agent is covered, but for the few that
// cannot change what runs and that a client writes anew on each attempt.

import type { IncomingHttpHeaders } from "node:http";
import { forwardHeaders } from "./headers.js";
import type { CompiledRoute } from "./routes.js";

/**
 * Forwarded, but not covered. Each of them either is in the digest already or changes nothing the upstream
 * executes while differing from one attempt to the next, which would make a deferred request never match
 * its approval. A header that might change what runs stays covered even when some clients vary it (the
 * agent is then asked again): User-Agent, Date, Baggage (it may carry a tenant) and Idempotency-Key are.
 */
const NOT_COVERED: ReadonlySet<string> = new Set([
  // In the digest as how the body is read (hold.ts), and shown as such.
  "content-type",
  "content-encoding",
  // How the answer is compressed on the wire, not what is done; regate asks for identity whenever it reads the answer.
  "accept-encoding",
  // Trace context (W3C, B3, X-Ray, Cloud Trace, Datadog, Sentry, Jaeger): a new span on every attempt, read by tracers.
  "traceparent",
  "tracestate",
  "b3",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "x-amzn-trace-id",
  "x-cloud-trace-context",
  "x-datadog-trace-id",
  "x-datadog-parent-id",
  "x-datadog-sampling-priority",
  "x-datadog-origin",
  "sentry-trace",
  "uber-trace-id",
  // An id for correlating logs, new on every attempt.
  "x-request-id",
  "x-correlation-id",
  "request-id",
]);

/** Written by regate on every request it forwards (forwardHeaders), never taken from the agent. */
const REGATE_OWN: readonly string[] = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"];

/**
 * The covered headers as the upstream gets them, sorted by name: each [name, value] (names lowercase as
 * node:http gives them, `x_tenant` apart from `x-tenant` since an upstream may tell them apart; a header
 * sent more than once has its values joined in order, as it is forwarded). Range and entity-tag
 * preconditions are covered even where regate drops them (a masked route): that only asks a retry to
 * send them again. None of regate's own: the route's credential is never among them.
 */
export function coveredHeaders(incoming: IncomingHttpHeaders, route: CompiledRoute): [string, string][] {
  // Without its value the credential is not added; the agent's header of its name is dropped as ever.
  const forwarded = forwardHeaders(incoming, { ...route, credentialValue: undefined }, { address: "", host: "" }, "none");
  for (const name of REGATE_OWN) delete forwarded[name];
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(forwarded)) {
    if (value === undefined || NOT_COVERED.has(name)) continue;
    out.push([name, Array.isArray(value) ? value.join(", ") : String(value)]);
  }
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
