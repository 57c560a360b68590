// Response framings an agent reads otherwise than regate did (sixth red-team pass, response side), against a real
// Starlette upstream (starlette_streams.py) behind regate: /f/ masks with field rules, /d/ with detectors, /n/ not
// at all.
//
// Holes found and closed here:
//  - An event stream's lines that no SSE client reads (a bare JSON line: the usual slip of a StreamingResponse
//    with the event-stream type; pretty-printed JSON; a line whose field name is a value) were cut at their first
//    colon and only the "value" masked, so a JSON document's fields were never found and a name was never read:
//    a reader that does not parse events (curl, a client reading JSON lines) got every value in the clear.
//  - Text after a character Python's str.splitlines() breaks at and SSE does not (U+2028, NEL, form feed, …)
//    in an event name or comment was masked as part of one text value: a document after it reached a Python
//    client reading lines (requests' iter_lines(decode_unicode=True)) unmasked under field rules.
//  - Base64 in a response header (a JWT in `Authorization: Bearer …`, `X-Id-Token`, an OpenID redirect's
//    `#id_token=`) was not decoded under detector rules, where the same token in a body was: its email claim
//    reached the agent.
//  - Base64 was decoded only when it was a whole JSON string: `Bearer <jwt>`, `…#id_token=<jwt>&state=…` in a
//    JSON string, and any base64 in a body read as text (a SAML POST-binding page) passed with their claims.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpInput } from "../../src/http/index.js";
import { REDACTED } from "../../src/mask/index.js";
import { packageRoot } from "../../src/paths.js";
import { AGENT_TOKEN, allLogs, authed, DETECTOR_RULES, FIELD_RULES, rawExchange, startGateway, TestRulesDecider, type GatewayUnderTest } from "./fixtures.js";

const EMAILS = ["alice@example.com", "bob@example.net"];
const SSNS = ["123-45-6789", "536-22-1234"];

let child: ChildProcess;
let starlette: string;
/** The JWT the upstream answers logins with: its claims hold alice's email. */
let token: string;
let gw: GatewayUnderTest;
let decider: TestRulesDecider;

beforeAll(async () => {
  await promisify(execFile)("bash", [join(packageRoot, "scripts", "http-frameworks-setup.sh")], { timeout: 300_000 });
  child = spawn(join(packageRoot, "build", "frameworks-venv", "bin", "python"), [join(packageRoot, "sidecar", "test", "http", "starlette_streams.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`starlette_streams.py exited ${code}`)));
  });
  const started = JSON.parse(first) as { port: number; token: string };
  starlette = `http://127.0.0.1:${started.port}`;
  token = started.token;
  decider = new TestRulesDecider((input) => {
    const { raw_path: path, method } = input.http as HttpInput;
    if (method === "DELETE") return { outcome: "deny", reasons: ["DELETE requests are not allowed"] };
    if (path.startsWith("/f/")) return { mask: FIELD_RULES };
    if (path.startsWith("/d/")) return { mask: DETECTOR_RULES };
    return {};
  });
  gw = await startGateway({ decider, routes: ["f", "d", "n"].map((m) => ({ name: m, prefix: `/${m}`, upstream: starlette })) });
}, 320_000);

afterAll(async () => {
  await gw?.close();
  child?.stdin?.end();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body ended as HTTP frames an end; false: the connection was cut mid-body. */
  complete: boolean;
}

/** What an agent's HTTP client receives, byte for byte, including a body cut short. */
function fetchRaw(url: string, method = "GET"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: authed(), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const done = (complete: boolean): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), complete });
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => done(true));
      res.on("error", () => done(false));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The body as a client that reads JSON line by line does (`for line in r.iter_lines(): json.loads(line)`). */
const jsonLines = (body: string): unknown[] =>
  body
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as unknown);

/** The events an SSE client reads (eventsource-parser, the parser under the MCP SDK's transports). */
function sseEvents(body: string): { events: EventSourceMessage[]; comments: string[]; retry: number[] } {
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  const retry: number[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e), onComment: (c) => comments.push(c), onRetry: (r) => retry.push(r) });
  parser.feed(body);
  return { events, comments, retry };
}

