import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { headerKey } from "./method.js";
import type { CompiledRoute } from "./routes.js";

/** RFC 9110 7.6.1 connection-specific headers, plus the de-facto proxy-connection. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
]);

/** Whatever the agent sent to authenticate: to regate, or (uselessly) to the upstream. Never forwarded. */
const AGENT_CREDENTIALS: ReadonlySet<string> = new Set(["authorization", "proxy-authorization", "cookie", "x-api-key"]);

/**
 * Rebuilt by regate for the forwarded request, never copied from the agent. Among them the headers with
 * which frameworks and proxies let a request name another path than its request line (Zend and Symfony
 * honour X-Original-URL and X-Rewrite-URL; X-Forwarded-Prefix and the like rewrite the base path): the
 * policy judges the request line's path, so no other may reach the upstream.
 */
const REBUILT: ReadonlySet<string> = new Set([
  "host",
  "content-length",
  "expect",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-path",
  "x-forwarded-uri",
  "x-forwarded-server",
  "x-original-url",
  "x-original-uri",
  "x-original-path",
  "x-original-host",
  "x-rewrite-url",
  "x-envoy-original-path",
  "x-http-destinationurl",
]);

/** Headers named in `Connection` are hop-by-hop too. */
function connectionListed(headers: IncomingHttpHeaders): ReadonlySet<string> | undefined {
  const c = headers.connection;
  if (!c) return undefined;
  // The common case, "keep-alive" or "close", names no header: no set to build on every request.
  if (!c.includes(",")) {
    const t = c.trim().toLowerCase();
    return t === "keep-alive" || t === "close" || t === "" ? undefined : new Set([t]);
  }
  return new Set(c.split(",").map((t) => headerKey(t.trim().toLowerCase())).filter((t) => t !== ""));
}

/**
 * Removes, before anything reads the request, the headers its Connection header nominates as hop-by-hop
 * (`Connection: x-tenant` with `X-Tenant: sandbox`), in every spelling forwardHeaders would drop: it drops
 * them on the way out (RFC 9110 7.6.1), so left in place the policy would judge the request by a header the
 * upstream never receives. Headers regate itself reads and never forwards as sent (Authorization, Host,
 * Content-Length, ...) stay: the agent's credential, the route and the body's framing come from them.
 */
export function dropNominated(incoming: IncomingHttpHeaders): void {
  const c = incoming.connection;
  if (c === undefined || c === "" || c === "close" || c === "keep-alive") return;
  const named = new Set(c.split(",").map((t) => headerKey(t.trim().toLowerCase())));
  for (const name of Object.keys(incoming)) {
    const key = headerKey(name);
    if (named.has(key) && !HOP_BY_HOP.has(key) && !AGENT_CREDENTIALS.has(key) && !REBUILT.has(key)) delete incoming[name];
  }
}

/**
 * Two header names that CGI-style servers (CGI, WSGI, Rack, PHP) read as one, "x_tenant" and "x-tenant"
 * (PHP "x.tenant" too): which value such an upstream takes is its own choice, so the policy could judge the
 * other. Returns the pair, for the refusal; undefined when names are distinct (the common case costs a scan
 * for "_" and ".").
 */
export function collidingHeaders(incoming: IncomingHttpHeaders): [string, string] | undefined {
  let seen: Map<string, string> | undefined;
  for (const name of Object.keys(incoming)) {
    if (!name.includes("_") && !name.includes(".")) continue;
    const key = headerKey(name);
    if (key in incoming) return [name, key];
    seen ??= new Map();
    const other = seen.get(key);
    if (other !== undefined) return [other, name];
    seen.set(key, name);
  }
  return undefined;
}

const joined = (v: string | string[]): string => (Array.isArray(v) ? v.join(", ") : v);

/** What regate does with the response: nothing, scrub the route credential from it, or mask it (and scrub). */
export type Inspection = "none" | "scrub" | "mask";

/** Ask for part of a body: a slice regate could not read whole (Request-Range is Apache's old spelling). */
const RANGE_HEADERS: ReadonlySet<string> = new Set(["range", "request-range", "if-range"]);
/** Preconditions on the representation's entity tag: answered by comparing a hash of the unmasked body. */
const ENTITY_TAG_PRECONDITIONS: ReadonlySet<string> = new Set(["if-match", "if-none-match"]);

