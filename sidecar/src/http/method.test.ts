import { describe, expect, it } from "vitest";
import type { BodyFacts } from "./request-body-facts.js";
import { effectiveMethod, findOverrides, isOverrideParam, overrideHeader, replayable, stripOverrideHeaders, unparsedBodyMayOverride } from "./method.js";

const noBody: BodyFacts = { body_size: 0, truncated_body: false, body_parse_error: false };
const form = (v: Record<string, string[]>): BodyFacts => ({ ...noBody, content_type: "application/x-www-form-urlencoded", parsed_body: v });
const json = (v: unknown): BodyFacts => ({ ...noBody, content_type: "application/json", parsed_body: v });

describe("effective method", () => {
  it.each([
    ["no override", "GET", {}, {}, noBody, "GET"],
    ["X-HTTP-Method-Override", "POST", { "x-http-method-override": "DELETE" }, {}, noBody, "DELETE"],
    ["X-HTTP-Method, lowercase value", "POST", { "x-http-method": " delete " }, {}, noBody, "DELETE"],
    ["X-Method-Override", "GET", { "x-method-override": "PUT" }, {}, noBody, "PUT"],
    ["_method in the query", "POST", {}, { _method: ["DELETE"] }, noBody, "DELETE"],
    ["_method in a form", "POST", {}, {}, form({ _method: ["PATCH"] }), "PATCH"],
    ["_method in JSON", "POST", {}, {}, json({ _method: "delete" }), "DELETE"],
    ["agreeing overrides", "POST", { "x-http-method-override": "DELETE" }, { _method: ["delete"] }, noBody, "DELETE"],
  ])("%s", (_name, wire, headers, query, body, expected) => {
    const r = effectiveMethod(wire, findOverrides(headers, query, body));
    expect(r.ok && r.result.method).toBe(expected);
  });

  it.each([
    ["disagreeing headers", { "x-http-method-override": "DELETE", "x-http-method": "PUT" }, {}, noBody, "disagree"],
    ["header list with two methods", { "x-http-method-override": "GET, DELETE" }, {}, noBody, "disagree"],
    ["header and query disagree", { "x-http-method-override": "GET" }, { _method: ["DELETE"] }, noBody, "disagree"],
    ["not a token", { "x-http-method-override": "DE LETE" }, {}, noBody, "not a method name"],
    ["JSON _method not a string", {}, {}, json({ _method: ["DELETE"] }), "not a method name"],
  ])("refuses %s", (_name, headers, query, body, reason) => {
    const r = effectiveMethod("POST", findOverrides(headers, query, body));
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.reason).toContain(reason);
  });

  it("names where the override came from", () => {
    const r = effectiveMethod("POST", findOverrides({ "x-http-method-override": "DELETE" }, { _method: ["DELETE"] }, noBody));
    expect(r.ok && r.result.override).toEqual({ source: ["x-http-method-override", "query"], value: "DELETE" });
  });
});

describe("override names as upstreams read them", () => {
  it.each([
    ["_method", true],
    [".method", true],
    ["_METHOD", true],
    [" _method", true],
    ["_ method", false],
    ["[method", true],
    ["_method[]", true],
    ["_method[x]", true],
    ["method", false],
    ["payment_method", false],
    ["_methods", false],
    ["_method\u0000x", true],
    // qs (Express's extended parsers) and Rack 2 skip brackets before a name.
    ["[_method]", true],
    ["[_method]x", true],
    ["]_method", true],
    ["[]_method", true],
    ["a[_method]", false],
    ["[x]_method", false],
    ["._method", true],
    ["_method.x", true],
    ["payment_method.type", false],
  ])("parameter %j: %s", (name, expected) => {
    expect(isOverrideParam(name)).toBe(expected);
  });

  it("finds header overrides in CGI spelling", () => {
    const r = effectiveMethod("POST", findOverrides({ x_http_method_override: "DELETE" }, {}, noBody));
    expect(r.ok && r.result.override).toEqual({ source: ["x-http-method-override"], value: "DELETE" });
    expect(overrideHeader("x-http_method")).toBe("x-http-method");
    expect(overrideHeader("x-forwarded-for")).toBeUndefined();
  });

  it("strips header overrides in every spelling", () => {
    const h: Record<string, string> = { "x-http-method-override": "A", x_method_override: "B", "x-tenant": "t" };
    stripOverrideHeaders(h);
    expect(h).toEqual({ "x-tenant": "t" });
  });
});

describe("a body regate could not parse", () => {
  const unparsed: BodyFacts = { ...noBody, body_parse_error: true };
  it.each([
    ["_method=DELETE", true],
    [".method=DELETE", true],
    ["%2Emethod=DELETE", true],
    ["%252Emethod=DELETE", true],
    ['{"\\u005fmethod":"DELETE"', true],
    ['{"_\\u006dethod":"DELETE"', true],
    ["_METHOD=delete", true],
    ['{"jsonrpc":"2.0","method":"tools/call"', false],
    ["a=1&b=2", false],
    ['--XX\r\nContent-Disposition: form-data; name*0="_me"; name*1="thod"\r\n\r\nDELETE\r\n--XX--\r\n', true],
  ])("%j may carry an override: %s", (text, expected) => {
    expect(unparsedBodyMayOverride(Buffer.from(text), unparsed)).toBe(expected);
  });

  it("in UTF-16 too", () => {
    expect(unparsedBodyMayOverride(Buffer.from('{"_method":"DELETE"}', "utf16le"), unparsed)).toBe(true);
  });

});

describe("replayable", () => {
  it.each([
    ["GET", { method: "GET" }, true],
    ["HEAD", { method: "HEAD" }, true],
    ["OPTIONS", { method: "OPTIONS" }, true],
    ["POST", { method: "POST" }, false],
    ["PUT", { method: "PUT" }, false],
    ["DELETE", { method: "DELETE" }, false],
    ["PATCH", { method: "PATCH" }, false],
    ["GET", { method: "DELETE", override: { source: ["x-http-method-override" as const], value: "DELETE" } }, false],
    ["GET", { method: "GET", override: { source: ["query" as const], value: "GET" } }, false],
  ])("%s judged as %j: %s", (wire, effective, expected) => {
    expect(replayable(wire, effective)).toBe(expected);
  });
});
