import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { pipeline } from "node:stream";
import type { Logger } from "pino";
import { isDisconnect } from "../errors.js";
import { isJsonMedia, mediaType } from "./body.js";
import type { RequestContext } from "./context.js";
import { dropBodyDescriptors, responseHeaders, rewriteSelfReferences } from "./headers.js";
import { catalogError, sendError } from "./reply.js";
import type { ResponseMasker } from "./masker.js";
import { decoderFor, maskBody, readUpstreamBody, type ReadUpstreamResult } from "./response-body.js";
import { scrubBuffer, scrubHeaders, SecretScrubber } from "./scrub.js";
import { SseMasker } from "./sse-mask.js";
import { relayStreamedJson } from "./upstream-json.js";
import { maskResponseHeaders } from "./mask-headers.js";

export interface ResponseLimits {
  timeout_ms: number;
  max_masked_body_bytes: number;
}

/**
 * A JSON body of declared length up to this is read whole and masked in one pass (cheapest for the small
 * answers most APIs give); anything else is masked as it streams (upstream-json.ts).
 */
const BUFFERED_JSON_BYTES = 64 * 1024;

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

function hasNoBody(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/** Refuses a response regate was asked to mask but cannot: the agent gets an error, never the raw body. */
function refuseUnmaskable(ctx: RequestContext, upstream: IncomingMessage, reason: string, log: Logger): void {
  upstream.destroy();
  log.warn({ req_id: ctx.id, route: ctx.route?.name, reason }, "response could not be masked; refused");
  // The upstream has acted by now: an agent must not take the refusal as "nothing happened" and retry a write.
  const e = catalogError("MASK_LINEAGE_UNKNOWN", "mask_failed", `${reason}; the upstream already handled the request${SAFE_METHODS.has(ctx.method) ? "" : ", do not retry it"}`);
  ctx.errorCode = "MASK_LINEAGE_UNKNOWN";
  sendError(ctx.res, e.status, { ...e.body, ...(ctx.decision ? { decision_id: ctx.decision.decision_id } : {}) });
}

/**
 * Refuses a response regate cannot read to check: the agent gets a JSON error that says the upstream acted,
 * never bytes regate could not vouch for.
 */
function refuseUnreadable(ctx: RequestContext, upstream: IncomingMessage, what: string, log: Logger): void {
  upstream.destroy();
  log.warn({ req_id: ctx.id, route: ctx.route?.name, reason: what }, "response could not be checked for the route credential; refused");
  const e = catalogError("UPSTREAM_RESPONSE_REFUSED", "upstream_response_refused", `the upstream handled the request, but its response (${what}) could not be checked for regate's credential${SAFE_METHODS.has(ctx.method) ? "" : "; do not retry it"}`);
  ctx.errorCode = "UPSTREAM_RESPONSE_REFUSED";
  sendError(ctx.res, e.status, e.body);
}

/**
 * A transfer-coding other than chunked (gzip, deflate, ...) is undone by nobody: Node's parser only
 * de-chunks, and the header is hop-by-hop, so the agent would get compressed bytes with nothing saying so.
 */
function foreignTransferCoding(upstream: IncomingMessage): boolean {
  const te = upstream.headers["transfer-encoding"];
  return te !== undefined && te.trim().toLowerCase() !== "chunked";
}

function streamDone(ctx: RequestContext, log: Logger) {
  return (err: NodeJS.ErrnoException | null | undefined): void => {
    if (!err) return;
    // The client hanging up mid-stream is normal; anything else cut the response short.
    if (isDisconnect(err) || err.code === "ERR_STREAM_PREMATURE_CLOSE") log.debug({ req_id: ctx.id, err: { code: err.code } }, "response stream closed early");
    else log.warn({ req_id: ctx.id, route: ctx.route?.name, err: { code: err.code, message: err.message } }, "response stream failed");
  };
}

/**
 * Relays the upstream response. Without mask rules it streams untouched (SSE and chunked included). With
 * them: event streams are masked event by event as they flow; JSON is masked token by token as it flows
 * (a small one of declared length in one pass); other bodies are decoded, buffered (up to a cap), masked,
 * and sent uncompressed with a recomputed Content-Length.
 */
export function relayResponse(ctx: RequestContext, upstream: IncomingMessage, limits: ResponseLimits, log: Logger, onError: (err: unknown) => void): void {
  const { res } = ctx;
  const status = upstream.statusCode ?? 502;
  if (status === 401 && ctx.route?.credentialHeader !== undefined) {
    // The agent's own credential was never forwarded, so a 401 is about regate's: say so, not "unauthorized".
    upstream.resume();
    log.warn({ req_id: ctx.id, route: ctx.route.name }, "upstream rejected the route credential");
    const e = catalogError("UPSTREAM_AUTH_FAILED", "upstream_auth_failed");
    ctx.errorCode = "UPSTREAM_AUTH_FAILED";
    sendError(res, e.status, e.body);
    return;
  }
  if (!hasNoBody(ctx.method, status) && foreignTransferCoding(upstream)) {
    refuseUnreadable(ctx, upstream, "a transfer-encoding other than chunked", log);
    return;
  }
  const declared = ctx.route?.responseTypes;
  const type = mediaType(typeof upstream.headers["content-type"] === "string" ? upstream.headers["content-type"] : undefined);
  if (declared !== undefined && ctx.masker !== undefined && !hasNoBody(ctx.method, status) && (type === undefined || !declared.has(type))) {
    refuseUnmaskable(ctx, upstream, `the upstream answered with ${type ?? "no content type"}, which this route does not declare`, log);
    return;
  }
  const headers = responseHeaders(upstream.headers);
  // regate's own credential never goes back: every form of it is replaced in headers and bodies.
  const secrets = ctx.route?.secretForms ?? [];
  if (scrubHeaders(headers, secrets)) log.warn({ req_id: ctx.id, route: ctx.route?.name }, "upstream echoed the route credential in a response header; replaced");
  const masker = ctx.masker;
  // Headers are free text built from the same records as the body (Location, Content-Disposition, custom ones).
  if (masker && maskResponseHeaders(headers, masker) > 0) log.info({ req_id: ctx.id, route: ctx.route?.name }, "masked values in response headers");
  // Last, on values already scrubbed and masked as the upstream wrote them: the agent follows them through regate.
  if (ctx.route && ctx.proxyReq) rewriteSelfReferences(headers, ctx.route, ctx.proxyReq.path);
  if (!masker && secrets.length > 0 && !hasNoBody(ctx.method, status)) {
    relayScrubbed(ctx, upstream, status, headers, secrets, log);
    return;
  }
  if (!masker || hasNoBody(ctx.method, status)) {
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
  if (status === 206 || upstream.headers["content-range"] !== undefined) {
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
  if (mediaType(contentType) === "text/event-stream") {
    dropBodyDescriptors(headers);
    res.writeHead(status, headers);
    const sse = new SseMasker((data) => masker.maskEventData(data), limits.max_masked_body_bytes);
    const stages: NodeJS.ReadWriteStream[] = [];
    if (decoder) stages.push(decoder);
    stages.push(sse);
    if (secrets.length > 0) stages.push(new SecretScrubber(secrets, false, { sse: true }));
    pipeline([upstream, ...stages, res], streamDone(ctx, log));
    return;
  }
  const declaredLength = Number(upstream.headers["content-length"] ?? Number.NaN);
  if (isJsonMedia(mediaType(contentType)) && !(decoder === null && declaredLength <= BUFFERED_JSON_BYTES)) {
    // Large, compressed or of unknown length: masked as it streams, never held whole.
    dropBodyDescriptors(headers);
    relayStreamedJson(ctx, upstream, {
      status,
      headers,
      decoder,
      masker,
      secrets,
      maxValueBytes: limits.max_masked_body_bytes,
      idleMs: limits.timeout_ms,
      log,
      refuse: (reason) => refuseUnmaskable(ctx, upstream, reason, log),
    });
    return;
  }
  readUpstreamBody(upstream, decoder, limits.max_masked_body_bytes, limits.timeout_ms, (read) => {
    try {
      sendMaskedBody(ctx, upstream, read, status, headers, masker, secrets, log);
    } catch (err) {
      onError(err);
    }
  });
}

/** A body read whole: masked, scrubbed and sent with its length, or refused. */
function sendMaskedBody(
  ctx: RequestContext,
  upstream: IncomingMessage,
  read: ReadUpstreamResult,
  status: number,
  headers: OutgoingHttpHeaders,
  masker: ResponseMasker,
  secrets: readonly Buffer[],
  log: Logger,
): void {
  const { res } = ctx;
  const contentType = upstream.headers["content-type"];
  if (!read.ok) {
    if (read.reason === "timeout") {
      const e = catalogError("UPSTREAM_TIMEOUT", "upstream_timeout");
      ctx.errorCode = "UPSTREAM_TIMEOUT";
      sendError(res, e.status, e.body);
    } else if (read.reason === "aborted") {
      const e = catalogError("UPSTREAM_UNAVAILABLE", "upstream_unavailable", "upstream closed the connection mid-response");
      ctx.errorCode = "UPSTREAM_UNAVAILABLE";
      sendError(res, e.status, e.body);
    } else {
      refuseUnmaskable(ctx, upstream, read.reason === "too_large" ? "response is larger than regate masks" : "response body could not be decoded", log);
    }
    return;
  }
  let result: ReturnType<typeof maskBody>;
  try {
    result = maskBody(read.body, typeof contentType === "string" ? contentType : undefined, masker);
  } catch (err) {
    log.warn({ req_id: ctx.id, err: { message: (err as Error).message } }, "masking failed");
    result = { ok: false, reason: "response could not be masked" };
  }
  if (!result.ok) {
    refuseUnmaskable(ctx, upstream, result.reason, log);
    return;
  }
  const body = scrubBuffer(result.body, secrets);
  dropBodyDescriptors(headers);
  headers["content-length"] = String(body.length);
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * A response from a route whose credential regate injects, with no mask rules: streamed, decoded when it is
 * compressed, with every form of the credential replaced. Partial content and encodings regate cannot
 * decode are refused (the credential could hide in them); the refusal says the upstream handled the request.
 */
function relayScrubbed(ctx: RequestContext, upstream: IncomingMessage, status: number, headers: OutgoingHttpHeaders, secrets: readonly Buffer[], log: Logger): void {
  const decoder = decoderFor(upstream.headers["content-encoding"]);
  const unreadable = status === 206 || upstream.headers["content-range"] !== undefined ? "partial content" : decoder === undefined ? "a content-encoding regate cannot decode" : undefined;
  if (unreadable !== undefined) {
    refuseUnreadable(ctx, upstream, unreadable, log);
    return;
  }
  // An uncompressed body is scrubbed byte for byte in place ("*" for each byte of a form): its length and
  // framing stay true, so it streams with its own headers. A compressed one is decoded and sent as it decodes.
  if (decoder) dropBodyDescriptors(headers);
  ctx.res.writeHead(status, headers);
  const type = typeof upstream.headers["content-type"] === "string" ? upstream.headers["content-type"] : undefined;
  // An agent reading events joins their data: a credential cut across events is one credential.
  const scrubber = new SecretScrubber(secrets, decoder === null, { sse: mediaType(type) === "text/event-stream" });
  // Plain pipes, as on the unmasked path: pipeline() allocates an AbortController per call. Any stage
  // failing ends the response short; a client hang-up is handled by the gateway's close handler.
  const failed = (err: NodeJS.ErrnoException): void => {
    streamDone(ctx, log)(err);
    ctx.res.destroy();
  };
  upstream.on("error", failed);
  scrubber.on("error", failed);
  scrubber.on("end", () => {
    if (scrubber.found) log.warn({ req_id: ctx.id, route: ctx.route?.name }, "upstream echoed the route credential in a response body; replaced");
  });
  if (decoder) {
    decoder.on("error", failed);
    upstream.pipe(decoder).pipe(scrubber).pipe(ctx.res);
  } else {
    upstream.pipe(scrubber).pipe(ctx.res);
  }
}