const masked = (row: { id: number; name: string }) => ({ ...row, email: REDACTED, ssn: REDACTED });
const ROWS = [
  { id: 1, name: "Alice Smith" },
  { id: 2, name: "Bob Jones" },
];

const expectNoValues = (text: string): void => {
  for (const v of [...EMAILS, ...SSNS]) expect(text).not.toContain(v);
};

describe("event-stream lines no SSE client reads are masked as the whole line a plain reader sees", () => {
  it.each(["f", "d"])("/%s: bare JSON records (a StreamingResponse with the event-stream type) are masked record by record", async (m) => {
    const r = await fetchRaw(`${gw.url}/${m}/rows-bare`);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expectNoValues(r.body);
    expect(jsonLines(r.body)).toEqual(ROWS.map(masked));
  });

  it("/d: pretty-printed JSON is masked line by line and still parses", async () => {
    const r = await fetchRaw(`${gw.url}/d/rows-pretty`);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expectNoValues(r.body);
    expect(JSON.parse(r.body)).toEqual(ROWS.map(masked));
  });

  it("/d: a value written where a field name stands is masked", async () => {
    const r = await fetchRaw(`${gw.url}/d/signed-in`);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expect(r.body).toBe(`${REDACTED}: signed in\n\n${REDACTED}: signed in\n\n`);
  });

  it.each(["rows-pretty", "signed-in"])("/f/%s: text under field rules is refused (an error event, then the stream is cut)", async (name) => {
    const r = await fetchRaw(`${gw.url}/f/${name}`);
    expect(r.status).toBe(200);
    expectNoValues(r.body);
    expect(r.complete).toBe(false);
    const { events } = sseEvents(r.body);
    expect(events.at(-1)).toMatchObject({ event: "error" });
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: expect.stringContaining("no event field") });
  });
});

/** The JSON documents a Python client reads line by line (str.splitlines(), as requests' iter_lines(decode_unicode=True) splits). */
async function pythonJsonLines(url: string): Promise<unknown[]> {
  const script = [
    "import json, sys, urllib.request",
    "req = urllib.request.Request(sys.argv[1], headers={'Authorization': sys.argv[2]})",
    "out = []",
    "for line in urllib.request.urlopen(req).read().decode().splitlines():",
    "    try: out.append(json.loads(line))",
    "    except ValueError: pass",
    "print(json.dumps(out))",
  ].join("\n");
  const { stdout } = await promisify(execFile)(join(packageRoot, "build", "frameworks-venv", "bin", "python"), ["-c", script, url, authed().authorization!]);
  return JSON.parse(stdout) as unknown[];
}

describe("event-stream values after a line break Python reads and SSE does not (U+2028 and kin)", () => {
  it.each(["f", "d"])("/%s: a document after U+2028 in an event name or comment is masked for a Python reader", async (m) => {
    const docs = await pythonJsonLines(`${gw.url}/${m}/titled-events`);
    expect(docs).toEqual([{ ssn: REDACTED, email: REDACTED }, { ssn: REDACTED, email: REDACTED }]);
  });

  it.each(["f", "d"])("must-allow /%s: an SSE client reads the same events, names and data as the upstream wrote them, masked", async (m) => {
    const r = await fetchRaw(`${gw.url}/${m}/titled-events`);
    expect(r.complete).toBe(true);
    expectNoValues(r.body);
    const { events } = sseEvents(r.body);
    expect(events.map((e) => [e.event, e.data])).toEqual([
      ["weekly report", '{"n": 0}'],
      [`notes\u2028{"ssn": "${REDACTED}", "email": "${REDACTED}"}`, '{"n": 1}'],
    ]);
  });
});

