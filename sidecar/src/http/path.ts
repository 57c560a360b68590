// Request-target parsing and canonicalisation. The policy must judge the path the upstream will act on, and
// regate forwards exactly that path: percent-encoded unreserved characters are decoded, other escapes get
// upper-case hex, dot segments are resolved, repeated slashes merged, and a trailing slash is reported apart
// from the path. What upstreams resolve differently from each other (an encoded "/" or "\", a literal "\",
// a ";" path parameter) is ambiguous: refused by default, or rewritten to one canonical form by config.
// Malformed escapes, NUL and other control characters, invalid UTF-8 and double-encoded ".", "/" or "\" are
// always refused: there is no canonical form for them.

import { isHostAuthority } from "../host-name.js";
import { queryTextProblem } from "./query-text.js";

export type AmbiguousPathMode = "refuse" | "canonical";

export interface RequestTarget {
  /** Authority of an absolute-form target ("GET http://host/x"), when the agent uses regate as a proxy. */
  authority: string | undefined;
  /** The path exactly as the agent sent it (before "?"). */
  raw_path: string;
  /** Canonical path, still percent-encoded where needed, without a trailing slash (except "/" itself). */
  path: string;
  /** The agent's path ended in "/" (after canonicalisation): forwarded with it. */
  trailing_slash: boolean;
  /** Raw query string without "?" ("" when absent). */
  query: string;
}

export type ParseTargetResult = { ok: true; target: RequestTarget } | { ok: false; reason: string };

const ABSOLUTE_FORM = /^https?:\/\//i;
const UTF8 = new TextDecoder("utf-8", { fatal: true });
const HEX = "0123456789ABCDEF";
const DOUBLE_ENCODED = /%(?:2e|2f|5c)/i;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function unreserved(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
}

type Segment = { ok: true; canonical: string } | { ok: false; reason: string; ambiguous: boolean };

/** One segment with unreserved escapes decoded and the rest upper-cased; validates escapes and UTF-8. */
function canonicalSegment(seg: string): Segment {
  if (!seg.includes("%")) return { ok: true, canonical: seg };
  let out = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c !== 0x25) {
      out += seg[i];
      continue;
    }
    const hi = i + 2 < seg.length ? hexValue(seg.charCodeAt(i + 1)) : -1;
    const lo = hi >= 0 ? hexValue(seg.charCodeAt(i + 2)) : -1;
    if (lo < 0) return { ok: false, reason: "malformed percent-encoding in the path", ambiguous: false };
    const b = hi * 16 + lo;
    i += 2;
    if (b === 0) return { ok: false, reason: "NUL in the path", ambiguous: false };
    // Python's re and PHP's PCRE match "$" before a final newline (Ruby's before any): a route anchored so
    // (Starlette and FastAPI, Tornado, FastRoute and Slim) runs "/refunds%0A" as "/refunds", a segment the
    // policy reads as another. No path an agent needs holds a control character.
    if (b < 0x20 || b === 0x7f) return { ok: false, reason: "a control character in the path", ambiguous: false };
    if (b === 0x2f || b === 0x5c) return { ok: false, reason: "encoded '/' or '\\' in the path", ambiguous: true };
    if (b === 0x3b) return { ok: false, reason: "encoded ';' in the path", ambiguous: true };
    out += unreserved(b) ? String.fromCharCode(b) : `%${HEX[hi]}${HEX[lo]}`;
  }
  return { ok: true, canonical: out };
}

/** The decoded text of a canonical segment; undefined for invalid UTF-8. */
export function decodeSegment(seg: string): string | undefined {
  if (!seg.includes("%")) return seg;
  const bytes: number[] = [];
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c === 0x25) {
      bytes.push(hexValue(seg.charCodeAt(i + 1)) * 16 + hexValue(seg.charCodeAt(i + 2)));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(seg[i]!, "utf8")) bytes.push(b);
    }
  }
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/**
 * The canonical form of a raw path, or why it has none. In "canonical" mode an encoded or literal "\" and an
 * encoded "/" become "/", and ";params" are cut from each segment (what Tomcat-style servers do) before the
 * other steps.
 */
