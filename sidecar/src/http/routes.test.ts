import { describe, expect, it } from "vitest";
import { RegateError } from "../errors.js";
import { compileRoutes, hostName, matchRoute } from "./routes.js";

const routes = compileRoutes([
  { name: "root", prefix: "/", upstream: "http://127.0.0.1:1" },
  { name: "crm", prefix: "/crm/", upstream: "http://127.0.0.1:2/api/", credential: { type: "bearer", value: "s3cret" } },
  { name: "crm-admin", prefix: "/crm/admin", upstream: "http://127.0.0.1:3" },
  { name: "mcp-host", prefix: "/", host: "mcp.localhost", upstream: "https://mcp.internal" },
]);

describe("matchRoute", () => {
  it.each([
    ["localhost", "/crm/customers", "crm", "/customers"],
    ["localhost", "/crm", "crm", "/"],
    ["localhost", "/crmx", "root", "/crmx"],
    ["localhost", "/crm/admin/users", "crm-admin", "/users"],
    ["localhost", "/crm/administrator", "crm", "/administrator"],
    ["mcp.localhost", "/crm/customers", "mcp-host", "/crm/customers"],
    ["localhost", "/", "root", "/"],
  ])("%s %s -> %s %s", (host, path, name, rest) => {
    const m = matchRoute(routes, host, path);
    expect(m?.route.name).toBe(name);
    expect(m?.rest).toBe(rest);
  });

  it("returns undefined when nothing matches", () => {
    expect(matchRoute(routes.slice(1, 2), "localhost", "/other")).toBeUndefined();
  });
});

describe("compileRoutes", () => {
  it("normalises prefix and base path and builds the credential header", () => {
    const crm = routes[1]!;
    expect(crm).toMatchObject({ prefix: "/crm", basePath: "/api", origin: "http://127.0.0.1:2", credentialHeader: "authorization", credentialValue: "Bearer s3cret" });
  });

  it.each([
    [{ type: "basic", value: "user:pa:ss" }, "authorization", `Basic ${Buffer.from("user:pa:ss").toString("base64")}`],
    [{ type: "header", header: "X-API-Key", value: "k" }, "x-api-key", "k"],
  ] as const)("credential %j", (credential, header, value) => {
    const [r] = compileRoutes([{ name: "r", prefix: "/", upstream: "http://h", credential }]);
    expect([r!.credentialHeader, r!.credentialValue]).toEqual([header, value]);
  });

  // Config load has moved userinfo into the credential; one that reaches here anyway is refused, not sent.
  it.each(["http://us%40er:p%3Ass@h:81/x", "http://:p%3Ass@h", "http://user@h"])("refuses an upstream still carrying userinfo (%s), naming the route only", (upstream) => {
    for (const credential of [undefined, { type: "bearer" as const, value: "t" }]) {
      let err: unknown;
      try {
        compileRoutes([{ name: "r", prefix: "/", upstream, ...(credential ? { credential } : {}) }]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RegateError);
      expect(err).toMatchObject({ code: "CONFIG_INVALID", message: "route r: upstream still carries userinfo (config load moves it into the route's credential)" });
    }
  });

  it.each([
    [{ name: "r", prefix: "/", upstream: "http://h", credential: { type: "bearer" as const, value: "a\r\nX-Injected: 1" } }, /CR, LF/],
    [{ name: "r", prefix: "/", upstream: "http://h", credential: { type: "header" as const, header: "bad header", value: "v" } }, /header name/],
    [{ name: "r", prefix: "/", upstream: "http://h", credential: { type: "basic" as const, value: "nocolon" } }, /user:password/],
    [{ name: "r", prefix: "x", upstream: "http://h" }, /prefix/],
    [{ name: "r", prefix: "/", upstream: "ftp://h" }, /http or https/],
    [{ name: "r", prefix: "/", upstream: "not a url" }, /not a URL/],
  ])("refuses %j", (route, message) => {
    expect(() => compileRoutes([route])).toThrow(RegateError);
    expect(() => compileRoutes([route])).toThrow(message);
  });

  it("never puts the URL (which may carry userinfo) in an error", () => {
    try {
      compileRoutes([{ name: "r", prefix: "/", upstream: "gopher://user:hunter2@h" }]);
    } catch (err) {
      expect(String((err as Error).message)).not.toContain("hunter2");
    }
  });

  it("refuses duplicate names", () => {
    expect(() => compileRoutes([{ name: "a", prefix: "/", upstream: "http://h" }, { name: "a", prefix: "/b", upstream: "http://h" }])).toThrow(/unique/);
  });
});

describe("hostName", () => {
  it.each([
    ["Example.COM:8080", "example.com"],
    ["[::1]:8080", "::1"],
    ["localhost", "localhost"],
    [undefined, ""],
  ])("%s", (h, expected) => expect(hostName(h)).toBe(expected));
});
