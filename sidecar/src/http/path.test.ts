import { describe, expect, it } from "vitest";
import { forwardPath, parsedPath, parsedQuery, parseRequestTarget } from "./path.js";

describe("parseRequestTarget", () => {
  it.each([
    ["/crm/customers/1?x=1", { authority: undefined, path: "/crm/customers/1", query: "x=1" }],
    ["/", { authority: undefined, path: "/", query: "" }],
    ["//crm///customers", { authority: undefined, path: "/crm/customers", query: "" }],
    ["/a?", { authority: undefined, path: "/a", query: "" }],
    ["http://crm.internal:8080/x?y", { authority: "crm.internal:8080", path: "/x", query: "y" }],
    ["http://crm.internal", { authority: "crm.internal", path: "/", query: "" }],
    ["http://crm.internal?q=1", { authority: "crm.internal", path: "/", query: "q=1" }],
    ["/files/group%2Fproject", { authority: undefined, path: "/files/group%2Fproject", query: "" }],
  ])("%s", (url, expected) => {
    expect(parseRequestTarget(url)).toEqual(expected);
  });

  it.each([
    "*",
    "crm/x",
    "/crm/../admin",
    "/crm/./x",
    "/crm/%2e%2e/admin",
    "/crm/%2E%2e",
    "/crm/a%2F..%2Fadmin",
    "/crm/a%5C..%5Cadmin",
    "/crm\\..\\admin",
    "/crm/%zz",
    "/crm/%00",
    "/x#frag",
    "/..",
  ])("refuses %s", (url) => {
    expect(parseRequestTarget(url)).toBeUndefined();
  });
});

describe("parsedPath", () => {
  it.each([
    ["/", [""]],
    ["/a/b", ["a", "b"]],
    ["/a/b/", ["a", "b", ""]],
    ["/customers/alice%40example.com", ["customers", "alice@example.com"]],
    ["/a%20b/c+d", ["a b", "c+d"]],
    ["/files/group%2Fproject", ["files", "group/project"]],
    ["/v1..2/x", ["v1..2", "x"]],
  ])("%s", (path, segments) => {
    expect(parsedPath(path)).toEqual(segments);
  });
});

describe("forwardPath", () => {
  it.each([
    ["", "/x", "", "/x"],
    ["/api", "/x", "a=1", "/api/x?a=1"],
    ["/api", "/", "", "/api/"],
    ["", "/redirect/http:/evil", "", "/redirect/http%3A/evil"],
  ])("%j + %j + %j", (base, rest, query, expected) => {
    expect(forwardPath(base, rest, query)).toBe(expected);
  });
});

describe("parsedQuery", () => {
  it("keeps every value, decodes, and treats __proto__ as a plain name", () => {
    const q = parsedQuery("a=1&a=2&b=x%20y&c=d+e&empty=&flag&__proto__=p");
    expect(q).toEqual({ a: ["1", "2"], b: ["x y"], c: ["d e"], empty: [""], flag: [""], ["__proto__"]: ["p"] });
    expect(Object.getPrototypeOf(q)).toBe(Object.prototype);
  });
});