describe("must-allow: event streams written as SSE, and streams regate does not mask", () => {
  it.each(["f", "d"])("/%s: an SSE client reads every event, id, comment and retry, the data masked", async (m) => {
    const r = await fetchRaw(`${gw.url}/${m}/rows-events`);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expectNoValues(r.body);
    const { events, comments, retry } = sseEvents(r.body);
    expect(comments).toEqual(["stream opened"]);
    expect(retry).toEqual([1000]);
    expect(events.map((e) => [e.event, e.id])).toEqual([["row", "1"], ["row", "2"], [undefined, undefined]]);
    expect(events.slice(0, 2).map((e) => JSON.parse(e.data) as unknown)).toEqual(ROWS.map(masked));
    expect(events[2]!.data).toBe("[DONE]");
  });

  it("/n: an unmasked route passes every stream byte for byte", async () => {
    for (const name of ["rows-bare", "rows-pretty", "signed-in", "rows-events", "titled-events"]) {
      const direct = await (await fetch(`${starlette}/${name}`)).text();
      const r = await fetchRaw(`${gw.url}/n/${name}`);
      expect(r.body).toBe(direct);
    }
  });
});

/** Every base64 run of a header value decoded, as a reader of a JWT or a cursor decodes it. */
const decodedRuns = (value: string): string =>
  (value.match(/[A-Za-z0-9+/_-]{16,}={0,2}(?:\.[A-Za-z0-9_-]*)*/g) ?? [])
    .flatMap((run) => run.split("."))
    .map((seg) => Buffer.from(seg, "base64url").toString("latin1"))
    .join("\n");

/** The JWT's claims, as an agent decodes them. */
const claims = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;

describe("base64 in response headers is read as the same token in a body is", () => {
  it("/d: a login's Authorization and X-Id-Token JWTs keep their shape; the email claim is masked", async () => {
    const r = await fetchRaw(`${gw.url}/d/login`, "POST");
    expect(r.status).toBe(200);
    const bearer = String(r.headers.authorization);
    expect(bearer).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(claims(bearer.slice(7))).toEqual({ sub: "u-1", email: REDACTED, name: "Alice Smith" });
    expect(claims(String(r.headers["x-id-token"]))).toEqual({ sub: "u-1", email: REDACTED, name: "Alice Smith" });
    // The header and signature segments are the upstream's.
    expect(bearer.split(".")[0]).toBe(`Bearer ${token.split(".")[0]}`);
    expect(bearer.split(".")[2]).toBe(token.split(".")[2]);
  });

  it("/d: an OpenID redirect's id_token claims are masked, the rest of the Location kept", async () => {
    const r = await fetchRaw(`${gw.url}/d/authorize`);
    expect(r.status).toBe(302);
    const location = String(r.headers.location);
    const m = /^https:\/\/app\.example\/cb#id_token=([\w.-]+)&state=s-42$/.exec(location);
    expect(m).not.toBeNull();
    expect(claims(m![1]!)).toMatchObject({ email: REDACTED });
  });

  it.each(["f", "d"])("/%s: no header carries the email, decoded or not", async (m) => {
    for (const [method, path] of [["POST", "login"], ["GET", "authorize"]] as const) {
      const r = await fetchRaw(`${gw.url}/${m}/${path}`, method);
      for (const value of Object.values(r.headers).flat()) {
        expect(String(value)).not.toContain(EMAILS[0]);
        expect(decodedRuns(String(value))).not.toContain(EMAILS[0]);
      }
    }
  });

  it("must-allow: base64 that holds no masked value (a cursor, a checksum, a request id) passes unchanged", async () => {
    const direct = await fetch(`${starlette}/plain-headers`);
    for (const m of ["f", "d"]) {
      const r = await fetchRaw(`${gw.url}/${m}/plain-headers`);
      expect(r.status).toBe(200);
      for (const name of ["x-request-id", "x-cursor", "x-checksum"]) expect(r.headers[name]).toBe(direct.headers.get(name));
    }
  });

  it("must-allow: an unmasked route passes the token as the upstream wrote it", async () => {
    const r = await fetchRaw(`${gw.url}/n/login`, "POST");
    expect(r.headers.authorization).toBe(`Bearer ${token}`);
  });
});

