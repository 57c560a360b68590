// An MCP session's event stream, relayed with the session's rules as they are when each event arrives
// (mcp-live-rules.ts says why): it goes through the event masker even while the session has no rule yet.

import type { OutgoingHttpHeaders } from "node:http";
import { pipeline } from "node:stream";
import type { Logger } from "pino";
import type { RequestContext } from "./context.js";
import type { ResponseMasker } from "./masker.js";
import { decoderFor } from "./response-body.js";
import { refuseUnmaskable, streamDone } from "./response-refusals.js";
import { SecretScrubber } from "./scrub.js";
import { SseMasker } from "./sse-mask.js";
import type { JoinDetect } from "./stream-joins.js";
import type { UpstreamResponse } from "./upstream-message.js";

/** The masker for the session's rules now; undefined while it has none. */
export type LiveMasker = () => ResponseMasker | undefined;

/** Relays `upstream` (a text/event-stream) masking each event with `live()`'s masker; `headers` are ready to send. */
export function relayLiveEvents(ctx: RequestContext, upstream: UpstreamResponse, status: number, headers: OutgoingHttpHeaders, secrets: readonly Buffer[], live: LiveMasker, maxEventBytes: number, log: Logger, joins?: JoinDetect): void {
  const decoder = decoderFor(upstream.headers["content-encoding"]);
  if (decoder === undefined) {
    refuseUnmaskable(ctx, upstream, "response content-encoding cannot be decoded for masking", log);
    return;
  }
  ctx.res.writeHead(status, headers);
  const stages: NodeJS.ReadWriteStream[] = [];
  if (decoder) stages.push(decoder);
  const mask = (data: string): string => {
    const masker = live();
    if (masker === undefined) return data;
    // Logged as masked once any rule applied to it (request-done.ts reads it when the stream ends).
    ctx.masked = true;
    return masker.maskEventData(data);
  };
  stages.push(new SseMasker(mask, maxEventBytes, joins));
  if (secrets.length > 0) stages.push(new SecretScrubber(secrets, false, { sse: true }));
  pipeline([upstream, ...stages, ctx.res], streamDone(ctx, log));
}
