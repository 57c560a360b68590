// Red team against real frameworks instead of mimics: Express 5 (its router, body-parser and qs), Hono (its
// method-override middleware) and Starlette (the router under FastAPI, served by uvicorn) behind regate. Each case is a request the policy would have
// judged as one thing while the framework executed another; every request is first sent to the framework
// directly, to show what it executes, then through regate.

import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { methodOverride } from "hono/method-override";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createServer, request, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../../src/decision/index.js";
import type { HttpInput } from "../../src/http/index.js";
import { packageRoot } from "../../src/paths.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { authed, closeServer, listen, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

/** The part of Express's API this suite uses (the package ships no types). */
interface ExpressRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body?: unknown;
  query: Record<string, unknown>;
}
interface ExpressResponse {
  json(v: unknown): void;
}
type Handler = (req: ExpressRequest, res: ExpressResponse, next: () => void) => void;
interface ExpressApp extends RequestListener {
  use(h: Handler): void;
  set(setting: string, value: unknown): void;
  get(path: string, h: Handler): void;
  post(path: string, h: Handler): void;
  delete(path: string, h: Handler): void;
}
interface Express {
  (): ExpressApp;
  urlencoded(o: { extended: boolean }): Handler;
  json(): Handler;
}
const express = createRequire(import.meta.url)("express") as Express;

interface Executed {
  route: string;
  method: string;
}

let server: Server;
let upstreamUrl: string;
const executed: Executed[] = [];

/** An API as written with Express: forms and JSON parsed, method-override's documented getters, CRUD routes. */
function expressApi(): ExpressApp {
  const app = express();
  // Express 4's default query parser (qs): Express 5 apps set it to keep `a[b]=` parameters nested.
  app.set("query parser", "extended");
  app.use(express.urlencoded({ extended: true }));
  app.use(express.json());
  // What method-override does with the getters its README shows: the X-HTTP-Method-Override header, then a
  // `_method` in the parsed body or query, honoured on POST.
  app.use((req, _res, next) => {
    const body = typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>)._method : undefined;
    const override = req.headers["x-http-method-override"] ?? body ?? req.query._method;
    if (req.method === "POST" && typeof override === "string") req.method = override.toUpperCase();
    next();
  });
  const record =
    (route: string): Handler =>
    (req, res) => {
      executed.push({ route, method: req.method });
      res.json({ route, method: req.method });
    };
  app.get("/admin/export", record("export customers"));
  app.get("/items/:id", record("read item"));
  app.post("/items/:id", record("update item"));
  app.delete("/items/:id", record("delete item"));
  return app;
}

beforeAll(async () => {
  server = createServer(expressApi());
  upstreamUrl = await listen(server);
});

afterAll(() => closeServer(server));

async function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const before = executed.length;
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, text, executed: executed.slice(before) };
}

/**
 * What Express executes for a request sent to it directly, read from its response's head only: a POST it
 * runs as HEAD is answered with a Content-Length and no body, which a client reading the body waits for.
 */
async function executedDirectly(method: string, path: string, headers: Record<string, string> = {}): Promise<Executed[]> {
  const before = executed.length;
  await new Promise<void>((resolve, reject) => {
    const req = request(`${upstreamUrl}${path}`, { method, headers, agent: false }, (res) => {
      res.destroy();
      resolve();
    });
    req.on("error", reject).end();
  });
  return executed.slice(before);
}

const form = { "content-type": "application/x-www-form-urlencoded" };

describe("a _method that qs names so (Express's extended parsers, koa-bodyparser; Rack 2 alike)", () => {
  let gw: GatewayUnderTest;
  beforeAll(async () => {
    const store = new PolicyStore(BUNDLE);
    await store.load();
    const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
    gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: upstreamUrl, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
  });
  afterAll(() => gw.close());

  it.each([
    ["[_method] in a form", "/items/1", form, "a=1&[_method]=DELETE"],
    ["%5B_method%5D in a form", "/items/1", form, "a=1&%5B_method%5D=DELETE"],
    ["[_method] with a tail in a form", "/items/1", form, "a=1&[_method]x=DELETE"],
    ["[_method] in the query", "/items/1?[_method]=DELETE", {}, ""],
  ])("%s: Express executes DELETE; through regate it is judged as DELETE and refused", async (_name, path, headers, body) => {
    const direct = await send(upstreamUrl, "POST", path, headers, body);
    expect(direct.executed).toEqual([{ route: "delete item", method: "DELETE" }]);

    const r = await send(gw.url, "POST", path, authed(headers), body);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "POLICY_DENIED", reason: expect.stringContaining("DELETE requests are not allowed") });
    expect(r.executed).toEqual([]);
  });

  it("a form whose nested names are not _method is an ordinary POST: allowed and executed as judged", async () => {
    const r = await send(gw.url, "POST", "/items/1?tag[]=a", authed(form), "note[text]=hi&method=email");
    expect(r.status).toBe(200);
    expect(r.executed).toEqual([{ route: "update item", method: "POST" }]);
  });
});

