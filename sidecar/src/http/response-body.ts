import { STATUS_CODES } from "node:http";
import type { UpstreamResponse } from "./upstream-message.js";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from "node:zlib";
import { isJsonMedia, looksLikeJson, mediaType } from "./body.js";
import type { ResponseMasker } from "./masker.js";
import { xssiPrefix } from "./xssi.js";
import { maskDataStreamText } from "./data-stream-text.js";

/**
 * A decoder for the response's content-encoding: null for identity, undefined when regate cannot decode it
 * (then it cannot mask it either).
 */
export function decoderFor(encoding: string | string[] | undefined): Transform | null | undefined {
  const enc = (Array.isArray(encoding) ? encoding.join(",") : (encoding ?? "")).trim().toLowerCase();
  switch (enc) {
    case "":
    case "identity":
      return null;
    case "gzip":
    case "x-gzip":
      // Gunzip reads what follows a member itself: another member, or an error.
      return createGunzip();
    case "deflate":
      return new WholeStreamDecoder("deflate", 2, (head) => (isZlibHeader(head[0]!, head[1]!) ? createInflate() : createInflateRaw()));
    case "br":
      return new WholeStreamDecoder("brotli", 1, () => createBrotliDecompress());
    default:
      return undefined;
  }
}

/** RFC 1950 2.2: compression method 8 in the low nibble, and the first two bytes a multiple of 31. */
const isZlibHeader = (b0: number, b1: number): boolean => (b0 & 0x0f) === 8 && ((b0 << 8) | b1) % 31 === 0;

/**
 * A decoder that ends with its input, never before it. node's inflaters and brotli decoder end their output
 * as soon as their stream ends, with bytes still to come: a reader then took the first stream for the whole
 * body and dropped the rest unread (brotli), or, when the end came before the body did, waited for an end
 * that had already passed, until the upstream timeout or, unmasked, forever (deflate). Bytes after the stream
 * are an error here, as they are to Gunzip (unless they are another gzip member).
 *
 * For "deflate" it also picks the inflater: RFC 9110 means a zlib stream, but IIS and older PHP and Java
 * servers send raw deflate. Which one it is shows in the first two bytes (a raw stream cannot start with a
 * valid zlib header that also decodes).
 */
class WholeStreamDecoder extends Transform {
  #inner: Transform | undefined;
  #head: Buffer | undefined;
  /** This side was told the input is over: an end of the inner stream is the expected one. */
  #ending = false;

