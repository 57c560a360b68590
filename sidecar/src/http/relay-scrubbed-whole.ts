// A small response from a route whose credential regate injects, with no mask rules and no content-encoding:
// read whole, then checked and scrubbed in one pass, without the stream stages of relay-scrubbed.ts (a guard
// and a scrubber per response, each piped). The agent gets the bytes the streaming relay sends when the body
// arrives as one chunk: the same refusal of UTF-16 or UTF-32 text, the same scrubber fed that one chunk
// (ChunkScrubber), the upstream's own headers (forms are overwritten byte for byte, so its length stays true).
// A body the upstream cuts short cuts the agent's response short too, as streamed it would be (here before
// its head, so none of the partial body goes out).

import type { OutgoingHttpHeaders } from "node:http";
import type { Logger } from "pino";
import { isWideText, mediaType } from "./body.js";
import { textual, WIDE_TEXT } from "./charset.js";
import type { RequestContext } from "./context.js";
import { refuseUnreadable } from "./response-refusals.js";
import type { ReadUpstreamResult } from "./response-body.js";
import { ChunkScrubber } from "./scrub.js";
import type { UpstreamResponse } from "./upstream-message.js";

/** Bodies of declared length up to this are read whole; larger ones, and any of unknown length, stream. */
const WHOLE_BYTES = 64 * 1024;

/** Relays the response if it is one to read whole (false: the caller streams it, nothing was done). */
export function relayScrubbedWhole(ctx: RequestContext, upstream: UpstreamResponse, status: number, headers: OutgoingHttpHeaders, secrets: readonly Buffer[], log: Logger): boolean {
  const h = upstream.headers;
  const declared = Number(h["content-length"] ?? Number.NaN);
  // What decoderFor reads as no encoding. Compressed, partial or event streams have their own handling there.
  const encoding = (h["content-encoding"] ?? "").trim().toLowerCase();
  if (!(declared <= WHOLE_BYTES) || (encoding !== "" && encoding !== "identity")) return false;
  if (status === 206 || h["content-range"] !== undefined || mediaType(h["content-type"]) === "text/event-stream") return false;
  // No idle limit: a body regate does not mask streams for as long as the upstream sends it.
  return upstream.readWhole(WHOLE_BYTES, undefined, (read) => send(ctx, upstream, read, status, headers, secrets, log));
}

function send(ctx: RequestContext, upstream: UpstreamResponse, read: ReadUpstreamResult, status: number, headers: OutgoingHttpHeaders, secrets: readonly Buffer[], log: Logger): void {
  if (!read.ok) {
    // Cut short (with no idle limit and a declared length under the cap, the one way it fails): as streamed.
    log.debug({ req_id: ctx.id, err: { code: "ECONNRESET" } }, "response stream closed early");
    ctx.res.destroy();
    return;
  }
  if (textual(upstream.headers["content-type"]) && isWideText(read.body)) {
    refuseUnreadable(ctx, upstream, WIDE_TEXT, log);
    return;
  }
  const scrubber = new ChunkScrubber(secrets, true);
  const head = scrubber.write(read.body);
  const tail = scrubber.end();
  if (scrubber.found) log.warn({ req_id: ctx.id, route: ctx.route?.name }, "upstream echoed the route credential in a response body; replaced");
  ctx.res.writeHead(status, headers);
  ctx.res.end(tail.length === 0 ? head : Buffer.concat([head, tail]));
}
