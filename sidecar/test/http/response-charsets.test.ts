// Response bodies an agent reads otherwise than regate did (fifth red-team pass, response side): text in
// UTF-16/UTF-32 or another charset that does not spell ASCII as ASCII (the leak guard and the masks read
// bytes; the agent decodes them as the Content-Type or byte order mark says), raw deflate, and bodies that do
// not decode. One gateway, one route with regate's credential: /c/ is only scrubbed, /f/ and /d/ are masked
// as well. JSON in text forms (escapes, NDJSON, XSSI prefixes): response-json-forms.test.ts.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import { deflateRawSync, deflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/mask/index.js";
import { allLogs, authed, FIELD_RULES, MASKED, maskingGateway, rawRequest, startGateway, TestRulesDecider, UPSTREAM_SECRET, type GatewayUnderTest } from "./fixtures.js";

const { ssn: SSN, email: EMAIL } = MASKED;
const TOKEN = UPSTREAM_SECRET;

const utf16be = (s: string): Buffer => Buffer.from(s, "utf16le").swap16();
const utf32le = (s: string): Buffer => {
  const out = Buffer.alloc(s.length * 4);
  for (let i = 0; i < s.length; i++) out.writeUInt32LE(s.charCodeAt(i), i * 4);
  return out;
};
/** The two EBCDIC (cp500) bytes for the digits and letters an echo of the token needs, enough to spell it. */
const ebcdic = (s: string): Buffer => Buffer.from([...s].map((c) => (/\d/.test(c) ? 0xf0 + Number(c) : c.charCodeAt(0))));

/** What the upstream echoes: the credential it received and the values masks protect. */
const doc = (auth: string): string => JSON.stringify({ auth, ssn: SSN, email: EMAIL });

/** Each resource: headers and body, from the Authorization the upstream received. */
const WIDE: Record<string, (auth: string) => [Record<string, string>, Buffer]> = {
  "utf16le-declared": (a) => [{ "content-type": "application/json; charset=utf-16le" }, Buffer.from(doc(a), "utf16le")],
  "utf16le-text": (a) => [{ "content-type": "text/plain; charset=UTF-16LE" }, Buffer.from(doc(a), "utf16le")],
  "utf16-bom": (a) => [{ "content-type": "application/json" }, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(doc(a), "utf16le")])],
  "utf16be-sniffed": (a) => [{ "content-type": "text/plain" }, utf16be(doc(a))],
  "utf16-no-type": (a) => [{}, Buffer.from(doc(a), "utf16le")],
  "utf32le-sniffed": (a) => [{ "content-type": "application/json" }, utf32le(doc(a))],
  "ucs2-quoted": (a) => [{ "content-type": 'text/plain; charset="ucs-2"' }, Buffer.from(doc(a), "utf16le")],
  "utf7-declared": (a) => [{ "content-type": "text/plain; charset=utf-7" }, Buffer.from(doc(a))],
  "ebcdic-declared": (a) => [{ "content-type": "text/plain; charset=cp500" }, ebcdic(doc(a))],
  // An echo that puts the credential into the charset itself: the refusal must not repeat it.
  "charset-echo": (a) => [{ "content-type": `text/plain; charset=utf-16le-${a.replace(/^Bearer /, "")}` }, Buffer.from(doc(a), "utf16le")],
};

/** Bodies that must pass (masked where a rule applies). */
const PLAIN = JSON.stringify({ id: 7, name: "Zoë", n: 1.5 });
/** 64 MiB of text in about 64 KiB of raw deflate: 64 times what the gateway here masks (MAX_MASKED). */
const MAX_MASKED = 1024 * 1024;
const BOMB = deflateRawSync(Buffer.alloc(64 * 1024 * 1024, 0x41), { level: 9 });
const PROTOBUF = Buffer.from([0x08, 0x00, 0x12, 0x03, 0x61, 0x00, 0x62, 0x1a, 0x00]);

