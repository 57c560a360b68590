// Requests whose framing or protocol regate will not carry, each refused with a constant reason (nothing the
// client sent is echoed). Node's parser refuses most ambiguous framings (Content-Length with
// Transfer-Encoding, a Transfer-Encoding not ending in chunked, repeated or listed lengths); these are the ones
// it lets through that regate cannot forward faithfully, and the protocol switches (WebSocket, CONNECT
// tunnels) whose traffic would flow past the policy.

import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { ErrorCode } from "../errors.js";
import { isHostAuthority } from "../host-name.js";
import type { Logger } from "../log.js";
import { catalogError } from "./reply.js";

export interface FramingRefusal {
  code: Extract<ErrorCode, "FEATURE_UNSUPPORTED" | "PROTOCOL_VIOLATION">;
  /** The error slug the agent sees. */
  error: "upgrade_unsupported" | "transfer_coding_unsupported" | "bad_request";
  reason: string;
}

const tokens = (v: string): string[] =>
  v
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "");

/**
 * Why regate refuses the request before reading its body, or undefined. A request asks to switch protocols
 * with Upgrade and the "upgrade" option in Connection (RFC 9110 7.8); an Upgrade header without it is only a
 * hop-by-hop header, dropped on forwarding. An upgrade to h2c is not refused either: a server may ignore it,
 * and the request is then served over HTTP/1.1, as curl --http2 expects.
 */
export function framingRefusal(req: IncomingMessage): FramingRefusal | undefined {
  const upgrade = req.headers.upgrade;
  const connection = req.headers.connection;
  if (upgrade !== undefined && connection !== undefined && tokens(connection).includes("upgrade") && tokens(upgrade).some((t) => t !== "h2c")) {
    return { code: "FEATURE_UNSUPPORTED", error: "upgrade_unsupported", reason: "protocol upgrades (WebSocket and others) are not supported through regate: only HTTP/1.1 requests are decided and forwarded" };
  }
  const te = req.headers["transfer-encoding"];
  if (te !== undefined) {
    // HTTP/1.0 has no Transfer-Encoding: its framing is faulty whatever else the message says (RFC 9112 6.1).
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) return { code: "PROTOCOL_VIOLATION", error: "bad_request", reason: "Transfer-Encoding in an HTTP/1.0 request" };
    // Node's parser undoes chunked only: a body under gzip (or identity, which is no coding) would be forwarded
    // still coded, with nothing saying so (RFC 9112 6.1: 501 for a coding the server does not understand).
    const codings = tokens(te);
    if (codings.length !== 1 || codings[0] !== "chunked") return { code: "FEATURE_UNSUPPORTED", error: "transfer_coding_unsupported", reason: "transfer codings other than chunked are not supported through regate; send the body with Content-Length or Transfer-Encoding: chunked" };
  }
  // One Host, or which one names the route is the reader's choice (RFC 9112 3.2: 400).
  let hosts = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === "host") hosts++;
  if (hosts > 1) return { code: "PROTOCOL_VIOLATION", error: "bad_request", reason: "more than one Host header" };
  // Routes match the name before the first ":", the policy reads the whole value (host-name.ts isHostAuthority).
  const host = req.headers.host;
  if (host !== undefined && host !== "" && !isHostAuthority(host)) return { code: "PROTOCOL_VIOLATION", error: "bad_request", reason: "the Host header is not a host and port" };
  return undefined;
}

/**
 * The answer to a CONNECT request (Node hands those to the server's 'connect' event, never to the request
 * handler, and closes the connection without a word when nobody listens): a tunnel would carry traffic the
 * policy never sees, so it is refused with the catalog's JSON error, and the connection closed.
 */