describe("a compressed body regate could not parse (body-parser inflates it before qs reads it)", () => {
  // A policy of its own, as for an upload route: bodies it cannot read pass, DELETE does not.
  const decider = new TestRulesDecider((input) => ((input.http as HttpInput).method === "DELETE" ? { outcome: "deny", reasons: ["DELETE is not for agents"] } : {}));
  let gw: GatewayUnderTest;
  beforeAll(async () => {
    gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: upstreamUrl, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
  });
  afterAll(() => gw.close());

  /** A POST whose body goes in compressed; node:http, since fetch sends a Buffer body only with its own framing. */
  async function post(base: string, headers: Record<string, string>, body: Buffer) {
    const before = executed.length;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${base}/items/1`, { method: "POST", headers: { ...headers, "content-length": String(body.length) }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      req.on("error", reject).end(body);
    });
    return { status, text, executed: executed.slice(before) };
  }

  const large = `_method=DELETE&pad=${"x".repeat(9000)}`;
  it.each([
    ["gzip, over the input cap once inflated", "gzip", gzipSync(large)],
    ["deflate, over the input cap once inflated", "deflate", deflateSync(large)],
    ["br, over the input cap once inflated", "br", brotliCompressSync(large)],
    ["gzip, a form that starts like JSON (unparsable to regate, a form to qs)", "gzip", gzipSync("[x=1&_method=DELETE")],
  ])("%s: Express executes DELETE; through regate it is refused with 400", async (_name, encoding, body) => {
    const headers = { ...form, "content-encoding": encoding };
    expect((await post(upstreamUrl, headers, body)).executed).toEqual([{ route: "delete item", method: "DELETE" }]);

    const r = await post(gw.url, authed(headers), body);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toMatchObject({ code: "PROTOCOL_VIOLATION", reason: expect.stringContaining("_method") });
    expect(r.executed).toEqual([]);
  });

  it("a compressed form without one passes as before, over the cap or not", async () => {
    for (const text of [`note=${"x".repeat(9000)}`, "note=hi"]) {
      const r = await post(gw.url, authed({ ...form, "content-encoding": "gzip" }), gzipSync(text));
      expect(r.status).toBe(200);
      expect(r.executed).toEqual([{ route: "update item", method: "POST" }]);
    }
  });
});

describe("compressed bytes an upstream parses as they come (Hono, Go's ParseForm and PHP do not inflate a request)", () => {
  // Hono's own method-override middleware reads `_method` from the form in the raw body; so do Laravel and
  // Symfony through PHP's $_POST, and Echo through Go's ParseForm.
  const honoRan: Executed[] = [];
  let hono: { url: string; close(): Promise<void> };
  let gw: GatewayUnderTest;
  beforeAll(async () => {
    const app = new Hono();
    app.use("/items/*", methodOverride({ app }));
    app.post("/items/:id", (c) => (honoRan.push({ route: "update item", method: c.req.method }), c.json({})));
    app.delete("/items/:id", (c) => (honoRan.push({ route: "delete item", method: c.req.method }), c.json({})));
    hono = await new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
        resolve({ url: `http://127.0.0.1:${info.port}`, close: () => new Promise<void>((done) => server.close(() => done())) }),
      );
    });
    const store = new PolicyStore(BUNDLE);
    await store.load();
    const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
    gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: hono.url, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
  });
  afterAll(async () => {
    await gw.close();
    await hono.close();
  });

  async function post(base: string, headers: Record<string, string>, body: Buffer) {
    const before = honoRan.length;
    const res = await fetch(`${base}/items/1`, { method: "POST", headers, body: new Uint8Array(body) });
    await res.arrayBuffer();
    return { status: res.status, executed: honoRan.slice(before) };
  }

  /** gzip of `data` whose header carries `comment` (FCOMMENT, RFC 1952 2.3.1), which inflating skips. */
  function gzipWithComment(data: string, comment: string): Buffer {
    const gz = Buffer.from(gzipSync(data));
    gz[3] = 0x10;
    return Buffer.concat([gz.subarray(0, 10), Buffer.from(`${comment}\0`, "latin1"), gz.subarray(10)]);
  }

  it.each([
    ["a gzip header comment", "gzip", gzipWithComment("note=hi", "&_method=DELETE&")],
    ["bytes after the end of a deflate stream", "deflate", Buffer.concat([deflateSync("note=hi"), Buffer.from("&_method=DELETE")])],
  ])("%s spelling _method: Hono executes DELETE; through regate the body goes up inflated and runs as the POST judged", async (_name, encoding, body) => {
    const headers = { ...form, "content-encoding": encoding };
    expect((await post(hono.url, headers, body)).executed).toEqual([{ route: "delete item", method: "DELETE" }]);

    const r = await post(gw.url, authed(headers), body);
    expect(r.status).toBe(200);
    expect(r.executed).toEqual([{ route: "update item", method: "POST" }]);
  });
});

