import { describe, expect, it } from "vitest";
import { canonicalPath, forwardPath, parsedPath, parsedQuery, parseRequestTarget, withoutParam } from "./path.js";

const target = (url: string) => {
  const r = parseRequestTarget(url);
  return r.ok ? { authority: r.target.authority, path: r.target.path, trailing_slash: r.target.trailing_slash, query: r.target.query } : r.reason;
};

describe("parseRequestTarget", () => {
  it.each([
    ["/crm/customers/1?x=1", { authority: undefined, path: "/crm/customers/1", trailing_slash: false, query: "x=1" }],
    ["/", { authority: undefined, path: "/", trailing_slash: false, query: "" }],
    ["//crm///customers", { authority: undefined, path: "/crm/customers", trailing_slash: false, query: "" }],
    ["/a?", { authority: undefined, path: "/a", trailing_slash: false, query: "" }],
    ["http://crm.internal:8080/x?y", { authority: "crm.internal:8080", path: "/x", trailing_slash: false, query: "y" }],
    ["http://crm.internal", { authority: "crm.internal", path: "/", trailing_slash: false, query: "" }],
    ["http://crm.internal?q=1", { authority: "crm.internal", path: "/", trailing_slash: false, query: "q=1" }],
    // Canonical forms
    ["/crm/../admin", { authority: undefined, path: "/admin", trailing_slash: false, query: "" }],
    ["/crm/./x", { authority: undefined, path: "/crm/x", trailing_slash: false, query: "" }],
    ["/crm/%2e%2e/admin", { authority: undefined, path: "/admin", trailing_slash: false, query: "" }],
    ["/crm/%2E%2e", { authority: undefined, path: "/", trailing_slash: false, query: "" }],
    ["/..", { authority: undefined, path: "/", trailing_slash: false, query: "" }],
    ["/a/b/", { authority: undefined, path: "/a/b", trailing_slash: true, query: "" }],
    ["/a/b/.", { authority: undefined, path: "/a/b", trailing_slash: true, query: "" }],
    ["/a/b//", { authority: undefined, path: "/a/b", trailing_slash: true, query: "" }],
    ["/%72efunds", { authority: undefined, path: "/refunds", trailing_slash: false, query: "" }],
    ["/a%7eb/%41", { authority: undefined, path: "/a~b/A", trailing_slash: false, query: "" }],
    ["/c/alice%40example.com", { authority: undefined, path: "/c/alice%40example.com", trailing_slash: false, query: "" }],
    ["/c/x%3a", { authority: undefined, path: "/c/x%3A", trailing_slash: false, query: "" }],
    ["/v1..2/x", { authority: undefined, path: "/v1..2/x", trailing_slash: false, query: "" }],
  ])("%s", (url, expected) => {
    expect(target(url)).toEqual(expected);
  });

  it.each([
    ["*", "not an absolute path"],
    ["crm/x", "not an absolute path"],
    ["/files/group%2Fproject", "encoded '/'"],
    ["/crm/a%2F..%2Fadmin", "encoded '/'"],
    ["/crm/a%5C..%5Cadmin", "encoded '/'"],
    ["/crm\\..\\admin", "'\\' in the path"],
    ["/crm/x;jsessionid=1", "';' in a path segment"],
    ["/crm/..;/admin", "';' in a path segment"],
    ["/crm/x%3By", "';' in a path segment"],
    ["/crm/%zz", "malformed percent-encoding"],
    ["/crm/%4", "malformed percent-encoding"],
    ["/crm/%00", "NUL"],
    ["/crm/refunds%0A", "control character"],
    ["/crm/refunds%0d", "control character"],
    ["/crm/a%09b", "control character"],
    ["/crm/a%7F", "control character"],
    ["/crm/%ff%fe", "not valid UTF-8"],
    ["/crm/%c0%af", "not valid UTF-8"],
    ["/x#frag", "fragment"],
    ["/crm/%252e%252e/admin", "double-encoded"],
    ["/crm/a%252fb", "double-encoded"],
  ])("refuses %s", (url, reason) => {
    const r = parseRequestTarget(url);
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.reason).toContain(reason);
  });
});

describe("canonicalPath in canonical mode", () => {
  it.each([
    ["/files/group%2Fproject", "/files/group/project"],
    ["/crm/a%2F..%2Fadmin", "/crm/admin"],
    ["/crm\\..\\admin", "/admin"],
    ["/crm/..;/admin", "/admin"],
    ["/crm/x;jsessionid=1/y", "/crm/x/y"],
  ])("%s -> %s", (raw, path) => {
    const c = canonicalPath(raw, "canonical");
    expect(c.ok && c.path).toBe(path);
  });

  it("still refuses invalid UTF-8 and NUL", () => {
    expect(canonicalPath("/a/%ff", "canonical").ok).toBe(false);
    expect(canonicalPath("/a/%00", "canonical").ok).toBe(false);
  });
});

describe("parsedPath", () => {
  it.each([
    ["/", []],
    ["/a/b", ["a", "b"]],
    ["/customers/alice%40example.com", ["customers", "alice@example.com"]],
    ["/a%20b/c+d", ["a b", "c+d"]],
    ["/v1..2/x", ["v1..2", "x"]],
    ["/caf%C3%A9", ["café"]],
  ])("%s", (path, segments) => {
    expect(parsedPath(path)).toEqual(segments);
  });
});

describe("forwardPath", () => {
  it.each([
    ["", "/x", "", false, "/x"],
    ["/api", "/x", "a=1", false, "/api/x?a=1"],
    ["/api", "/x", "", true, "/api/x/"],
    ["/api", "/", "", false, "/api/"],
    ["", "/redirect/http:/evil", "", false, "/redirect/http:/evil"],
  ])("%j + %j + %j (trailing %j)", (base, rest, query, trailing, expected) => {
    expect(forwardPath(base, rest, query, trailing)).toBe(expected);
  });
});

describe("parsedQuery", () => {
  it("keeps every value, decodes, and treats __proto__ as a plain name", () => {
    const q = parsedQuery("a=1&a=2&b=x%20y&c=d+e&empty=&flag&__proto__=p");
    expect(q).toEqual({ a: ["1", "2"], b: ["x y"], c: ["d e"], empty: [""], flag: [""], ["__proto__"]: ["p"] });
    expect(Object.getPrototypeOf(q)).toBe(Object.prototype);
  });
});

describe("withoutParam", () => {
  it.each([
    ["_method=DELETE", ""],
    ["a=1&_method=DELETE&b=2", "a=1&b=2"],
    ["a=1&%5Fmethod=PUT", "a=1"],
    ["_methodx=1", "_methodx=1"],
  ])("%s", (q, expected) => {
    expect(withoutParam(q, (n) => n === "_method")).toBe(expected);
  });
});
