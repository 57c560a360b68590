import type { OutgoingHttpHeaders } from "node:http";
import type { UpstreamResponse } from "./upstream-message.js";
import { pipeline } from "node:stream";
import type { Logger } from "pino";
import { isJsonMedia, isPartialContent, isWideText, mediaType } from "./body.js";
import { foreignCharset, WIDE_TEXT } from "./charset.js";
import { isJsonLines } from "./json-lines.js";
import type { RequestContext } from "./context.js";
import { keyCacheToAgent, responseHeaders, rewriteSelfReferences } from "./headers.js";
import { catalogError, sendError } from "./reply.js";
import type { ResponseMasker } from "./masker.js";
import { decoderFor, maskBody, readUpstreamBody, type ReadUpstreamResult } from "./response-body.js";
import { relayScrubbed } from "./relay-scrubbed.js";
import { relayScrubbedWhole } from "./relay-scrubbed-whole.js";
import { refuseCutShort, refuseUnmaskable, refuseUnreadable, relayFailed, streamDone } from "./response-refusals.js";
import { scrubBuffer, scrubHeaders, SecretScrubber } from "./scrub.js";
import { SseMasker } from "./sse-mask.js";
import { streamJoinsFor } from "./stream-joins.js";
import { relayStreamedJson } from "./upstream-json.js";
import { maskResponseHeaders } from "./mask-headers.js";
import { relayLiveEvents } from "./mcp-live-events.js";

export interface ResponseLimits {
  timeout_ms: number;
  max_masked_body_bytes: number;
}

/**
 * A JSON body of declared length up to this is read whole and masked in one pass (cheapest for the small
 * answers most APIs give); anything else is masked as it streams (upstream-json.ts).
 */
const BUFFERED_JSON_BYTES = 64 * 1024;

