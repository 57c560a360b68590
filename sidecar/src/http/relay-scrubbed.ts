// A response from a route whose credential regate injects, with no mask rules: streamed, decoded when it is
// compressed, with every form of the credential replaced.

import type { OutgoingHttpHeaders } from "node:http";
import type { UpstreamResponse } from "./upstream-message.js";
import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { isPartialContent, mediaType } from "./body.js";
import { textual, WIDE_TEXT, WideTextError, WideTextGuard } from "./charset.js";
import type { RequestContext } from "./context.js";
import { dropBodyDescriptors } from "./headers.js";
import { refuseCutShort, refuseUnreadable, streamDone } from "./response-refusals.js";
import { decoderFor } from "./response-body.js";
import { SecretScrubber } from "./scrub.js";

/**
 * Partial content and encodings regate cannot decode are refused (the credential could hide in them), and so
 * is text in UTF-16 or UTF-32, which the scrubber would read as bytes no client reads; each refusal says the
 * upstream handled the request. A textual body's head waits for its first decoded bytes, so that such a
 * refusal (or a body that does not decode) is still a clean answer rather than a cut one.
 */
export function relayScrubbed(ctx: RequestContext, upstream: UpstreamResponse, status: number, headers: OutgoingHttpHeaders, secrets: readonly Buffer[], log: Logger): void {
  const decoder = decoderFor(upstream.headers["content-encoding"]);
  const unreadable = isPartialContent(status, upstream.headers) ? "partial content" : decoder === undefined ? "a content-encoding regate cannot decode" : undefined;
  if (unreadable !== undefined) {
    refuseUnreadable(ctx, upstream, unreadable, log);
    return;
  }
  const { res } = ctx;
  const type = upstream.headers["content-type"];
  // An uncompressed body is scrubbed byte for byte in place ("*" for each byte of a form): its length and
  // framing stay true, so it streams with its own headers. A compressed one is decoded and sent as it decodes.
  if (decoder) dropBodyDescriptors(headers);
  const guard = textual(type) ? new WideTextGuard() : undefined;
  if (guard) guard.once("checked", () => res.writeHead(status, headers));
  else res.writeHead(status, headers);
  // An agent reading events joins their data: a credential cut across events is one credential.
  const scrubber = new SecretScrubber(secrets, decoder === null, { sse: mediaType(typeof type === "string" ? type : undefined) === "text/event-stream" });
  let over = false;
  // Plain pipes, as on the unmasked path: pipeline() allocates an AbortController per call. Any stage
  // failing ends the response short (or, before its head went out, answers it); a client hang-up is
  // handled by the gateway's close handler.
  const failed = (err: NodeJS.ErrnoException): void => {
    if (over) return;
    over = true;
    decoder?.destroy();
    guard?.destroy();
    scrubber.destroy();
    if (res.headersSent || res.destroyed) {
      streamDone(ctx, log)(err);
      upstream.destroy();
      res.destroy();
    } else if (err instanceof WideTextError) {
      refuseUnreadable(ctx, upstream, WIDE_TEXT, log);
    } else if (err === decodeError) {
      refuseUnreadable(ctx, upstream, "a body that does not decode as its content-encoding says", log);
    } else {
      refuseCutShort(ctx, upstream, log);
    }
  };
  let decodeError: unknown;
  upstream.on("error", failed);
  scrubber.on("error", failed);
  scrubber.on("end", () => {
    if (scrubber.found) log.warn({ req_id: ctx.id, route: ctx.route?.name }, "upstream echoed the route credential in a response body; replaced");
  });
  let source: Readable = upstream;
  if (decoder) {
    decoder.on("error", (err) => {
      decodeError = err;
      failed(err);
    });
    source = source.pipe(decoder);
  }
  if (guard) {
    guard.on("error", failed);
    source = source.pipe(guard);
  }
  source.pipe(scrubber).pipe(res);
}