function handle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const name = (req.url ?? "").split("?")[0]!.split("/").pop()!;
  const auth = req.headers.authorization ?? "";
  const wide = WIDE[name];
  if (wide) {
    const [headers, body] = wide(auth);
    res.writeHead(200, headers).end(body);
    return;
  }
  const send = (headers: Record<string, string>, body: string | Buffer): void => void res.writeHead(200, headers).end(body);
  switch (name) {
    case "utf16-inside-text":
    case "utf16-inside-binary": {
      // A debug dump of the string's bytes as .NET holds them, inside an otherwise UTF-8 answer.
      const bytes = Buffer.from(auth.replace(/^Bearer /, ""), "utf16le");
      const dump = name.endsWith("text") ? bytes : Buffer.from(bytes).swap16();
      return send({ "content-type": name.endsWith("text") ? "text/plain" : "application/octet-stream" }, Buffer.concat([Buffer.from("token bytes: "), dump, Buffer.from(" end")]));
    }
    case "cl-longer":
    case "cl-shorter": {
      // A Content-Length that lies: the body runs past it, or the connection closes before it is reached.
      const body = Buffer.from(doc(auth));
      // On a connection of its own: what the lie leaves on a pooled one is upstream-desync.test.ts's subject.
      res.writeHead(200, { "content-type": "application/json", "content-length": name === "cl-longer" ? 24 : body.length + 100, connection: "close" });
      res.flushHeaders();
      // Each lie goes on a moment later, after regate has begun to relay what came first.
      if (name === "cl-longer") {
        res.socket!.write(body.subarray(0, 24));
        setTimeout(() => res.socket!.end(body.subarray(24)), 50);
      } else {
        res.socket!.write(body);
        setTimeout(() => res.socket!.destroy(), 50);
      }
      return;
    }
    case "type-echo":
      return send({ "content-type": `text/x-${auth.replace(/^Bearer /, "")}` }, doc(auth));
    case "raw-deflate":
      return send({ "content-type": "application/json", "content-encoding": "deflate" }, deflateRawSync(doc(auth)));
    case "zlib-deflate":
      return send({ "content-type": "application/json", "content-encoding": "deflate" }, deflateSync(doc(auth)));
    case "raw-deflate-plain":
      return send({ "content-type": "application/json", "content-encoding": "deflate" }, deflateRawSync(PLAIN));
    case "deflate-bomb":
      return send({ "content-type": "text/plain", "content-encoding": "deflate" }, BOMB);
    case "garbage-gzip":
      return send({ "content-type": "text/plain", "content-encoding": "gzip" }, Buffer.from("this is not gzip at all"));
    case "utf8-bom":
      return send({ "content-type": "application/json" }, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(PLAIN)]));
    case "latin1":
      return send({ "content-type": "text/plain; charset=iso-8859-1" }, Buffer.from("caf\xe9 n\xb0 7", "latin1"));
    case "protobuf":
      return send({ "content-type": "application/x-protobuf" }, PROTOBUF);
    default:
      res.writeHead(404).end();
  }
}

let gw: GatewayUnderTest;
let closeMasking: () => Promise<void>;
let python: ChildProcess | undefined;
let pyGw: GatewayUnderTest;
/** A route that declares it answers JSON, masked with field rules. */
let typedGw: GatewayUnderTest;

/** A Python http.server echoing the request headers as Python writes UTF-16: a byte order mark, then UTF-16LE. */
const PYTHON_UPSTREAM = `
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"headers": dict(self.headers)}).encode("utf-16")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
`;