describe("base64 inside a longer text is read as a string of nothing but base64 is", () => {
  it.each(["f", "d"])("/%s: a JWT after `Bearer ` and in a redirect URL's fragment: its email claim is masked", async (m) => {
    const r = await fetchRaw(`${gw.url}/${m}/session`);
    expect(r.status).toBe(200);
    const doc = JSON.parse(r.body) as { authorization: string; redirect: string };
    expect(doc.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(claims(doc.authorization.slice(7))).toEqual({ sub: "u-1", email: REDACTED, name: "Alice Smith" });
    const m2 = /^https:\/\/app\.example\/cb#id_token=([\w.-]+)&state=s-42$/.exec(doc.redirect);
    expect(claims(m2![1]!)).toEqual({ sub: "u-1", email: REDACTED, name: "Alice Smith" });
  });

  it("/d: a SAML POST-binding page's assertion is masked, still base64 in the same form", async () => {
    const r = await fetchRaw(`${gw.url}/d/saml-post`);
    expect(r.status).toBe(200);
    const value = /name="SAMLResponse" value="([^"]+)"/.exec(r.body)![1]!;
    const xml = Buffer.from(value, "base64").toString();
    expect(xml).toContain(`<saml:NameID>${REDACTED}</saml:NameID>`);
    expect(xml.startsWith("<samlp:Response ")).toBe(true);
    expect(decodedRuns(r.body)).not.toContain(EMAILS[0]);
  });

  it("must-allow: base64 holding no masked value (a cursor, an inline image, a digest) passes byte for byte", async () => {
    const direct = await (await fetch(`${starlette}/plain-base64`)).text();
    for (const m of ["f", "d"]) expect((await fetchRaw(`${gw.url}/${m}/plain-base64`)).body).toBe(direct);
  });
});

describe("must-allow: agents that pipeline, and HTTP/1.0 agents", () => {
  const req = (method: string, path: string, extra = ""): string => `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\n${extra}\r\n`;

  it("a refused request's body is never read as a request: one refusal, then the next request's own answer", async () => {
    const smuggled = req("GET", "/n/session");
    const before = decider.inputs.length;
    const out = await rawExchange(gw.port, req("DELETE", "/n/rows-events", `Content-Length: ${smuggled.length}\r\n`) + smuggled + req("GET", "/d/session", "Connection: close\r\n"));
    const answers = out.split(/(?=HTTP\/1\.1 \d{3} )/);
    expect(answers.map((a) => a.slice(0, 12))).toEqual(["HTTP/1.1 403", "HTTP/1.1 200"]);
    expect(answers[0]).toContain("POLICY_DENIED");
    expect(answers[1]).not.toContain(EMAILS[0]);
    expect(decider.inputs.slice(before).map((i) => `${(i.http as HttpInput).method} ${(i.http as HttpInput).raw_path}`).sort()).toEqual(["DELETE /n/rows-events", "GET /d/session"]);
  });

  it("HTTP/1.0 with keep-alive: both answers on one connection, each masked, the last one closing it", async () => {
    const ask = (path: string, keep: boolean): string => `GET ${path} HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\n${keep ? "Connection: keep-alive\r\n" : ""}\r\n`;
    const out = await rawExchange(gw.port, ask("/d/session", true) + ask("/d/rows-bare", false));
    const answers = out.split(/(?=HTTP\/1\.1 \d{3} )/);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200 [^]*\r\nConnection: keep-alive\r\n/);
    expect(answers[1]).toMatch(/^HTTP\/1\.1 200 [^]*\r\nConnection: close\r\n/);
    expectNoValues(out);
    expect(jsonLines(answers[1]!.slice(answers[1]!.indexOf("\r\n\r\n") + 4))).toEqual(ROWS.map(masked));
  });
});

describe("logs", () => {
  it("carry no masked value, and not the agent's token its pipelined request's body held", () => {
    const logs = allLogs(gw.lines);
    expectNoValues(logs);
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(AGENT_TOKEN);
  });
});