export function canonicalPath(rawPath: string, mode: AmbiguousPathMode = "refuse"): { ok: true; path: string; trailing_slash: boolean; segments: string[] } | { ok: false; reason: string } {
  let p = rawPath;
  if (p.includes("\\") || /%(?:2f|5c)/i.test(p)) {
    if (mode === "refuse") return { ok: false, reason: p.includes("\\") ? "'\\' in the path" : "encoded '/' or '\\' in the path" };
    p = p.replace(/\\|%2f|%5c/gi, "/");
  }
  const raw = p.slice(1).split("/");
  const out: string[] = [];
  const decoded: string[] = [];
  let trailing = false;
  for (let i = 0; i < raw.length; i++) {
    let seg = raw[i]!;
    const last = i === raw.length - 1;
    const semi = seg.indexOf(";");
    if (semi >= 0 || /%3b/i.test(seg)) {
      if (mode === "refuse") return { ok: false, reason: "';' in a path segment" };
      if (semi >= 0) seg = seg.slice(0, semi);
    }
    const c = canonicalSegment(seg);
    if (!c.ok) return { ok: false, reason: c.reason };
    const text = decodeSegment(c.canonical);
    if (text === undefined) return { ok: false, reason: "the path is not valid UTF-8" };
    // "%252e%252e" decodes to "%2e%2e": an upstream that decodes twice sees "..". No canonical form.
    if (DOUBLE_ENCODED.test(text)) return { ok: false, reason: "double-encoded '.', '/' or '\\' in the path" };
    if (c.canonical === "" || c.canonical === ".") {
      if (last) trailing = true;
      continue;
    }
    if (c.canonical === "..") {
      out.pop();
      decoded.pop();
      if (last) trailing = true;
      continue;
    }
    out.push(c.canonical);
    decoded.push(text);
  }
  return { ok: true, path: "/" + out.join("/"), trailing_slash: trailing && out.length > 0, segments: decoded };
}

/** The request target, or why regate will not forward it. */
export function parseRequestTarget(url: string, mode: AmbiguousPathMode = "refuse"): ParseTargetResult {
  let authority: string | undefined;
  let rest = url;
  if (ABSOLUTE_FORM.test(url)) {
    const start = url.indexOf("//") + 2;
    let end = start;
    while (end < url.length && url[end] !== "/" && url[end] !== "?") end++;
    authority = url.slice(start, end);
    if (!isHostAuthority(authority)) return { ok: false, reason: "the request target's authority is not a host and port (userinfo or other characters in it)" };
    rest = url.slice(end) || "/";
    if (rest.startsWith("?")) rest = "/" + rest;
  }
  if (!rest.startsWith("/")) return { ok: false, reason: "the request target is not an absolute path" };
  if (rest.includes("#")) return { ok: false, reason: "a fragment in the request target" };
  const q = rest.indexOf("?");
  const rawPath = q >= 0 ? rest.slice(0, q) : rest;
  let query = q >= 0 ? rest.slice(q + 1) : "";
  // Rack 2 (Rails up to 7.0), Python's parse_qs before 3.9.2 and Django before 3.2 split parameters at ";" as
  // at "&"; URLSearchParams, PHP, Express and Go do not: "a=1;a=2" is one value to the policy, two to those.
  if (query.includes(";")) {
    if (mode === "refuse") return { ok: false, reason: "';' in the query, which some frameworks read as '&' and others as data; send it as %3B, or '&' between parameters" };
    query = query.replaceAll(";", "%3B");
  }
  const unreadable = queryTextProblem(query);
  if (unreadable !== undefined) return { ok: false, reason: `the query has ${unreadable}` };
  const c = canonicalPath(rawPath, mode);
  if (!c.ok) return c;
  return { ok: true, target: { authority, raw_path: rawPath, path: c.path, trailing_slash: c.trailing_slash, query } };
}

/**
 * Decoded segments of a canonical path, as the policy sees them: "/" gives [], "/a/b" gives ["a", "b"].
 * Only called on paths parseRequestTarget produced, so every segment decodes.
 */
export function parsedPath(path: string): string[] {
  if (path === "/" || path === "") return [];
  return path.slice(1).split("/").map((s) => decodeSegment(s) ?? s);
}

/** The path sent upstream: the route's base path, the canonical path, its trailing slash, the query. */
export function forwardPath(basePath: string, rest: string, query: string, trailingSlash = false): string {
  let path = basePath + rest;
  if (trailingSlash && !path.endsWith("/")) path += "/";
  return query === "" ? path : `${path}?${query}`;
}

/** Query parameters, each name mapped to all its values in order ("a=1&a=2" gives {a: ["1", "2"]}). */
export function parsedQuery(query: string): Record<string, string[]> {
  if (query === "") return {};
  // A Map, then fromEntries: a parameter named "__proto__" becomes a plain key, not a prototype.
  const params = new Map<string, string[]>();
  // URLSearchParams drops one leading "?" of its input; Go, Python, qs (Express), Rack and PHP keep it in the
  // first name ("/x??tenant=acme" names "?tenant" there): given one more to drop, it reads the name they read.
  for (const [k, v] of new URLSearchParams(query.startsWith("?") ? `?${query}` : query)) {
    const list = params.get(k);
    if (list) list.push(v);
    else params.set(k, [v]);
  }
  return Object.fromEntries(params);
}

/** The query without the parameters whose (decoded) name `drop` picks; raw pieces kept byte for byte. */
export function withoutParam(query: string, drop: (name: string) => boolean): string {
  if (query === "") return query;
  return query
    .split("&")
    .filter((piece) => {
      const eq = piece.indexOf("=");
      const k = eq >= 0 ? piece.slice(0, eq) : piece;
      try {
        return !drop(decodeURIComponent(k.replace(/\+/g, " ")));
      } catch {
        // A name that does not decode: kept only if it could not spell the dropped one either.
        return !drop(k);
      }
    })
    .join("&");
}
