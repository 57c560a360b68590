// Request-side red team, third pass: method overrides and parameters that a framework reads where regate
// did not look, judged by the method the upstream executed. The upstream below reads a request as each
// framework does (prefix = reader); the example policy denies DELETE, so any DELETE it records is a bypass.
//   /aspnet  ASP.NET MVC 5 (System.Web): on a POST, X-HTTP-Method-Override from the header, else a form field
//            (urlencoded or multipart), else a query parameter of that name, matched without case; query and
//            form text decoded by HttpUtility.UrlDecode, which reads IIS's %uXXXX escapes
//   /spring  Spring's HiddenHttpMethodFilter on Tomcat: `_method` from the query, a form or a multipart part,
//            whose name Tomcat's copy of Commons FileUpload decodes when written as an RFC 2047 encoded word
//   /rack1   Rack 1.x's MethodOverride (Rails 4, Sinatra 1): `_method` from a form body split at "&" and ";"

import { createServer, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, authed, closeServer, listen, rawExchange, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

/** HttpUtility.UrlDecode: "+" is a space, %XX a byte, %uXXXX a UTF-16 unit. */
function aspnetDecode(s: string): string {
  return s.replace(/\+/g, " ").replace(/%u([0-9a-f]{4})|%([0-9a-f]{2})/gi, (m, u?: string, x?: string) => (u ? String.fromCharCode(parseInt(u, 16)) : decodeURIComponent(`%${x}`)));
}

function pairs(text: string, split: RegExp, decode: (s: string) => string): [string, string][] {
  return text
    .split(split)
    .filter((p) => p !== "")
    .map((p) => {
      const eq = p.indexOf("=");
      return [decode(eq < 0 ? p : p.slice(0, eq)), decode(eq < 0 ? "" : p.slice(eq + 1))];
    });
}

/** RFC 2047 encoded words (=?cs?B?...?= and =?cs?Q?...?=), as Commons FileUpload's MimeUtility.decodeText reads them. */
function decodeWords(s: string): string {
  return s.replace(/=\?[^?]+\?([bq])\?([^?]*)\?=/gi, (_m, enc: string, text: string) =>
    enc.toLowerCase() === "b" ? Buffer.from(text, "base64").toString("utf8") : text.replace(/_/g, " ").replace(/=([0-9a-f]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
  );
}

/** Fields of a multipart/form-data body: each part's name (as `name` reads it) and its text. */
function multipart(req: IncomingMessage, body: string, name: (raw: string) => string): [string, string][] {
  const boundary = /boundary=([^;]+)/.exec(req.headers["content-type"] ?? "")?.[1];
  if (!boundary) return [];
  const out: [string, string][] = [];
  for (const part of body.split(`--${boundary}`)) {
    const head = part.indexOf("\r\n\r\n");
    const m = /name="([^"]*)"/.exec(part.slice(0, head));
    if (head < 0 || !m) continue;
    out.push([name(m[1]!), part.slice(head + 4).replace(/\r\n$/, "")]);
  }
  return out;
}

/** The method each framework executes for this request. */
function executed(req: IncomingMessage, body: string): string {
  const url = req.url ?? "/";
  const reader = url.split("/")[1]!;
  const query = url.includes("?") ? url.slice(url.indexOf("?") + 1) : "";
  const type = req.headers["content-type"] ?? "";
  const wire = req.method ?? "";
  if (wire !== "POST") return wire;
  const form = (split: RegExp, decode: (s: string) => string, name: (raw: string) => string = (n) => n): [string, string][] =>
    type.startsWith("application/x-www-form-urlencoded") ? pairs(body, split, decode) : type.startsWith("multipart/form-data") ? multipart(req, body, name) : [];
  let override: string | undefined;
  if (reader === "aspnet") {
    const key = "x-http-method-override";
    const find = (list: [string, string][]): string | undefined => list.find(([k]) => k.toLowerCase() === key)?.[1];
    override = (req.headers[key] as string | undefined) ?? find(form(/&/, aspnetDecode)) ?? find(pairs(query, /&/, aspnetDecode));
    if (override && ["GET", "POST"].includes(override.toUpperCase())) override = undefined;
  } else if (reader === "spring") {
    const plain = (s: string): string => decodeURIComponent(s.replace(/\+/g, " "));
    override = [...pairs(query, /&/, plain), ...form(/&/, plain, decodeWords)].find(([k]) => k === "_method")?.[1];
  } else if (reader === "rack1") {
    const list = form(/[&;] */, (s) => decodeURIComponent(s.replace(/\+/g, " ")));
    override = list.filter(([k]) => k === "_method").pop()?.[1];
  }
  return override ? override.toUpperCase() : wire;
}

let executedMethods: string[] = [];
let gw: GatewayUnderTest;
let close: () => Promise<void>;

beforeAll(async () => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      executedMethods.push(executed(req, Buffer.concat(chunks).toString("utf8")));
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  const url = await listen(server);
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
  gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: url, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
  close = async () => {
    await gw.close();
    await closeServer(server);
  };
});

afterAll(() => close());