  constructor(
    private readonly coding: string,
    private readonly headBytes: number,
    private readonly pick: (head: Buffer) => Transform,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.#inner) {
      this.#inner.write(chunk, () => done());
      return;
    }
    const head = this.#head ? Buffer.concat([this.#head, chunk]) : chunk;
    if (head.length < this.headBytes) {
      this.#head = head;
      return done();
    }
    this.#head = undefined;
    const inner = (this.#inner = this.pick(head));
    // The inner output is held to this stream's pace: a small deflate bomb stays small in memory.
    inner.on("data", (d: Buffer) => {
      if (!this.push(d)) inner.pause();
    });
    inner.on("error", (err) => this.destroy(err));
    inner.on("end", () => {
      if (!this.#ending) this.destroy(new Error(`bytes after the end of the ${this.coding} stream`));
    });
    inner.write(head, () => done());
  }

  override _read(size: number): void {
    this.#inner?.resume();
    super._read(size);
  }

  override _flush(done: TransformCallback): void {
    const inner = this.#inner;
    // Too few bytes for a stream of this coding.
    if (!inner) return done(this.#head ? new Error(`${this.coding} stream too short`) : null);
    this.#ending = true;
    inner.once("end", () => done());
    inner.end();
  }

  override _destroy(err: Error | null, done: (error: Error | null) => void): void {
    this.#inner?.destroy();
    done(err);
  }
}

export type ReadUpstreamResult = { ok: true; body: Buffer } | { ok: false; reason: "too_large" | "decode_failed" | "timeout" | "aborted" };

/**
 * The whole decoded response body, up to `max` bytes, failing if the upstream goes quiet for `idleMs`. A
 * callback, not a promise: the answer goes out from the upstream's own 'end' event, without another turn.
 */
export function readUpstreamBody(res: UpstreamResponse, decoder: Transform | null, max: number, idleMs: number, resolve: (r: ReadUpstreamResult) => void): void {
  const source: Readable = decoder ? res.pipe(decoder) : res;
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const timer = setTimeout(() => finish({ ok: false, reason: "timeout" }), idleMs);
  const finish = (r: ReadUpstreamResult): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (!r.ok) {
      res.destroy();
      decoder?.destroy();
    }
    resolve(r);
  };
  source.on("data", (chunk: Buffer) => {
    timer.refresh();
    size += chunk.length;
    if (size > max) finish({ ok: false, reason: "too_large" });
    else chunks.push(chunk);
  });
  source.on("end", () => finish({ ok: true, body: Buffer.concat(chunks, size) }));
  res.on("error", () => finish({ ok: false, reason: "aborted" }));
  res.on("aborted", () => finish({ ok: false, reason: "aborted" }));
  // Destroyed by regate (the agent hung up): no 'error' or 'aborted' follows, only 'close'.
  res.on("close", () => {
    if (!res.complete) finish({ ok: false, reason: "aborted" });
  });
  decoder?.on("error", () => finish({ ok: false, reason: "decode_failed" }));
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

export type MaskBodyResult = { ok: true; body: Buffer } | { ok: false; reason: string };

/**
 * Masks a complete response body. JSON (by content type, or by its look) is masked by field and detector.
 * Other text is scanned by the detectors, but only when no field rule applies: a field cannot be found in
 * text, so such a body might carry the very value the policy wanted hidden, and is refused. Binary bodies
 * are refused whenever a rule applies, for the same reason. Refusal is fail-closed by design: the policy
 * asked for masking, and regate cannot prove it happened.
 */
export function maskBody(body: Buffer, contentType: string | undefined, masker: ResponseMasker, status?: number): MaskBodyResult {
  if (body.length === 0) return { ok: true, body };
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    return { ok: false, reason: "binary response body cannot be masked" };
  }
  const type = mediaType(contentType);
  const json = isJsonMedia(type);
  const prefix = xssiPrefix(text);
  const doc = prefix === "" ? text : text.slice(prefix.length);
  if (json || looksLikeJson(doc)) {
    try {
      const masked = masker.maskJsonText(doc);
      return { ok: true, body: masked === doc ? body : Buffer.from(prefix + masked, "utf8") };
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      if (json) return { ok: false, reason: "JSON response body does not parse" };
    }
  }
  if (status !== undefined && onlyStatusText(text, status)) return { ok: true, body };
  if (masker.hasFieldRules) return { ok: false, reason: "field masks cannot be applied to a non-JSON response body" };
  if (encodedMime(type, text)) return { ok: false, reason: "a MIME body with base64 or quoted-printable parts cannot be masked" };
  const masked = masker.maskPlainText(maskDataStreamText(text, masker) ?? text);
  return { ok: true, body: masked === text ? body : Buffer.from(masked, "utf8") };
}

/**
 * A body that says only what its status line says: its reason phrase, as Express's `res.sendStatus(202)` and
 * the MCP SDKs' HTTP+SSE transports answer a posted call ("Accepted", the call's result going out on the event
 * stream). It holds no value a field rule could be about beyond the status the agent reads anyway.
 */
function onlyStatusText(text: string, status: number): boolean {
  const phrase = STATUS_CODES[status];
  return phrase !== undefined && text.length <= 64 && text.trim().toLowerCase() === phrase.toLowerCase();
}

/** A Content-Transfer-Encoding that spells text otherwise (RFC 2045 6): a mail client decodes it, detectors would not. */
const ENCODED_PART = /^content-transfer-encoding[ \t]*:[ \t]*"?(?:base64|quoted-printable)/im;

/**
 * A MIME message or multipart body (a mail API's raw message, a batch answer) with a base64 or
 * quoted-printable part: `=40` and `YWxpY2VAZXhhbXBsZS5jb20=` read as an address once decoded, as any mail
 * reader decodes them.
 */
function encodedMime(type: string | undefined, text: string): boolean {
  return type !== undefined && (type.startsWith("multipart/") || type.startsWith("message/")) && ENCODED_PART.test(text);
}
