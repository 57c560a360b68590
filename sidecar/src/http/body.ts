import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { parseJsonOrPython } from "./python-json.js";

export type ReadBodyResult = { ok: true; body: Buffer } | { ok: false; reason: "too_large" | "aborted" };

/**
 * The whole request body, refusing past `max` bytes. Buffering is what lets the policy see the body and
 * lets regate forward exactly the bytes the policy judged (no second read that could differ).
 */
export function readBody(req: IncomingMessage, max: number): Promise<ReadBodyResult> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > max) return Promise.resolve({ ok: false, reason: "too_large" });
  if (req.destroyed && !req.complete) return Promise.resolve({ ok: false, reason: "aborted" });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: ReadBodyResult): void => {
      if (settled) return;
      settled = true;
      req.off("data", onData).off("end", onEnd).off("error", onError).off("aborted", onError).off("close", onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        finish({ ok: false, reason: "too_large" });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    const onError = (): void => finish({ ok: false, reason: "aborted" });
    // A client that hangs up mid-body: 'close' without 'end'.
    const onClose = (): void => finish({ ok: false, reason: "aborted" });
    req.on("data", onData).on("end", onEnd).on("error", onError).on("aborted", onError).on("close", onClose);
  });
}

/**
 * The media type, cut where the most lenient upstream cuts it: PHP stops at ";", "," or a space, others at
 * ";". A type with other than printable ASCII is kept whole: Go folds "İ" to "i", so no reading is safe.
 */
export function mediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const t = contentType.trim().split(/[;,\s]/, 1)[0]!.toLowerCase();
  return t === "" ? undefined : t;
}

/**
 * A response that holds part of a representation: a 206, a Content-Range, or a body of byte ranges
 * (multipart/byteranges, and Apache's older multipart/x-byteranges) whatever its status, named anywhere in
 * Content-Type as a client may look for it. The parts are slices cut where the upstream chose, so a value
 * or credential cut between two of them is whole only once the agent joins them, which regate never sees.
 */
export function isPartialContent(status: number, headers: IncomingHttpHeaders): boolean {
  const type = headers["content-type"];
  return status === 206 || headers["content-range"] !== undefined || (type !== undefined && /multipart\/(?:x-)?byteranges/i.test(type));
}

/** A Content-Type an upstream may read otherwise than regate: bytes outside printable ASCII. */
export function oddMediaType(contentType: string | undefined): boolean {
  return contentType !== undefined && /[^\x20-\x7e\t]/.test(contentType);
}

export function isJsonMedia(type: string | undefined): boolean {
  return type !== undefined && (type === "application/json" || type === "text/json" || type.endsWith("+json"));
}

/** First non-whitespace character is "{" or "[": worth trying as JSON whatever the content type says. */
export function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b || c === 0x5b;
  }
  return false;
}

/**
 * The body regate sends upstream: inflated, when it came with a Content-Encoding regate undoes, to at most `max`
 * bytes. Most upstreams (Hono, Go, PHP, Fastify) do not undo a request's encoding and parse its bytes as they
 * come, where a gzip header comment or bytes after a deflate stream spell fields (a `_method`) that the policy,
 * judging the inflated body, never saw; body-parser inflates before qs reads. Sent inflated, the body is the
 * one judged, whichever the upstream does.
 */
export function upstreamBody(raw: Buffer, encoding: string | undefined, max: number): { ok: true; body: Buffer; inflated: boolean } | { ok: false; reason: "too_large" | "unsupported" } {
  const enc = encoding?.trim().toLowerCase();
  if (raw.length === 0 || !enc || enc === "identity") return { ok: true, body: raw, inflated: false };
  const out = decodeContent(raw, enc, max);
  return typeof out === "string" ? { ok: false, reason: out } : { ok: true, body: out, inflated: true };
}

export function decodeContent(raw: Buffer, encoding: string | undefined, cap: number): Buffer | "too_large" | "unsupported" {
  const enc = (encoding ?? "").trim().toLowerCase();
  // One byte more than the cap tells "too large" apart from "exactly the cap"; it also bounds zip bombs.
  const opts = { maxOutputLength: cap + 1 };
  try {
    let out: Buffer;
    switch (enc) {
      case "":
      case "identity":
        return raw;
      case "gzip":
      case "x-gzip":
        out = gunzipSync(raw, opts);
        break;
      case "deflate":
        out = inflateSync(raw, opts);
        break;
      case "br":
        out = brotliDecompressSync(raw, opts);
        break;
      default:
        return "unsupported";
    }
    return out.length > cap ? "too_large" : out;
  } catch (err) {
    return (err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE" ? "too_large" : "unsupported";
  }
}

/** A key as case-insensitive decoders match it (Unicode simple folding: "ſ" is "s", the Kelvin sign "k"). */
export function foldKey(key: string): string {
  return key.toUpperCase().toLowerCase();
}

/**
 * UTF-16 or UTF-32 text, as a JSON parser that sniffs encodings would take it: a byte order mark, or NULs
 * where ASCII text in those encodings has them among its first four bytes (RFC 4627 section 3).
 */
export function isWideText(b: Buffer): boolean {
  if (b.length < 2) return false;
  const [b0, b1] = [b[0]!, b[1]!];
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) return true;
  if (b.length >= 4 && b0 === 0 && b1 === 0 && b[2] === 0xfe && b[3] === 0xff) return true;
  // 00 xx (UTF-16BE) or xx 00 (UTF-16LE, UTF-32LE) with xx a non-NUL character, or 00 00 00 xx (UTF-32BE).
  return (b0 === 0) !== (b1 === 0) || (b.length >= 4 && b0 === 0 && b1 === 0 && b[2] === 0 && b[3] !== 0);
}

/** The request frames a body (possibly empty): it is read whole before deciding. */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
}

/** A string whose text is a JSON object or array, or a JSON string (which may hold one in turn). */
export function isEmbeddedJson(s: string): boolean {
  const container = looksLikeJson(s);
  const quoted = !container && s.trimStart().startsWith('"');
  if (!container && !quoted) return false;
  let inner: unknown;
  try {
    inner = parseJsonOrPython(s);
  } catch {
    return false;
  }
  return quoted ? typeof inner === "string" : inner !== null && typeof inner === "object";
}
