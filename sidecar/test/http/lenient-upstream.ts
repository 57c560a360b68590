// An upstream that resolves requests the way lenient web frameworks do: it honours method overrides
// (headers on any method, `_method` in the query or a form body, as Express's method-override, Rails and
// Laravel allow; header names read as CGI does, "_" for "-"; parameter names as PHP rewrites them, ".method"
// for "_method"), decodes the whole path (an encoded "/" becomes a separator), cuts ";params", resolves dot
// segments, merges slashes and ignores a trailing slash. It records what it executed, and can echo the
// request (credential headers included, as a debugging endpoint would) to test that regate never hands the
// route's credential back.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { closeServer, listen } from "./fixtures.js";

export interface Executed {
  method: string;
  path: string;
  wire_method: string;
  url: string;
  headers: IncomingMessage["headers"];
}

export interface LenientUpstream {
  url: string;
  executed: Executed[];
  close(): Promise<void>;
}

function frameworkPath(url: string): string {
  let p = url.split("?")[0]!;
  try {
    p = decodeURIComponent(p);
  } catch {
    /* keep raw */
  }
  p = p.replace(/\\/g, "/");
  const out: string[] = [];
  for (let seg of p.split("/")) {
    const semi = seg.indexOf(";");
    if (semi >= 0) seg = seg.slice(0, semi);
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

/** A parameter as PHP names it: leading spaces dropped, "." and " " (and an unclosed "[") as "_", arrays by base. */
function phpName(name: string): string {
  let n = name.replace(/^ +/, "");
  const bracket = n.indexOf("[");
  if (bracket >= 0) n = n.indexOf("]", bracket) > bracket ? n.slice(0, bracket) : n.slice(0, bracket) + "_" + n.slice(bracket + 1);
  return n.replace(/[ .]/g, "_");
}

function methodParam(params: URLSearchParams): string | undefined {
  let found: string | undefined;
  // The last one wins, as in PHP.
  for (const [k, v] of params) if (phpName(k) === "_method") found = v;
  return found;
}

function frameworkMethod(req: IncomingMessage, body: string): string {
  const cgi: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") cgi[name.replaceAll("_", "-")] = value;
  const header = cgi["x-http-method-override"] ?? cgi["x-http-method"] ?? cgi["x-method-override"];
  if (header !== undefined) return header.toUpperCase();
  const q = methodParam(new URLSearchParams((req.url ?? "").split("?")[1] ?? ""));
  if (q && req.method === "POST") return q.toUpperCase();
  if (req.method === "POST" && (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
    const f = methodParam(new URLSearchParams(body));
    if (f) return f.toUpperCase();
  }
  return req.method ?? "GET";
}

export async function startLenientUpstream(): Promise<LenientUpstream> {
  const executed: Executed[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const method = frameworkMethod(req, body);
      // Zend and Symfony take the path from X-Original-URL or X-Rewrite-URL when a front proxy sets one.
      const rewritten = req.headers["x-original-url"] ?? req.headers["x-rewrite-url"];
      const path = frameworkPath(typeof rewritten === "string" ? rewritten : (req.url ?? "/"));
      executed.push({ method, path, wire_method: req.method ?? "", url: req.url ?? "", headers: req.headers });
      const send = (status: number, payload: string | Buffer, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { "content-type": "application/json", ...headers }).end(payload);
      };
      const auth = req.headers.authorization ?? "";
      const token = auth.replace(/^Bearer /, "");
      switch (path) {
        case "/notes":
          // A write answered with text: field masks cannot apply to it.
          res.writeHead(201, { "content-type": "text/plain" }).end("note saved for alice@example.com");
          return;
        case "/customers/raw":
          // Written by hand: a big integer, a duplicated key and keys in other cases, as real APIs send them.
          return send(200, '{"id": 12345678901234567890, "Email": "alice@example.com", "email": "bob@example.com", "email": "carol@example.com", "SSN": "123-45-6789", "balance": 10.50}');
        case "/echo/headers":
          // A debugging endpoint that reflects what it received, credential included.
          return send(200, JSON.stringify({ method, headers: req.headers }));
        case "/echo/header-value":
          return send(200, "{}", { "x-debug-auth": auth, "x-request-token": token });
        case "/echo/base64":
          return send(200, JSON.stringify({ token_b64: Buffer.from(token).toString("base64"), nested: { raw: `prefix-${token}-suffix` } }));
        case "/echo/embedded-base64":
          // The token inside a larger base64 blob, at every byte alignment.
          return send(200, JSON.stringify({ blobs: ["", "x", "xy"].map((pad) => Buffer.from(`${pad}token=${token};`).toString("base64")) }));
        case "/echo/gzip":
          return send(200, gzipSync(JSON.stringify({ auth })), { "content-encoding": "gzip" });
        case "/echo/deflate":
          return send(200, deflateSync(JSON.stringify({ auth })), { "content-encoding": "deflate" });
        case "/echo/br":
          return send(200, brotliCompressSync(JSON.stringify({ auth })), { "content-encoding": "br" });
        case "/echo/zstd":
          return send(200, Buffer.from(JSON.stringify({ auth })), { "content-encoding": "zstd" });
        case "/echo/status-reason":
          res.writeHead(200, `OK ${token}`, { "content-type": "application/json" }).end("{}");
          return;
        case "/echo/error":
          return send(500, JSON.stringify({ error: "upstream failure", request: { authorization: auth } }));
        case "/echo/text":
          res.writeHead(200, { "content-type": "text/plain" }).end(`debug: ${auth}`);
          return;
        case "/echo/sse": {
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.write(`data: {"n":1}\n\n`);
          // The token split across two writes: a scrubber must carry bytes between chunks.
          const half = Math.floor(token.length / 2);
          res.write(`data: {"auth":"${token.slice(0, half)}`);
          setTimeout(() => res.end(`${token.slice(half)}"}\n\n`), 30);
          return;
        }
        default:
          return send(200, JSON.stringify({ method, path }));
      }
    });
  });
  const url = await listen(server);
  return { url, executed, close: () => closeServer(server) };
}
