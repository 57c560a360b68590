import type { IncomingMessage } from "node:http";
import type { Readable, Transform } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { isJsonMedia, looksLikeJson, mediaType } from "./body.js";
import type { ResponseMasker } from "./masker.js";

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
      return createGunzip();
    case "deflate":
      return createInflate();
    case "br":
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

export type ReadUpstreamResult = { ok: true; body: Buffer } | { ok: false; reason: "too_large" | "decode_failed" | "timeout" | "aborted" };

/**
 * The whole decoded response body, up to `max` bytes, failing if the upstream goes quiet for `idleMs`. A
 * callback, not a promise: the answer goes out from the upstream's own 'end' event, without another turn.
 */
export function readUpstreamBody(res: IncomingMessage, decoder: Transform | null, max: number, idleMs: number, resolve: (r: ReadUpstreamResult) => void): void {
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
export function maskBody(body: Buffer, contentType: string | undefined, masker: ResponseMasker): MaskBodyResult {
  if (body.length === 0) return { ok: true, body };
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    return { ok: false, reason: "binary response body cannot be masked" };
  }
  const type = mediaType(contentType);
  const json = isJsonMedia(type);
  if (json || looksLikeJson(text)) {
    try {
      const masked = masker.maskJsonText(text);
      return { ok: true, body: masked === text ? body : Buffer.from(masked, "utf8") };
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      if (json) return { ok: false, reason: "JSON response body does not parse" };
    }
  }
  if (masker.hasFieldRules) return { ok: false, reason: "field masks cannot be applied to a non-JSON response body" };
  const masked = masker.maskPlainText(text);
  return { ok: true, body: masked === text ? body : Buffer.from(masked, "utf8") };
}