/** An entity-tag precondition other than "*" (which is about existence, not content), or undefined. */
export function entityTagPrecondition(incoming: IncomingHttpHeaders): string | undefined {
  for (const [name, value] of Object.entries(incoming)) {
    if (value !== undefined && ENTITY_TAG_PRECONDITIONS.has(headerKey(name)) && joined(value).trim() !== "*") return name;
  }
  return undefined;
}

/**
 * The headers regate sends upstream: the agent's, minus hop-by-hop and credential headers, plus the
 * route's credential and X-Forwarded-*. A response regate inspects is asked for uncompressed and whole (no
 * ranges). A masked one is asked for unconditionally too: a 304 or 412 to an If-None-Match or If-Match
 * tag the agent computed from a guess (Express's ETag is a hash of the body) would confirm the masked
 * values, and regate never gives out such a route's tags, so an agent has none of its own to send. Only
 * safe requests reach here with such a tag (the gateway refuses the others): dropping it changes no write.
 */
export function forwardHeaders(
  incoming: IncomingHttpHeaders,
  route: CompiledRoute,
  client: { address: string; host: string },
  inspect: Inspection,
): OutgoingHttpHeaders {
  const listed = connectionListed(incoming);
  const credentialKey = route.credentialHeader === undefined ? undefined : headerKey(route.credentialHeader);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    // Matched in every spelling an upstream may read as the same header ("x_forwarded_for").
    const key = headerKey(name);
    if (HOP_BY_HOP.has(key) || AGENT_CREDENTIALS.has(key) || REBUILT.has(key)) continue;
    if (key === credentialKey || listed?.has(key)) continue;
    if (inspect !== "none" && RANGE_HEADERS.has(key)) continue;
    if (inspect === "mask" && ENTITY_TAG_PRECONDITIONS.has(key) && joined(value).trim() !== "*") continue;
    out[name] = value;
  }
  if (inspect !== "none") out["accept-encoding"] = "identity";
  // regate is the first proxy: an agent-supplied X-Forwarded-For would only be a spoof.
  out["x-forwarded-for"] = client.address;
  out["x-forwarded-proto"] = "http";
  if (client.host !== "") out["x-forwarded-host"] = client.host;
  if (route.credentialHeader !== undefined && route.credentialValue !== undefined) {
    out[route.credentialHeader] = route.credentialValue;
  }
  return out;
}

/**
 * Request headers as the policy sees them: lowercase names with "-" for "_" and "." (as the upstream may read them;
 * collidingHeaders refused any pair that would merge), one string per header, no credentials.
 */
export function inputHeaders(incoming: IncomingHttpHeaders, route: CompiledRoute | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const credentialKey = route?.credentialHeader === undefined ? undefined : headerKey(route.credentialHeader);
  for (const [name, value] of Object.entries(incoming)) {
    const key = headerKey(name);
    if (value === undefined || AGENT_CREDENTIALS.has(key) || key === credentialKey) continue;
    // A plain object, no Map and fromEntries per request: no key is "__proto__" (headerKey spells "_" as
    // "-"), so none can set the object's prototype.
    out[key] = joined(value);
  }
  return out;
}

/**
 * Upstream response headers the agent may see: hop-by-hop headers go, and so do cookies. A session the
 * upstream opens was authenticated with regate's credential; handing it to the agent would hand over
 * that credential's power outside the policy.
 */