beforeAll(async () => {
  const credential = { type: "bearer" as const, value: TOKEN };
  const started = await maskingGateway(handle, { route: { credential }, limits: { max_body_bytes: 64 * 1024, max_input_body_bytes: 8 * 1024, timeout_ms: 1500, max_masked_body_bytes: MAX_MASKED } });
  gw = started.gw;
  closeMasking = () => started.close();
  typedGw = await startGateway({ decider: new TestRulesDecider(() => ({ mask: FIELD_RULES })), routes: [{ name: "typed", prefix: "/", upstream: started.upstreamUrl, credential, response_types: ["application/json"] }] });
  await new Promise<void>((resolve, reject) => execFile("python3", ["--version"], (err) => (err ? reject(err) : resolve())));
  python = spawn("python3", ["-c", PYTHON_UPSTREAM], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve) => python!.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim())));
  pyGw = await startGateway({ decider: new TestRulesDecider(() => ({})), routes: [{ name: "py", prefix: "/", upstream: `http://127.0.0.1:${port}`, credential }] });
});

afterAll(async () => {
  await pyGw?.close();
  await typedGw.close();
  python?.kill();
  await closeMasking();
});

const get = async (path: string, g = gw) => {
  const r = await rawRequest(`${g.url}${path}`, { headers: authed() });
  return { ...r, text: r.body.toString("utf8") };
};

/** The body read every way a client could: as bytes, as UTF-16 either way round, with NULs dropped, as cp500 digits. */
function readings(b: Buffer): string {
  const even = b.subarray(0, b.length - (b.length % 2));
  const digits = (s: string): string => s.replace(/[\xf0-\xf9]/g, (c) => String(c.charCodeAt(0) - 0xf0));
  return [b.toString("latin1"), even.toString("utf16le"), Buffer.from(even).swap16().toString("utf16le"), digits(b.toString("latin1")).replace(/\0/g, "")].join("\n");
}

function expectNothingReadable(b: Buffer): void {
  const text = readings(b);
  for (const secret of [TOKEN, SSN, EMAIL]) expect(text).not.toContain(secret);
}

describe("text in a charset that does not spell ASCII as ASCII is refused wherever regate inspects", () => {
  it.each(Object.keys(WIDE))("%s: the credential-only route answers 502, saying the upstream handled the request", async (name) => {
    const r = await get(`/c/${name}`);
    expect(r.status).toBe(502);
    expect(JSON.parse(r.text)).toMatchObject({ code: "UPSTREAM_RESPONSE_REFUSED", reason: expect.stringContaining("the upstream handled the request") });
    expectNothingReadable(r.body);
  });

  it.each(Object.keys(WIDE).flatMap((n) => [["f", n], ["d", n]]))("/%s/%s: a masked route refuses it", async (m, name) => {
    const r = await get(`/${m}/${name}`);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: expect.stringContaining("already handled the request") });
    expectNothingReadable(r.body);
  });

  it("a Python upstream's json.dumps(...).encode('utf-16') echo of the request is refused", async () => {
    const r = await get("/echo", pyGw);
    expect(r.status).toBe(502);
    expect(JSON.parse(r.text)).toMatchObject({ code: "UPSTREAM_RESPONSE_REFUSED" });
    expectNothingReadable(r.body);
  });
});

describe("the credential's UTF-16 bytes inside an ASCII-compatible body", () => {
  it.each(["utf16-inside-text", "utf16-inside-binary"])("%s: overwritten where they stand", async (name) => {
    const r = await get(`/c/${name}`);
    expect(r.status).toBe(200);
    expect(r.body.subarray(0, 13).toString()).toBe("token bytes: ");
    expectNothingReadable(r.body);
  });
});

describe("must-allow: text in ASCII-compatible charsets and binary bodies pass as they came", () => {
  it.each([
    ["utf8-bom", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(PLAIN)])],
    ["latin1", Buffer.from("caf\xe9 n\xb0 7", "latin1")],
    ["protobuf", PROTOBUF],
  ])("%s on the credential-only route", async (name, bytes) => {
    const r = await get(`/c/${name}`);
    expect(r.status).toBe(200);
    expect(r.body.equals(bytes)).toBe(true);
  });

  it("a UTF-8 byte order mark on a masked route: masked, and the JSON still parses", async () => {
    const r = await get("/f/utf8-bom");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString("utf8").replace(/^\ufeff/, ""))).toEqual(JSON.parse(PLAIN));
  });
});