export function refuseTunnel(socket: Socket): void {
  const e = catalogError("FEATURE_UNSUPPORTED", "tunnel_unsupported", "CONNECT tunnels are not supported through regate; send each request to regate (origin-form, or absolute-form for an http:// URL)");
  const body = JSON.stringify(e.body);
  socket.on("error", () => socket.destroy());
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`);
}

/** Node's parse errors (llhttp codes), in regate's words: the parser's own text is never sent. */
const PARSE_ERRORS: Readonly<Record<string, string>> = {
  HPE_INVALID_URL: "the request target has a character HTTP does not allow; percent-encode spaces and non-ASCII characters",
  HPE_INVALID_TRANSFER_ENCODING: "Transfer-Encoding is malformed or comes with Content-Length: the body's length is ambiguous",
  HPE_UNEXPECTED_CONTENT_LENGTH: "Content-Length is repeated or comes with Transfer-Encoding: the body's length is ambiguous",
  HPE_INVALID_CONTENT_LENGTH: "Content-Length is not a number",
  HPE_INVALID_CHUNK_SIZE: "a chunk of the body is malformed",
  HPE_INVALID_VERSION: "only HTTP/1.1 and HTTP/1.0 requests are served",
  HPE_INVALID_CONSTANT: "the request line is malformed",
  HPE_INVALID_METHOD: "the method is not one HTTP defines; methods are case-sensitive (DELETE, not delete)",
  HPE_INVALID_HEADER_TOKEN: "a header has a character HTTP does not allow, or whitespace where it may not be",
};

/** Why Node's parser refused the request, for the 400's reason. */
export function parseErrorReason(code: string | undefined): string {
  return (code !== undefined && PARSE_ERRORS[code]) || "malformed HTTP request";
}

/**
 * What an HTTP/2 client that assumed HTTP/2 (prior knowledge) gets instead of HTTP/1.1 text it cannot read: the
 * server preface (an empty SETTINGS frame) and a GOAWAY with HTTP_1_1_REQUIRED (RFC 9113 3.4, 6.8, 7), which
 * clients report by name and some answer by retrying over HTTP/1.1.
 */
export const HTTP2_REFUSAL: Buffer = (() => {
  const debug = Buffer.from("regate serves HTTP/1.1 only");
  const settings = Buffer.from([0, 0, 0, 0x04, 0, 0, 0, 0, 0]);
  const goaway = Buffer.alloc(9 + 8 + debug.length);
  goaway.writeUIntBE(8 + debug.length, 0, 3);
  goaway[3] = 0x07;
  // Flags 0, stream 0, last stream id 0 (none was processed), error code HTTP_1_1_REQUIRED (0xd).
  goaway.writeUInt32BE(0x0d, 13);
  debug.copy(goaway, 17);
  return Buffer.concat([settings, goaway]);
})();

/**
 * What never reaches the request handler is answered here: CONNECT (refused, not dropped), and requests
 * Node's parser refuses (CR/LF in header values, oversized headers, the HTTP/2 preface, slow headers).
 */
export function answerUnparsed(server: Server, log: Logger): void {
  // The last request Node handed over on each connection, for a parse error in the bytes after it.
  const latest = new WeakMap<Socket, ServerResponse>();
  const track = (req: IncomingMessage, res: ServerResponse): void => void latest.set(req.socket, res);
  server.on("request", track);
  server.on("checkContinue", track);
  server.on("connect", (_req: IncomingMessage, socket: Socket) => {
    log.debug("CONNECT refused");
    refuseTunnel(socket);
  });
  // An Expect other than 100-continue, which Node would answer with a bare 417: the agent is told why.
  server.on("checkExpectation", (_req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify({ error: "expectation_failed", code: "FEATURE_UNSUPPORTED", reason: "regate only meets Expect: 100-continue; send the request without another expectation" });
    res.shouldKeepAlive = false;
    res.writeHead(417, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" }).end(body);
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    // The handler already answered (it refused the headers before the body's framing failed): that answer
    // goes out whole and ends the connection; a second one would read as the answer to a request never sent.
    if ((socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage?.headersSent) {
      socket.destroySoon();
      return;
    }
    // Malformed bytes after whole requests (pipelined in the same write, or past a Content-Length): those
    // requests were decided and may have run upstream. A 400 now would go out ahead of their answers and read
    // as the answer to the first, an executed write the agent would think refused and send again. Their
    // answers go out instead, the last one closing the connection; the malformed bytes get none.
    const pending = latest.get(socket);
    if (pending !== undefined && !pending.writableFinished && pending.req.complete) {
      log.debug({ err: { code: err.code } }, "malformed bytes after a whole request; the connection closes once it is answered");
      if (!pending.headersSent) pending.shouldKeepAlive = false;
      pending.once("finish", () => socket.destroySoon());
      return;
    }
    if (err.code === "HPE_PAUSED_H2_UPGRADE") {
      // The HTTP/2 connection preface: answered in HTTP/2, which is what the client reads.
      log.debug("HTTP/2 prior knowledge refused");
      socket.end(HTTP2_REFUSAL);
      return;
    }
    const [status, text] =
      err.code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large"] : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "Request Timeout"] : [400, "Bad Request"];
    const body = JSON.stringify({ error: "bad_request", code: "PROTOCOL_VIOLATION", reason: parseErrorReason(err.code) });
    log.debug({ err: { code: err.code } }, "malformed request");
    socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
}
