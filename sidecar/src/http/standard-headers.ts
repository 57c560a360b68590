// Response headers HTTP itself defines, which masking treats apart from an upstream's own (mask-headers.ts).

/**
 * Headers whose names HTTP defines. Their names are never matched against field rules (a rule for a JSON
 * field `type`, `location` or `date` must not blank Content-Type, Location or Date); their values are
 * scanned like any other.
 */
const STANDARD: ReadonlySet<string> = new Set([
  "accept-patch", "accept-ranges", "age", "allow", "alt-svc", "cache-control", "clear-site-data", "content-disposition",
  "content-encoding", "content-language", "content-location", "content-range", "content-security-policy",
  "content-security-policy-report-only", "content-type", "date", "etag", "expect-ct", "expires", "keep-alive", "last-modified",
  "link", "location", "nel", "origin-agent-cluster", "permissions-policy", "pragma", "preference-applied", "referrer-policy",
  "refresh", "report-to", "reporting-endpoints", "retry-after", "server", "server-timing", "sourcemap", "strict-transport-security",
  "timing-allow-origin", "traceparent", "tracestate", "vary", "via", "warning", "www-authenticate", "x-content-type-options",
  "x-dns-prefetch-control", "x-frame-options", "x-permitted-cross-domain-policies", "x-xss-protection",
]);
const STANDARD_PREFIXES = ["access-control-", "cross-origin-", "ratelimit", "x-ratelimit-"] as const;
/**
 * Standard headers whose values carry URLs, whose query parameters are the upstream's own names (the
 * parameters of the others are HTTP's: a field rule `age` must not blank `max-age`).
 */
export const URL_HEADERS: ReadonlySet<string> = new Set(["location", "content-location", "link", "refresh"]);

/** A header HTTP defines, by name or by prefix: its name is never matched against field rules. */
export function isStandard(name: string): boolean {
  return STANDARD.has(name) || STANDARD_PREFIXES.some((p) => name.startsWith(p));
}
