// A method override to HEAD on a request line that is not HEAD. An upstream that honours it answers as to a
// HEAD: a Content-Length and no body. regate sent the request line's method, so it would read that many bytes
// of body and wait until the upstream closed the connection; and had it read no body, an upstream that did not
// honour the override would leave its body on the connection as the answer to the next request. The request is
// refused (400) once the policy allowed it; a HEAD on the request line, overridden or not, goes through.

import { createRequire } from "node:module";
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, closeServer, listen, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";

/** The part of Express's API this suite uses (the package ships no types). */
interface ExpressRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body?: unknown;
  query: Record<string, unknown>;
}
type Handler = (req: ExpressRequest, res: { json(v: unknown): void }, next: () => void) => void;
interface ExpressApp extends RequestListener {
  use(h: Handler): void;
  get(path: string, h: Handler): void;
}
const express = createRequire(import.meta.url)("express") as { (): ExpressApp; urlencoded(o: { extended: boolean }): Handler };

let server: Server;
const executed: string[] = [];

beforeAll(async () => {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  // method-override's getters (header, then body, then query), honoured on any request line, as some apps do.
  app.use((req, _res, next) => {
    const body = typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>)._method : undefined;
    const override = req.headers["x-http-method-override"] ?? body ?? req.query._method;
    if (typeof override === "string") req.method = override.toUpperCase();
    next();
  });
  // Express answers a HEAD with the GET handler: the record's length, no body.
  app.get("/items/:id", (req, res) => {
    executed.push(req.method);
    res.json({ id: 1, name: "widget" });
  });
  server = createServer(app);
});

afterAll(() => closeServer(server));

describe("a method override to HEAD", () => {
  const decider = new TestRulesDecider(() => ({}));
  let gw: GatewayUnderTest;
  beforeAll(async () => {
    gw = await startGateway({ routes: [{ name: "api", prefix: "/", upstream: await listen(server) }], decider });
  });
  afterAll(() => gw.close());

  /** The request through regate; a response that never ends fails the fetch after 2 s. */
  async function send(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
    const before = executed.length;
    const res = await fetch(`${gw.url}${path}`, { method, headers: authed(headers), signal: AbortSignal.timeout(2000), ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    return { status: res.status, text, executed: executed.slice(before) };
  }

  it.each([
    ["a POST, in X-HTTP-Method-Override", "POST", "/items/1", { "x-http-method-override": "HEAD" }, ""],
    ["a POST, in the query", "POST", "/items/1?_method=HEAD", {}, ""],
    ["a POST, in a form body", "POST", "/items/1", { "content-type": "application/x-www-form-urlencoded" }, "_method=head"],
    ["a GET, in X-HTTP-Method-Override", "GET", "/items/1", { "x-http-method-override": "HEAD" }, undefined],
  ])("on %s: allowed by the policy, refused with 400 before the upstream", async (_name, method, path, headers, body) => {
    const r = await send(method, path, headers, body);
    expect(r.status).toBe(400);
    const answer = JSON.parse(r.text) as { code: string; reason: string; decision_id?: string };
    expect(answer.code).toBe("PROTOCOL_VIOLATION");
    expect(answer.reason).toMatch(/override to HEAD/);
    expect(answer.decision_id).toEqual(expect.any(String));
    expect(r.executed).toEqual([]);
  });

  it("a HEAD on the request line goes through, overridden or not", async () => {
    expect(await send("HEAD", "/items/1")).toMatchObject({ status: 200, text: "", executed: ["HEAD"] });
    expect(await send("HEAD", "/items/1", { "x-http-method-override": "GET" })).toMatchObject({ status: 200, text: "", executed: ["GET"] });
  });

  it("a POST overridden to GET goes through with its body", async () => {
    expect(await send("POST", "/items/1", { "x-http-method-override": "GET" }, "")).toMatchObject({ status: 200, text: '{"id":1,"name":"widget"}', executed: ["GET"] });
  });
});