async function post(path: string, type: string | undefined, body: string, extra: Record<string, string> = {}) {
  executedMethods = [];
  const res = await fetch(`${gw.url}${path}`, { method: "POST", headers: authed({ ...(type ? { "content-type": type } : {}), ...extra }), body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, executed: executedMethods };
}

const MULTIPART = "multipart/form-data; boundary=XyZ";
const part = (name: string, value: string): string => `--XyZ\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n--XyZ--\r\n`;

describe("the framework emulations read what they claim", () => {
  it("ASP.NET's decoder, RFC 2047 words, Rack 1's separators", () => {
    expect(aspnetDecode("X%u002DHTTP-Method-Override+x")).toBe("X-HTTP-Method-Override x");
    expect(decodeWords("=?UTF-8?B?X21ldGhvZA==?=")).toBe("_method");
    expect(decodeWords("=?utf-8?Q?=5Fmethod?=")).toBe("_method");
  });
});

describe("ASP.NET MVC reads X-HTTP-Method-Override as a form field or a query parameter too", () => {
  const DENIED = [403, "DELETE requests are not allowed"] as const;
  const UNREADABLE = [400, "_method override regate cannot read"] as const;
  it.each([
    ["a query parameter", "/aspnet/customers/7?X-HTTP-Method-Override=DELETE", "application/json", "{}", DENIED],
    ["a query parameter, another case", "/aspnet/customers/7?x-http-method-override=delete", "application/json", "{}", DENIED],
    ["a query parameter spelled with %u escapes", "/aspnet/customers/7?X%u002DHTTP%u002DMethod%u002DOverride=DELETE", "application/json", "{}", [400, "%u escape"] as const],
    ["a form field", "/aspnet/customers/7", "application/x-www-form-urlencoded", "X-HTTP-Method-Override=DELETE", DENIED],
    ["a form field spelled with %u escapes", "/aspnet/customers/7", "application/x-www-form-urlencoded", "X-HTTP-Method-Overrid%u0065=DELETE", UNREADABLE],
    ["a multipart field", "/aspnet/customers/7", MULTIPART, part("X-HTTP-Method-Override", "DELETE"), UNREADABLE],
  ])("%s: refused, the upstream deletes nothing", async (_what, path, type, body, [status, reason]) => {
    const r = await post(path, type, body);
    expect(r.executed).toEqual([]);
    expect(r.status).toBe(status);
    expect(r.body).toMatchObject({ reason: expect.stringContaining(reason) });
  });

  it("must-allow: a POST with ordinary fields and query parameters goes through as a POST", async () => {
    const r = await post("/aspnet/customers/7?view=full&page=2", "application/x-www-form-urlencoded", "name=Ann+Smith&note=100%25+done");
    expect([r.status, r.executed]).toEqual([200, ["POST"]]);
  });
});

describe("Tomcat (Spring's HiddenHttpMethodFilter) decodes RFC 2047 encoded words in multipart field names", () => {
  it.each([
    ["base64", "=?UTF-8?B?X21ldGhvZA==?="],
    ["Q encoding", "=?utf-8?Q?=5Fmethod?="],
    ["Q encoding of every letter", "=?utf-8?Q?=5F=6D=65=74=68=6F=64?="],
  ])("a _method named in %s: refused 400, the upstream deletes nothing", async (_what, name) => {
    const r = await post("/spring/customers/7", MULTIPART, part(name, "DELETE"));
    expect(r.executed).toEqual([]);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: "bad_request", reason: expect.stringContaining("_method") });
  });

  it("must-allow: an upload with ordinary field names and a file goes through", async () => {
    const body = `--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\nQ3 report\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="r.csv"\r\nContent-Type: text/csv\r\n\r\nid,total\r\n1,20\r\n--XyZ--\r\n`;
    const r = await post("/spring/uploads", MULTIPART, body);
    expect([r.status, r.executed]).toEqual([200, ["POST"]]);
  });
});

describe("Rack 1 (Rails 4, Sinatra 1) splits a form body at ';' as at '&'", () => {
  it("a _method after a ';' in a form: refused, the upstream deletes nothing", async () => {
    const r = await post("/rack1/customers/7", "application/x-www-form-urlencoded", "name=Ann;_method=DELETE");
    expect(r.executed).toEqual([]);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: "bad_request", reason: expect.stringContaining("_method") });
  });

  it("any other field after a ';' is two readings of one form: refused as unparsable", async () => {
    const r = await post("/rack1/notes", "application/x-www-form-urlencoded", "text=hi;text=rm");
    expect(r.executed).toEqual([]);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ reason: expect.stringContaining("could not be parsed") });
  });

  it("must-allow: a ';' percent-encoded in a form value is data to every reader", async () => {
    const r = await post("/rack1/notes", "application/x-www-form-urlencoded", "text=a%3Bb&n=1");
    expect([r.status, r.executed]).toEqual([200, ["POST"]]);
  });
});

