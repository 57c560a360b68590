// Request-target parsing. The policy must see the path the upstream will act on, so anything an upstream
// could resolve differently from what the policy saw (dot segments, encoded traversal, backslashes) is
// refused instead of normalised, and repeated slashes are collapsed the same way http-proxy does.

export interface RequestTarget {
  /** Authority of an absolute-form target ("GET http://host/x"), when the agent uses regate as a proxy. */
  authority: string | undefined;
  /** The path with repeated slashes collapsed; always starts with "/". */
  path: string;
  /** Raw query string without "?" ("" when absent). */
  query: string;
}

const REPEATED_SLASHES = /\/{2,}/g;
const DOT_SEGMENT = /(?:^|[/\\])\.{1,2}(?:[/\\]|$)/;
const ABSOLUTE_FORM = /^https?:\/\//i;

/**
 * Decoded path segments as opa-envoy-plugin builds them: the leading "/" dropped, then split on "/"
 * ("/" gives [""], "/a/" gives ["a", ""]). Undefined when a segment is malformed percent-encoding or
 * decodes to a dot segment, a NUL, or something containing one ("%2e%2e", "a%2F..%2Fb").
 */
export function parsedPath(path: string): string[] | undefined {
  const raw = path.slice(1).split("/");
  const out: string[] = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const seg = raw[i]!;
    let decoded: string;
    try {
      decoded = seg.includes("%") ? decodeURIComponent(seg) : seg;
    } catch {
      return undefined;
    }
    if (decoded.includes("\0") || DOT_SEGMENT.test(decoded)) return undefined;
    out[i] = decoded;
  }
  return out;
}

/** Undefined when the target is not one regate will forward. */
export function parseRequestTarget(url: string): RequestTarget | undefined {
  let authority: string | undefined;
  let rest = url;
  if (ABSOLUTE_FORM.test(url)) {
    const start = url.indexOf("//") + 2;
    let end = start;
    while (end < url.length && url[end] !== "/" && url[end] !== "?") end++;
    authority = url.slice(start, end);
    rest = url.slice(end) || "/";
    if (rest.startsWith("?")) rest = "/" + rest;
  }
  if (!rest.startsWith("/") || rest.includes("#") || rest.includes("\\")) return undefined;
  const q = rest.indexOf("?");
  const rawPath = q >= 0 ? rest.slice(0, q) : rest;
  const query = q >= 0 ? rest.slice(q + 1) : "";
  const path = rawPath.replace(REPEATED_SLASHES, "/");
  if (parsedPath(path) === undefined) return undefined;
  return { authority, path, query };
}

const SCHEME_IN_PATH = /(https?):\//g;

/**
 * The path to hand http-proxy. Its urlJoin rewrites "http:/" into "http://" anywhere in the path; encoding
 * the colon keeps the upstream's view equal to the policy's (both decode "%3A" to ":").
 */
export function forwardPath(basePath: string, rest: string, query: string): string {
  const path = (basePath + rest).replace(SCHEME_IN_PATH, "$1%3A/");
  return query === "" ? path : `${path}?${query}`;
}

/** Query parameters, each name mapped to all its values in order ("a=1&a=2" gives {a: ["1", "2"]}). */
export function parsedQuery(query: string): Record<string, string[]> {
  if (query === "") return {};
  // A Map, then fromEntries: a parameter named "__proto__" becomes a plain key, not a prototype.
  const params = new Map<string, string[]>();
  for (const [k, v] of new URLSearchParams(query)) {
    const list = params.get(k);
    if (list) list.push(v);
    else params.set(k, [v]);
  }
  return Object.fromEntries(params);
}