describe("deflate as servers send it", () => {
  it.each(["raw-deflate", "zlib-deflate"])("%s: decoded, the credential scrubbed and the fields masked", async (name) => {
    const c = await get(`/c/${name}`);
    expect(c.status).toBe(200);
    expect(JSON.parse(c.text)).toMatchObject({ auth: "Bearer [REDACTED]", ssn: SSN });
    const f = await get(`/f/${name}`);
    expect(f.status).toBe(200);
    expect(JSON.parse(f.text)).toEqual({ auth: "Bearer [REDACTED]", ssn: REDACTED, email: REDACTED });
  });

  it("a raw deflate body without the credential arrives whole and decoded", async () => {
    const r = await get("/c/raw-deflate-plain");
    expect(r.status).toBe(200);
    expect(r.headers["content-encoding"]).toBeUndefined();
    expect(r.text).toBe(PLAIN);
  });

  it("a raw deflate bomb on a masked route is refused once past the masking cap, without inflating it all", async () => {
    const before = process.memoryUsage().rss;
    const r = await get("/d/deflate-bomb");
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: expect.stringContaining("larger than regate masks") });
    expect(process.memoryUsage().rss - before).toBeLessThan(32 * MAX_MASKED);
  });

  it("a body that does not decode as its content-encoding says is a clean 502, not a cut connection", async () => {
    const r = await get("/c/garbage-gzip");
    expect(r.status).toBe(502);
    expect(JSON.parse(r.text)).toMatchObject({ code: "UPSTREAM_RESPONSE_REFUSED", reason: expect.stringContaining("does not decode") });
  });
});

describe("refusals repeat nothing the upstream wrote", () => {
  it("a content type a typed route does not declare is refused without naming it", async () => {
    const r = await get("/type-echo", typedGw);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toMatchObject({ code: "MASK_LINEAGE_UNKNOWN", reason: expect.stringContaining("it declares application/json") });
    expectNothingReadable(r.body);
  });

  it("no log line carries the credential or a masked value", () => {
    for (const g of [gw, typedGw, pyGw]) {
      for (const secret of [TOKEN, SSN, EMAIL]) expect(allLogs(g.lines)).not.toContain(secret);
    }
  });
});

describe("a Content-Length that lies", () => {
  /** What the agent got: the status and body, or "cut" when the response broke off after its head. */
  const outcome = (path: string): Promise<{ status: number; body: Buffer } | "cut"> =>
    new Promise((resolve) => {
      void import("node:http").then(({ request }) => {
        const req = request(`${gw.url}${path}`, { headers: authed(), agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(res.complete ? { status: res.statusCode ?? 0, body: Buffer.concat(chunks) } : "cut"));
          res.on("aborted", () => resolve("cut"));
          res.on("error", () => resolve("cut"));
        });
        req.on("error", () => resolve("cut"));
        req.end();
      });
    });

  // Longer: the declared length is the answer (a truncated document, which the masks then refuse); the rest
  // is garbage on a connection regate no longer reads from. Shorter: a cut the agent sees, or a 502 when
  // regate was still reading the whole body to mask it.
  it.each([
    ["/c/cl-longer", 200],
    ["/f/cl-longer", 403],
    // Of declared length, read whole (relay-scrubbed-whole.ts): nothing went out before the cut, so a clear 502
    // that says the upstream handled the request, as the masked route answers, rather than a bare reset.
    ["/c/cl-shorter", 502],
    ["/f/cl-shorter", 502],
  ] as const)("%s: %s, never the unmasked or unscrubbed body", async (path, expected) => {
    const r = await outcome(path);
    if (r === "cut") {
      expect(expected).toBe("cut");
      return;
    }
    expect(r.status).toBe(expected);
    expectNothingReadable(r.body);
  });
});
