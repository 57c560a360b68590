// A small response from a route whose credential regate injects, with no mask rules and no content-encoding:
// read whole, then checked and scrubbed in one pass, without the stream stages of relay-scrubbed.ts (a guard
// and a scrubber per response, each piped). The agent gets the bytes the streaming relay sends when the body
// arrives as one chunk: the same refusal of UTF-16 or UTF-32 text, the same scrubber fed that one chunk
// (ChunkScrubber), the upstream's own headers (forms are overwritten byte for byte, so its length stays true).
// A body the upstream cuts short is answered 502 (nothing was sent yet, none of the partial body goes out),
// saying the upstream already handled the request. A body not whole within WHOLE_WAIT_MS is streamed instead
// (relay-scrubbed.ts): an upstream that drips its body gets no idle limit here either, as a body regate does
// not mask streams for as long as the upstream sends it, but the agent gets the head and the bytes as they
// come, as it would had the body been chunked, rather than nothing until the last byte.

import type { OutgoingHttpHeaders } from "node:http";
import type { Logger } from "pino";
import { isPartialContent, isWideText, mediaType } from "./body.js";
import { textual, WIDE_TEXT } from "./charset.js";
import type { RequestContext } from "./context.js";
import { relayScrubbed } from "./relay-scrubbed.js";
import { refuseCutShort, refuseUnreadable, relayFailed } from "./response-refusals.js";
import type { ReadUpstreamResult } from "./response-body.js";
import { ChunkScrubber } from "./scrub.js";
import type { UpstreamResponse } from "./upstream-message.js";

/** Bodies of declared length up to this are read whole; larger ones, and any of unknown length, stream. */
const WHOLE_BYTES = 64 * 1024;

/**
 * How long a body may take to arrive whole before it is streamed instead. Small answers come with their head
 * or just after it; one that takes longer is a slow upstream, whose agent should see the head and the bytes so
 * far rather than wait for the last one.
 */
export const WHOLE_WAIT_MS = 200;

/**
 * Relays the response if it is one to read whole (false: the caller streams it, nothing was done). A throw
 * where undici calls back (the body complete, or the wait over) goes to `onError` with the exchange stopped.
 */
export function relayScrubbedWhole(
  ctx: RequestContext,
  upstream: UpstreamResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  secrets: readonly Buffer[],
  log: Logger,
  onError: (err: unknown) => void,
): boolean {
  const h = upstream.headers;
  const declared = Number(h["content-length"] ?? Number.NaN);
  // What decoderFor reads as no encoding. Compressed, partial or event streams have their own handling there.
  const encoding = (h["content-encoding"] ?? "").trim().toLowerCase();
  if (!(declared <= WHOLE_BYTES) || (encoding !== "" && encoding !== "identity")) return false;
  if (isPartialContent(status, h) || mediaType(h["content-type"]) === "text/event-stream") return false;
  return upstream.readWhole(
    WHOLE_BYTES,
    undefined,
    (read) => {
      try {
        send(ctx, upstream, read, status, headers, secrets, log);
      } catch (err) {
        relayFailed(upstream, onError, err);
      }
    },
    {
      afterMs: WHOLE_WAIT_MS,
      stream: () => {
        try {
          relayScrubbed(ctx, upstream, status, headers, secrets, log);
        } catch (err) {
          relayFailed(upstream, onError, err);
        }
      },
    },
  );
}

function send(ctx: RequestContext, upstream: UpstreamResponse, read: ReadUpstreamResult, status: number, headers: OutgoingHttpHeaders, secrets: readonly Buffer[], log: Logger): void {
  if (!read.ok) {
    // Cut short (with no idle limit and a declared length under the cap, the one way it fails), or the agent
    // went away (then there is no one to answer).
    refuseCutShort(ctx, upstream, log);
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
