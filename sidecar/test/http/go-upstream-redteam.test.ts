// Red team against a real Go net/http API (standard library only, go-upstream/main.go) behind regate, judged
// by the example policy: Go 1.22 ServeMux routing, Go's form and JSON readers, encoding/json's answers. Each
// request is sent to Go directly first, to show what it executes, then through regate.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import { packageRoot } from "../../src/paths.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { AGENT_TOKEN, authed, rawExchange, rawRequest, startGateway, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

interface Executed {
  route: string;
  method: string;
  path: string;
  amount?: string;
}

let child: ChildProcess;
let goUrl: string;
let gw: GatewayUnderTest;

beforeAll(async () => {
  // go build caches by content: after the first run this takes well under a second.
  const out = join(packageRoot, "build", "go-upstream");
  mkdirSync(out, { recursive: true });
  const bin = join(out, "go-upstream");
  await promisify(execFile)("go", ["build", "-o", bin, "main.go"], { cwd: join(packageRoot, "sidecar", "test", "http", "go-upstream"), timeout: 120_000 });
  child = spawn(bin, [], { stdio: ["ignore", "pipe", "inherit"] });
  goUrl = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`go upstream exited with ${code}`)));
  });
  const store = new PolicyStore(BUNDLE);
  await store.load();
  const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
  gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: goUrl, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
}, 150_000);

afterAll(async () => {
  await gw?.close();
  child?.kill();
});

async function executedLog(): Promise<Executed[]> {
  return ((await (await fetch(`${goUrl}/_executed`)).json()) as Executed[] | null) ?? [];
}

/** Sends one request as written (path not normalised) and returns what Go executed for it. */
async function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const before = (await executedLog()).length;
  const r = await rawRequest(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: r.status, body: r.body.toString(), headers: r.headers, executed: (await executedLog()).slice(before) };
}

const form = { "content-type": "application/x-www-form-urlencoded" };

const json = { "content-type": "application/json" };
const APPROVAL = "APPROVAL_REQUIRED";

describe("ServeMux routes a spelling of /refunds: through regate it is judged as the refund Go runs", () => {
  it.each([
    ["as written", "/refunds"],
    ["with a percent-encoded letter (Go unescapes segments before matching)", "/%72efunds"],
  ])("%s: Go refunds directly; through regate it needs approval and Go runs nothing", async (_name, path) => {
    expect((await send(goUrl, "POST", path, form, "amount=1000")).executed).toEqual([{ route: "refund", method: "POST", path: "/refunds", amount: "1000" }]);
    const r = await send(gw.url, "POST", path, authed(form), "amount=1000");
    expect(r.status).toBe(403);
    expect(r.body).toContain(APPROVAL);
    expect(r.executed).toEqual([]);
  });

  it.each([
    ["/x/..%2Frefunds", "fallback"],
    ["/refunds%2F", "fallback"],
    ["/refunds/1%2F..", "refund 1/.."],
  ])("an encoded '/' (%s: Go keeps it inside one segment and runs %s) is refused with 400", async (path, route) => {
    expect((await send(goUrl, "POST", path, form, "amount=1")).executed.map((e) => e.route)).toEqual([route]);
    const r = await send(gw.url, "POST", path, authed(form), "amount=1");
    expect(r.status).toBe(400);
    expect(r.body).toContain("encoded '/'");
    expect(r.executed).toEqual([]);
  });

  it("POST /refunds/{id} (a refund by id, as ServeMux and Express route it) needs approval too; a GET of one does not", async () => {
    expect((await send(goUrl, "POST", "/refunds/123", form, "amount=5")).executed.map((e) => e.route)).toEqual(["refund 123"]);
    const r = await send(gw.url, "POST", "/refunds/123", authed(form), "amount=5");
    expect(r.status).toBe(403);
    expect(r.body).toContain(APPROVAL);
    expect(r.executed).toEqual([]);
    expect((await send(gw.url, "GET", "/refunds", authed())).status).toBe(200);
  });

  it("'//refunds' (Go answers 307 to the cleaned path) is judged at the cleaned path", async () => {
    expect((await send(goUrl, "POST", "//refunds", form, "amount=1")).status).toBe(307);
    const r = await send(gw.url, "POST", "//refunds", authed(form), "amount=1");
    expect(r.status).toBe(403);
    expect(r.body).toContain(APPROVAL);
    expect(r.executed).toEqual([]);
  });
});

