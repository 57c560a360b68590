// The answers regate gives instead of an upstream response it cannot vouch for. The upstream has acted by
// then: each says so, and tells the agent not to retry a write.

import type { UpstreamResponse } from "./upstream-message.js";
import type { Logger } from "pino";
import { isDisconnect } from "../errors.js";
import type { RequestContext } from "./context.js";
import { catalogError, sendError } from "./reply.js";

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** Refuses a response regate was asked to mask but cannot: the agent gets an error, never the raw body. */
export function refuseUnmaskable(ctx: RequestContext, upstream: UpstreamResponse, reason: string, log: Logger): void {
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
export function refuseUnreadable(ctx: RequestContext, upstream: UpstreamResponse, what: string, log: Logger): void {
  upstream.destroy();
  log.warn({ req_id: ctx.id, route: ctx.route?.name, reason: what }, "response could not be checked for the route credential; refused");
  const e = catalogError("UPSTREAM_RESPONSE_REFUSED", "upstream_response_refused", `the upstream handled the request, but its response (${what}) could not be checked for regate's credential${SAFE_METHODS.has(ctx.method) ? "" : "; do not retry it"}`);
  ctx.errorCode = "UPSTREAM_RESPONSE_REFUSED";
  sendError(ctx.res, e.status, e.body);
}

/**
 * Answers a response whose body the upstream cut short before any of it went to the agent: 502, saying the
 * upstream already handled the request (it had answered), so that an agent does not take the failure for
 * "nothing happened" and retry a write. Nothing of the partial body goes out. Once the agent has gone (the
 * read ended because its response was closed), there is no one to answer.
 */
export function refuseCutShort(ctx: RequestContext, upstream: UpstreamResponse, log: Logger): void {
  upstream.destroy();
  // Already answered (a lock's refusal, exchange-cut.ts, aborts the upstream after it): nothing to add.
  if (ctx.res.writableEnded) return;
  if (ctx.res.destroyed) {
    log.debug({ req_id: ctx.id, err: { code: "ECONNRESET" } }, "response stream closed early");
    return;
  }
  log.warn({ req_id: ctx.id, route: ctx.route?.name }, "upstream closed the connection mid-response");
  const e = catalogError("UPSTREAM_UNAVAILABLE", "upstream_unavailable", `upstream closed the connection mid-response; the upstream already handled the request${SAFE_METHODS.has(ctx.method) ? "" : ", do not retry it"}`);
  ctx.errorCode = "UPSTREAM_UNAVAILABLE";
  sendError(ctx.res, e.status, e.body);
}

/**
 * A failure of regate's own while it relayed a response (a throw where undici calls back, which nothing
 * above would catch): the upstream exchange is stopped, and the agent answered by `onError` (500, or its
 * response cut short if its head already went out), never left waiting.
 */
export function relayFailed(upstream: UpstreamResponse, onError: (err: unknown) => void, err: unknown): void {
  try {
    upstream.destroy();
  } finally {
    onError(err);
  }
}

export function streamDone(ctx: RequestContext, log: Logger) {
  return (err: NodeJS.ErrnoException | null | undefined): void => {
    if (!err) return;
    // The client hanging up mid-stream is normal; anything else cut the response short.
    if (isDisconnect(err) || err.code === "ERR_STREAM_PREMATURE_CLOSE") log.debug({ req_id: ctx.id, err: { code: err.code } }, "response stream closed early");
    else log.warn({ req_id: ctx.id, route: ctx.route?.name, err: { code: err.code, message: err.message } }, "response stream failed");
  };
}