export function responseHeaders(upstream: IncomingHttpHeaders, rewritten = false): OutgoingHttpHeaders {
  const listed = connectionListed(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === "set-cookie" || listed?.has(name)) continue;
    // `rewritten`: the body will be (masked): its descriptors are left out here rather than deleted later.
    if (rewritten && BODY_DESCRIPTORS.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Cache-Control directives with which a shared cache may reuse a response to a request with credentials (RFC 9111 3.5). */
const SHARED_DESPITE_CREDENTIALS = /(?:^|,)\s*(?:public|s-maxage|must-revalidate)\b/i;

/**
 * Keys a response a shared cache may reuse to the agent's credential (Vary). The upstream allowed that for
 * regate's credential, but regate answers each agent after its own decision, masked for it: a cache between
 * the agents and regate would otherwise serve one agent's answer to another, whose request regate never saw.
 */
export function keyCacheToAgent(headers: OutgoingHttpHeaders): void {
  const cc = headers["cache-control"];
  if (cc === undefined || !SHARED_DESPITE_CREDENTIALS.test(Array.isArray(cc) ? cc.join(",") : String(cc))) return;
  const vary = headers.vary === undefined ? "" : Array.isArray(headers.vary) ? headers.vary.join(", ") : String(headers.vary);
  const names = new Set(vary.split(",").map((n) => n.trim().toLowerCase()));
  if (names.has("*")) return;
  const missing = ["Authorization", "Proxy-Authorization"].filter((n) => !names.has(n.toLowerCase()));
  if (missing.length > 0) headers.vary = [vary.trim(), ...missing].filter((n) => n !== "").join(", ");
}

/** Response headers whose URI references name the upstream's own resources (RFC 9110 10.2.2, 8.7; RFC 8288). */
const SELF_REFERENCES = ["location", "content-location"] as const;

/**
 * A URI reference from the upstream's response, as the agent must follow it: through regate. Resolved against
 * the forwarded request's URL; when it lands on the route's upstream origin under its base path, it becomes
 * the path-absolute reference under the route's prefix ("http://10.0.0.7:8080/v1/items/2" and "/v1/items/2"
 * both become "/crm/items/2" for prefix "/crm" and base "/v1"). Otherwise it is returned as it was: another
 * origin is not regate's, and a path outside the base path has no address through this route.
 */
export function agentReference(ref: string, route: Pick<CompiledRoute, "origin" | "basePath" | "prefix">, upstreamPath: string): string {
  let url: URL;
  try {
    url = new URL(ref, route.origin + upstreamPath);
  } catch {
    return ref;
  }
  if (url.origin !== route.origin) return ref;
  const base = route.basePath;
  const path = url.pathname;
  if (base !== "" && path !== base && !path.startsWith(`${base}/`)) return ref;
  const rest = path.slice(base.length);
  return (rest === "" ? route.prefix || "/" : route.prefix + rest) + url.search + url.hash;
}

/**
 * Rewrites the upstream's references to itself (Location, Content-Location, Link targets) to the agent's
 * addresses for them. Left as sent, an absolute one would take the agent straight to the upstream, past the
 * policy, and tell it the upstream's internal address; a path-absolute one would miss the route's prefix.
 */
export function rewriteSelfReferences(headers: OutgoingHttpHeaders, route: Pick<CompiledRoute, "origin" | "basePath" | "prefix">, upstreamPath: string): void {
  for (const name of SELF_REFERENCES) {
    const v = headers[name];
    if (typeof v === "string") headers[name] = agentReference(v, route, upstreamPath);
  }
  const link = headers.link;
  if (typeof link === "string" && link.includes("<")) {
    headers.link = link.replace(/<([^>]*)>/g, (_m, ref: string) => `<${agentReference(ref, route, upstreamPath)}>`);
  }
}

/** Headers that describe the upstream's bytes and are wrong once regate rewrites the body. */
const BODY_DESCRIPTORS: ReadonlySet<string> = new Set([
  "content-length", "content-encoding", "etag", "content-md5", "accept-ranges", "digest", "repr-digest", "content-digest",
]);

/** Removes the body descriptors (BODY_DESCRIPTORS) from headers already built. */
export function dropBodyDescriptors(headers: OutgoingHttpHeaders): void {
  for (const name of BODY_DESCRIPTORS) if (headers[name] !== undefined) delete headers[name];
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The bearer token the agent presents to regate: Proxy-Authorization first (regate used as a proxy). */
export function agentCredential(incoming: IncomingHttpHeaders): string | undefined {
  for (const value of [incoming["proxy-authorization"], incoming.authorization]) {
    if (typeof value !== "string") continue;
    const m = BEARER.exec(value);
    if (m) return m[1];
  }
  return undefined;
}