describe("query text decoders read otherwise: refused with 400 and a reason", () => {
  it.each([
    ["an IIS %u escape", "/aspnet/x?scope=%u0061ll", "%u"],
    ["a malformed escape (Go and Tomcat drop the pair, others keep it)", "/aspnet/x?a=%zz&a=1", "percent"],
    ["a lone %", "/aspnet/x?discount=100%", "percent"],
    ["invalid UTF-8 (PHP keeps the byte, Python and URLSearchParams read U+FFFD)", "/aspnet/x?name=caf%E9", "UTF-8"],
  ])("%s", async (_what, path, word) => {
    executedMethods = [];
    const res = await fetch(`${gw.url}${path}`, { headers: authed() });
    expect(executedMethods).toEqual([]);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "bad_request", reason: expect.stringContaining(word) });
  });

  it("must-allow: UTF-8, '+', %20, %25 and reserved characters escaped in a query", async () => {
    executedMethods = [];
    const res = await fetch(`${gw.url}/aspnet/x?q=caf%C3%A9+au%20lait&pct=100%25&next=%2Fa%3Fb%3D1&e=`, { headers: authed() });
    expect([res.status, executedMethods]).toEqual([200, ["GET"]]);
  });
});

describe("a Host or absolute-form authority that is more than a host and port", () => {
  // Routes match the name before the first ":"; a policy that drops a port from input.http.host read
  // "admin.example:1@evil" as another host and let the admin route's request through.
  let admin: GatewayUnderTest;
  let adminCalls = 0;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    const server = createServer((_req, res) => {
      adminCalls++;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    const url = await listen(server);
    const decider = new TestRulesDecider((input) => (String((input.http as { host: string }).host).replace(/:\d+$/, "") === "admin.example" ? { outcome: "deny", reasons: ["no agent may use the admin host"] } : {}));
    admin = await startGateway({ routes: [{ name: "admin", host: "admin.example", prefix: "/", upstream: url, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
    stop = async () => {
      await admin.close();
      await closeServer(server);
    };
  });
  afterAll(() => stop());

  const exchange = (target: string, host: string) =>
    rawExchange(admin.port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nConnection: close\r\n\r\n`);

  it.each([
    ["a Host with userinfo", "/users", "admin.example:1@evil", "Host header"],
    ["a Host with a path", "/users", "admin.example:/x", "Host header"],
    ["an absolute-form authority with userinfo", "http://admin.example:1@evil/users", "admin.example", "authority"],
  ])("%s: refused 400, the upstream is not called", async (_what, target, host, word) => {
    adminCalls = 0;
    const out = await exchange(target, host);
    expect(adminCalls).toBe(0);
    expect(out).toMatch(/^HTTP\/1.1 400 /);
    expect(out).toContain(word);
  });

  it("must-allow: the policy still judges admin.example with or without a port", async () => {
    adminCalls = 0;
    expect(await exchange("/users", "admin.example:8080")).toMatch(/^HTTP\/1.1 403 /);
    expect(await exchange("http://admin.example/users", "admin.example")).toMatch(/^HTTP\/1.1 403 /);
    expect(adminCalls).toBe(0);
  });
});

describe("an Expect other than 100-continue", () => {
  it("is answered 417 with a JSON reason, and nothing is forwarded", async () => {
    executedMethods = [];
    const out = await rawExchange(gw.port, `POST /aspnet/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1.1 417 /);
    expect(JSON.parse(out.slice(out.indexOf("\r\n\r\n") + 4))).toMatchObject({ error: "expectation_failed", code: "FEATURE_UNSUPPORTED" });
    expect(executedMethods).toEqual([]);
  });
});

describe("a query that starts with '?' (a request target with '??')", () => {
  // URLSearchParams drops a leading "?", Express (qs), Python, Go, Rack and PHP keep it in the first name: the
  // policy read tenant=acme where the upstream got no tenant at all (and listed every tenant's orders).
  let g: GatewayUnderTest;
  let tenants: (string | undefined)[] = [];
  let stop: () => Promise<void>;
  beforeAll(async () => {
    const server = createServer((req, res) => {
      const q = (req.url ?? "").slice((req.url ?? "").indexOf("?") + 1);
      tenants.push(pairs(q, /&/, (x) => decodeURIComponent(x.replace(/\+/g, " "))).find(([k]) => k === "tenant")?.[1]);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    const url = await listen(server);
    const decider = new TestRulesDecider((input) => {
      const values = (input.http as { parsed_query: Record<string, string[]> }).parsed_query.tenant ?? [];
      return values.length > 0 && values.every((v) => v === "acme") ? {} : { outcome: "deny", reasons: ["orders are read one tenant at a time: tenant=acme"] };
    });
    g = await startGateway({ routes: [{ name: "orders", prefix: "/", upstream: url, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
    stop = async () => {
      await g.close();
      await closeServer(server);
    };
  });
  afterAll(() => stop());

  it("the policy reads the first name as the upstream does: no tenant, refused", async () => {
    tenants = [];
    const res = await fetch(`${g.url}/orders??tenant=acme`, { headers: authed() });
    expect(tenants).toEqual([]);
    expect(res.status).toBe(403);
  });

  it("must-allow: ?tenant=acme", async () => {
    tenants = [];
    const res = await fetch(`${g.url}/orders?tenant=acme&page=2`, { headers: authed() });
    expect([res.status, tenants]).toEqual([200, ["acme"]]);
  });
});