function hasNoBody(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * A transfer-coding other than chunked (gzip, deflate, ...) is undone by nobody: the HTTP client only
 * de-chunks, and the header is hop-by-hop, so the agent would get compressed bytes with nothing saying so.
 */
function foreignTransferCoding(upstream: UpstreamResponse): boolean {
  const te = upstream.headers["transfer-encoding"];
  return te !== undefined && te.trim().toLowerCase() !== "chunked";
}

/**
 * A Content-Type that names an event stream anywhere but as its media type ("text/plain, text/event-stream",
 * `application/json; profile="text/event-stream"`, "text/event-stream-v2"). regate reads a body as events only
 * by its media type; clients look for the name in the whole header (the MCP TypeScript SDK's includes(),
 * fetch-event-source's startsWith(), httpx-sse's substring test), read the body as events and join the data
 * lines of each: a credential or masked value cut across those lines, never whole in the text regate read,
 * would be whole in theirs.
 */
function looseEventStream(contentType: string | undefined, type: string | undefined): boolean {
  return type !== "text/event-stream" && contentType !== undefined && /event-stream/i.test(contentType);
}

/**
 * Relays the upstream response. Without mask rules it streams untouched (SSE and chunked included). With
 * them: event streams are masked event by event as they flow; JSON is masked token by token as it flows
 * (a small one of declared length in one pass), newline-delimited JSON line by line; other bodies are
 * decoded, buffered (up to a cap), masked, and sent uncompressed with a recomputed Content-Length.
 */
export function relayResponse(ctx: RequestContext, upstream: UpstreamResponse, limits: ResponseLimits, log: Logger, onError: (err: unknown) => void): void {
  const { res } = ctx;
  const status = upstream.statusCode ?? 502;
  // Nothing may follow a response without a body on its connection: forward.ts (204, 304) and undici (HEAD)
  // close it, so that a body written anyway (Python's `do_HEAD = do_GET`), late, is never read as the answer
  // to the next request sent there.
  if (status === 401 && ctx.route?.credentialHeader !== undefined) {
    // The agent's own credential was never forwarded, so a 401 is about regate's: say so, not "unauthorized".
    upstream.resume();
    log.warn({ req_id: ctx.id, route: ctx.route.name }, "upstream rejected the route credential");
    const e = catalogError("UPSTREAM_AUTH_FAILED", "upstream_auth_failed");
    ctx.errorCode = "UPSTREAM_AUTH_FAILED";
    sendError(res, e.status, e.body);
    return;
  }
  const bodiless = hasNoBody(ctx.method, status);
  if (!bodiless && foreignTransferCoding(upstream)) {
    refuseUnreadable(ctx, upstream, "a transfer-encoding other than chunked", log);
    return;
  }
  const declared = ctx.route?.responseTypes;
  const type = mediaType(typeof upstream.headers["content-type"] === "string" ? upstream.headers["content-type"] : undefined);
  if (declared !== undefined && ctx.masker !== undefined && !bodiless && (type === undefined || !declared.has(type))) {
    // Not named: the upstream wrote it, and an echo may have put regate's credential or a masked value in it.
    refuseUnmaskable(ctx, upstream, `the upstream answered with ${type === undefined ? "no content type" : "a content type"} this route does not declare (it declares ${[...declared].join(", ")})`, log);
    return;
  }
  // regate's own credential never goes back: every form of it is replaced in headers and bodies.
  const secrets = ctx.route?.secretForms ?? [];
  const charset = bodiless ? undefined : foreignCharset(upstream.headers["content-type"]);
  if (charset !== undefined && (ctx.masker !== undefined || secrets.length > 0)) {
    const what = `text in ${charset} (by its charset), which spells even ASCII otherwise than regate reads it`;
    if (ctx.masker) refuseUnmaskable(ctx, upstream, `the response is ${what}`, log);
    else refuseUnreadable(ctx, upstream, what, log);
    return;
  }
  if (!bodiless && (ctx.masker !== undefined || secrets.length > 0) && looseEventStream(upstream.headers["content-type"], type)) {
    const what = "a content type that names an event stream other than as its media type, which clients read as events and regate would not";
    if (ctx.masker) refuseUnmaskable(ctx, upstream, `the response has ${what}`, log);
    else refuseUnreadable(ctx, upstream, what, log);
    return;
  }
  const masker = ctx.masker;
  // In an MCP session, later calls' rules apply to a stream already open (mcp-live-rules.ts).
  const live = !bodiless && type === "text/event-stream" ? ctx.liveMasker : undefined;
  // A masked response's own body is rewritten, and a masked HEAD or 304 describes the upstream's unmasked
  // one: their validators and digests are hashes of it (Express's ETag is a SHA-1 of the body), against which
  // an agent could test guesses of the masked values, and its length tells theirs. They are left out as the
  // headers are copied (no later step adds them back).
  const headers = responseHeaders(upstream.headers, masker !== undefined || live !== undefined);
  keyCacheToAgent(headers);
  if (scrubHeaders(headers, secrets)) log.warn({ req_id: ctx.id, route: ctx.route?.name }, "upstream echoed the route credential in a response header; replaced");
  // Headers are free text built from the same records as the body (Location, Content-Disposition, custom ones).
  if (masker && maskResponseHeaders(headers, masker) > 0) log.info({ req_id: ctx.id, route: ctx.route?.name }, "masked values in response headers");
  // Last, on values already scrubbed and masked as the upstream wrote them: the agent follows them through regate.
  if (ctx.route && ctx.proxyReq) rewriteSelfReferences(headers, ctx.route, ctx.proxyReq.path);
  if (live) return relayLiveEvents(ctx, upstream, status, headers, secrets, live, limits.max_masked_body_bytes, log, ctx.liveJoins && masker ? streamJoinsFor(masker) : undefined);
  if (!masker && secrets.length > 0 && !bodiless) {
    if (!relayScrubbedWhole(ctx, upstream, status, headers, secrets, log, onError)) relayScrubbed(ctx, upstream, status, headers, secrets, log);
    return;
  }
  if (!masker || bodiless) {
    res.writeHead(status, headers);
    // Plain pipe, not pipeline(): this is the hot path, and pipeline allocates an AbortController (and an
    // AbortError on completion) per call. A client hang-up is handled by the gateway's close handler,
    // which destroys the upstream response.
    upstream.on("error", (err: NodeJS.ErrnoException) => {
      streamDone(ctx, log)(err);
      res.destroy();
    });
    upstream.pipe(res);
    return;
  }
  if (isPartialContent(status, upstream.headers)) {
    refuseUnmaskable(ctx, upstream, "partial content cannot be masked", log);
    return;
  }
  const decoder = decoderFor(upstream.headers["content-encoding"]);
  if (decoder === undefined) {
    refuseUnmaskable(ctx, upstream, "response content-encoding cannot be decoded for masking", log);
    return;
  }
  const contentType = upstream.headers["content-type"];
  ctx.masked = true;
  if (type === "text/event-stream") {
    res.writeHead(status, headers);
    const sse = new SseMasker((data) => masker.maskEventData(data), limits.max_masked_body_bytes, streamJoinsFor(masker));
    const stages: NodeJS.ReadWriteStream[] = [];
    if (decoder) stages.push(decoder);
    stages.push(sse);
    if (secrets.length > 0) stages.push(new SecretScrubber(secrets, false, { sse: true }));
    pipeline([upstream, ...stages, res], streamDone(ctx, log));
    return;
  }
  const declaredLength = Number(upstream.headers["content-length"] ?? Number.NaN);
  const lines = isJsonLines(type, contentType);
  if (lines || (isJsonMedia(type) && !(decoder === null && declaredLength <= BUFFERED_JSON_BYTES))) {
    // Large, compressed or of unknown length: masked as it streams, never held whole.
    relayStreamedJson(ctx, upstream, {
      status,
      headers,
      decoder,
      masker,
      secrets,
      maxValueBytes: limits.max_masked_body_bytes,
      idleMs: limits.timeout_ms,
      log,
      ...(lines ? { lines: decoder === null && Number.isFinite(declaredLength) ? "whole" : "stream" } : {}),
      refuse: (reason) => refuseUnmaskable(ctx, upstream, reason, log),
    });
    return;
  }
  // Called back from undici's callbacks (readWhole) or a stream's events: a throw would reach neither the
  // agent nor the gateway's catch.
  const send = (read: ReadUpstreamResult): void => {
    try {
      sendMaskedBody(ctx, upstream, read, status, headers, masker, secrets, log);
    } catch (err) {
      relayFailed(upstream, onError, err);
    }
  };
  if (decoder !== null || !upstream.readWhole(limits.max_masked_body_bytes, limits.timeout_ms, send)) readUpstreamBody(upstream, decoder, limits.max_masked_body_bytes, limits.timeout_ms, send);
}

/** A body read whole: masked, scrubbed and sent with its length, or refused. */
function sendMaskedBody(
  ctx: RequestContext,
  upstream: UpstreamResponse,
  read: ReadUpstreamResult,
  status: number,
  headers: OutgoingHttpHeaders,
  masker: ResponseMasker,
  secrets: readonly Buffer[],
  log: Logger,
): void {
  const { res } = ctx;
  const contentType = upstream.headers["content-type"];
  if (read.ok && isWideText(read.body)) {
    refuseUnmaskable(ctx, upstream, `the response is ${WIDE_TEXT}, which regate cannot mask`, log);
    return;
  }
  if (!read.ok) {
    if (read.reason === "timeout") {
      const e = catalogError("UPSTREAM_TIMEOUT", "upstream_timeout");
      ctx.errorCode = "UPSTREAM_TIMEOUT";
      sendError(res, e.status, e.body);
    } else if (read.reason === "aborted") {
      refuseCutShort(ctx, upstream, log);
    } else {
      refuseUnmaskable(ctx, upstream, read.reason === "too_large" ? "response is larger than regate masks" : "response body could not be decoded", log);
    }
    return;
  }
  let result: ReturnType<typeof maskBody>;
  try {
    result = maskBody(read.body, typeof contentType === "string" ? contentType : undefined, masker, status);
  } catch (err) {
    log.warn({ req_id: ctx.id, err: { message: (err as Error).message } }, "masking failed");
    result = { ok: false, reason: "response could not be masked" };
  }
  if (!result.ok) {
    refuseUnmaskable(ctx, upstream, result.reason, log);
    return;
  }
  const body = scrubBuffer(result.body, secrets);
  headers["content-length"] = String(body.length);
  res.writeHead(status, headers);
  // A small body goes as a latin1 string (byte for byte the same bytes): node:http then writes it and the
  // headers as one string, instead of a writev of two chunks, which costs more than the copy.
  res.end(body.length <= ONE_STRING_BYTES ? body.toString("latin1") : body, "latin1");
}

/** Bodies up to this are sent as one string with their headers (sendMaskedBody). */
const ONE_STRING_BYTES = 16 * 1024;