describe("HEAD runs the GET handler (Express, Go's ServeMux, Flask, Django, Rails, Spring)", () => {
  // A policy of its own: agents may read items, not export customers. It never names HEAD.
  const decider = new TestRulesDecider((input) => {
    const h = input.http as HttpInput;
    return h.method === "GET" && h.path === "/admin/export" ? { outcome: "deny", reasons: ["exports are not for agents"] } : {};
  });
  let gw: GatewayUnderTest;
  beforeAll(async () => {
    gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: upstreamUrl, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
  });
  afterAll(() => gw.close());

  it.each([
    ["a HEAD", "HEAD", {}],
    ["a POST overridden to HEAD", "POST", { "x-http-method-override": "HEAD" }],
  ])("%s of a GET route: Express runs the export; through regate it is judged as GET too and refused", async (_name, method, headers) => {
    expect(await executedDirectly(method, "/admin/export", headers)).toEqual([{ route: "export customers", method: "HEAD" }]);

    const before = decider.inputs.length;
    const r = await send(gw.url, method, "/admin/export", authed(headers));
    expect(r.status).toBe(403);
    expect(r.executed).toEqual([]);
    expect(decider.inputs.slice(before).map((i) => (i.http as HttpInput).method)).toContain("GET");
  });

  it("a HEAD the policy allows as GET goes through, decided as both", async () => {
    const before = decider.inputs.length;
    const r = await send(gw.url, "HEAD", "/items/1", authed());
    expect(r.status).toBe(200);
    expect(r.executed).toEqual([{ route: "read item", method: "HEAD" }]);
    expect(decider.inputs.slice(before).map((i) => [(i.http as HttpInput).method, (i.http as HttpInput).request_method])).toEqual([
      ["HEAD", "HEAD"],
      ["GET", "HEAD"],
    ]);
  });

  it("a GET is decided once, as before", async () => {
    const before = decider.inputs.length;
    const r = await send(gw.url, "GET", "/items/1", authed());
    expect(r.status).toBe(200);
    expect(decider.inputs.length - before).toBe(1);
  });
});

describe("a control character in the path (Starlette: Python's re matches \"$\" before a final newline)", () => {
  let child: ChildProcess;
  let starlette: string;
  let gw: GatewayUnderTest;
  beforeAll(async () => {
    await promisify(execFile)("bash", [join(packageRoot, "scripts", "http-frameworks-setup.sh")], { timeout: 300_000 });
    child = spawn(join(packageRoot, "build", "frameworks-venv", "bin", "python"), [join(packageRoot, "sidecar", "test", "http", "starlette_upstream.py")], { stdio: ["pipe", "pipe", "inherit"] });
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`starlette_upstream.py exited ${code}`)));
    });
    starlette = `http://127.0.0.1:${(JSON.parse(first) as { port: number }).port}`;
    const store = new PolicyStore(BUNDLE);
    await store.load();
    const decider = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
    gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: starlette, credential: { type: "bearer", value: UPSTREAM_SECRET } }], decider });
  });
  afterAll(async () => {
    await gw?.close();
    child?.stdin?.end();
  });

  /** What Starlette ran for one request. */
  async function ran(base: string, method: string, path: string, headers: Record<string, string> = {}) {
    const before = ((await (await fetch(`${starlette}/_executed`)).json()) as unknown[]).length;
    const res = await fetch(`${base}${path}`, { method, headers: { "content-type": "application/json", ...headers }, body: method === "GET" ? undefined : '{"order_id":1}' });
    const text = await res.text();
    const all = (await (await fetch(`${starlette}/_executed`)).json()) as { route: string; method: string }[];
    return { status: res.status, text, executed: all.slice(before).map(({ route, method }) => ({ route, method })) };
  }

  it.each([
    ["POST", "/refunds%0A", "refund"],
    ["POST", "/refunds%0a", "refund"],
    ["DELETE", "/items/1%0A", "delete item"],
  ])("%s %s: Starlette runs %s; through regate it is refused with 400 before the policy", async (method, path, route) => {
    expect((await ran(starlette, method, path)).executed).toEqual([{ route, method }]);

    const r = await ran(gw.url, method, path, authed());
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toMatchObject({ code: "PROTOCOL_VIOLATION", reason: expect.stringContaining("a control character in the path") });
    expect(r.executed).toEqual([]);
  });

  it("the same requests without the newline are decided as usual: a refund needs approval, a read goes through", async () => {
    const refund = await ran(gw.url, "POST", "/refunds", authed());
    expect(refund.status).toBe(403);
    expect(JSON.parse(refund.text)).toMatchObject({ code: "APPROVAL_REQUIRED" });
    expect(refund.executed).toEqual([]);
    const read = await ran(gw.url, "GET", "/items/1", authed());
    expect(read.status).toBe(200);
    expect(read.executed).toEqual([{ route: "read item", method: "GET" }]);
  });
});