describe("overrides net/http never honours: judged as the POST Go runs, not as the GET they name", () => {
  it.each([
    ["X-HTTP-Method-Override", "/refunds?amount=1000", { "x-http-method-override": "GET" }, undefined],
    ["X-HTTP-Method", "/refunds?amount=1000", { "x-http-method": "GET" }, undefined],
    ["X-Method-Override", "/refunds?amount=1000", { "x-method-override": "GET" }, undefined],
    ["_method in the query", "/refunds?amount=1000&_method=GET", {}, undefined],
    ["_method in a form body (r.FormValue reads the body first)", "/refunds", form, "_method=GET&amount=1000"],
  ])("%s: Go refunds 1000; through regate it needs approval", async (_name, path, headers: Record<string, string>, body) => {
    expect((await send(goUrl, "POST", path, headers, body)).executed).toEqual([{ route: "refund", method: "POST", path: "/refunds", amount: "1000" }]);
    const r = await send(gw.url, "POST", path, authed(headers), body);
    expect(r.status).toBe(403);
    expect(r.body).toContain(APPROVAL);
    expect(r.executed).toEqual([]);
  });

  it("a multipart form (r.FormValue parses it too) needs approval like any refund", async () => {
    const mp = { "content-type": "multipart/form-data; boundary=XX" };
    const body = '--XX\r\nContent-Disposition: form-data; name="amount"\r\n\r\n1000\r\n--XX--\r\n';
    expect((await send(goUrl, "POST", "/refunds", mp, body)).executed[0]?.amount).toBe("1000");
    const r = await send(gw.url, "POST", "/refunds", authed(mp), body);
    expect(r.status).toBe(403);
    expect(r.executed).toEqual([]);
  });
});

describe("json.Decoder reads the first JSON value and leaves the rest", () => {
  it.each([
    ["application/json", json],
    ["text/plain", { "content-type": "text/plain" }],
    ["no type", {}],
  ])("two values under %s: Go executes the first; regate refuses the body it cannot read as one value", async (_name, headers: Record<string, string>) => {
    const body = '{"amount":1}{"amount":1000}';
    expect((await send(goUrl, "POST", "/refunds", headers, body)).executed[0]?.amount).toBe("1");
    const r = await send(gw.url, "POST", "/refunds", authed(headers), body);
    expect(r.status).toBe(403);
    expect(r.executed).toEqual([]);
  });
});

describe("must-allow: reads Go answers are executed and masked", () => {
  it("GET and HEAD of a route ServeMux registered for GET go through", async () => {
    for (const method of ["GET", "HEAD"]) {
      const r = await send(gw.url, method, "/refunds", authed());
      expect(r.status).toBe(200);
      expect(r.executed).toEqual([{ route: "list refunds", method, path: "/refunds" }]);
    }
  });

  it("a DELETE is denied and never runs", async () => {
    const r = await send(gw.url, "DELETE", "/customers/1", authed());
    expect(r.status).toBe(403);
    expect(r.executed).toEqual([]);
  });

  it.each([
    ["application/json", ""],
    ["no Content-Type (net/http sniffs text/plain)", "?form=sniffed"],
    ["gzip", "?form=gzip"],
  ])("encoding/json's answer under %s: PII masked, in the base64 of a []byte field too; \\u003c escapes kept", async (_name, query) => {
    const r = await send(gw.url, "GET", `/customers/1${query}`, authed());
    expect(r.status).toBe(200);
    const doc = JSON.parse(r.body) as { name: string; email: string; ssn: string; record: string };
    expect(r.body).toContain("Alice \\u003cAdmin\\u003e \\u0026 co");
    expect(doc.email).toBe("***@example.com");
    expect(doc.ssn).toBe("****");
    const inner = JSON.parse(Buffer.from(doc.record, "base64").toString()) as { email: string; ssn: string };
    expect([inner.email, inner.ssn]).toEqual(["***@example.com", "****"]);
    expect(r.body).not.toContain("alice@example.com");
  });

  it.each(["rawdeflate", "zlib", "xgzip"])("a %s-compressed answer is masked", async (form) => {
    const r = await send(gw.url, "GET", `/forms/${form}`, authed());
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { email: string }).email).toBe("***@example.com");
  });

  it("a Range on http.ServeContent: Go answers 206 with a piece; through regate the whole export, masked", async () => {
    expect((await send(goUrl, "GET", "/exports/customers.json", { range: "bytes=30-60" })).status).toBe(206);
    for (const range of ["bytes=30-60", "bytes=0-20,30-60"]) {
      const r = await send(gw.url, "GET", "/exports/customers.json", authed({ range }));
      expect(r.status).toBe(200);
      expect((JSON.parse(r.body) as { email: string }[]).map((c) => c.email)).toEqual(["***@example.com", "***@example.com"]);
    }
  });
});

describe("Go answers field masks cannot reach are refused, never passed", () => {
  it.each(["xml", "xmlattr", "csv", "printf", "map", "gob", "form", "gzipgzip", "gzipidentity"])("%s", async (form) => {
    const r = await send(gw.url, "GET", `/forms/${form}`, authed());
    expect(r.status).toBe(403);
    expect(r.body).toContain("MASK_");
    expect(r.body).not.toContain("alice@example.com");
    expect(r.body).not.toContain("123-45-6789");
  });

  it.each(["/trailers/1", "/hints/1"])("the email in a trailer or a 103 Early Hints (%s) never reaches the agent", async (path) => {
    const out = await rawExchange(gw.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\nTE: trailers\r\nConnection: close\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out).not.toContain("alice@example.com");
    expect(out).not.toContain("123-45-6789");
  });
});
