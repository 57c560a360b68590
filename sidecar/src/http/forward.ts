// Forwarding a decided request to its route's upstream: regate's headers and credential, the body in one
// write on the route's keep-alive pool (undici, decision 0002), a timeout, and upstream failures answered
// with the error catalog.

import type { OutgoingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";
import type { Logger } from "../log.js";
import type { RequestContext } from "./context.js";
import { hasBody } from "./body.js";
import { forwardHeaders } from "./headers.js";
import { forwardPath } from "./path.js";
import { catalogError, type ErrorBody } from "./reply.js";
import type { CompiledRoute } from "./routes.js";
import { rawHeaderStrings, UpstreamResponse } from "./upstream-message.js";

/** Where the request goes: the matched route, the agent's Host, and the canonical path and query after the route's prefix. */
export interface ForwardTarget {
  route: CompiledRoute;
  host: string;
  rest: string;
  query: string;
  trailingSlash: boolean;
  /** The request may be sent again if a reused upstream connection closes before answering (method.ts replayable). */
  replayable?: boolean;
}

/** Tries of a replayable request whose reused upstream connections keep closing before an answer. */
const MAX_TRIES = 3;

export interface ForwardDeps {
  log: Logger;
  /** http.limits.timeout_ms: how long the upstream may take to start its answer. */
  timeoutMs: number;
  fail(ctx: RequestContext, status: number, body: ErrorBody): void;
  /** The upstream's response headers arrived. */
  onResponse(ctx: RequestContext, proxyRes: UpstreamResponse): void;
}

/** How a connection that failed before an answer failed: the upstream closed or reset it. */
const CLOSED = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

/** Statuses that never have a body (RFC 9110 15.3.5, 15.4.5); HEAD's answers too, which undici closes itself. */
const noBody = (status: number): boolean => status === 204 || status === 304;

export function forwardRequest(ctx: RequestContext, target: ForwardTarget, body: Buffer, deps: ForwardDeps): void {
  const { route, host, rest, query, trailingSlash } = target;
  const { log, fail } = deps;
  const { req, res } = ctx;
  const hadBody = hasBody(req);
  const headers = forwardHeaders(req.headers, route, { address: req.socket.remoteAddress ?? "", host }, ctx.masker !== undefined ? "mask" : route.secretForms.length > 0 ? "scrub" : "none");
  // The body was read whole: send it with its exact length (no chunking, no Expect: 100-continue).
  if (hadBody || body.length > 0) headers["content-length"] = String(body.length);
  headers.host = route.hostHeader;
  const path = forwardPath(route.basePath, rest, query, trailingSlash);
  ctx.timer = setTimeout(() => {
    ctx.timedOut = true;
    ctx.proxyReq?.destroy();
    log.warn({ req_id: ctx.id, route: route.name, timeout_ms: deps.timeoutMs }, "upstream timed out");
    const e = catalogError("UPSTREAM_TIMEOUT", "upstream_timeout");
    fail(ctx, e.status, e.body);
  }, deps.timeoutMs);
  // Kept apart per agent and rule set (upstream-pools.ts): bytes one answer leaves on a connection reach no one else.
  const pool = route.agent.for(ctx.principal?.subject ?? "", ctx.masker);
  const over = (): boolean => ctx.timedOut || res.headersSent || res.destroyed;

  const send = (tries: number): void => {
    const ticket = pool.ticket();
    let abort: ((err?: Error) => void) | undefined;
    let stopped = false;
    let upstream: UpstreamResponse | undefined;
    let resume: () => void = () => {};
    const stop = (): void => {
      stopped = true;
      abort?.();
    };
    ctx.proxyReq = { path, destroy: stop, notify: notifier(pool.dispatcher, path, headers) };
    const exchange = { resume: () => resume(), abort: stop };
    pool.dispatcher.dispatch(
      { method: req.method ?? "GET", path, headers: headers as Record<string, string | string[]>, body: body.length > 0 ? body : null },
      {
        onConnect(a) {
          abort = a;
          // Stopped while it waited for a connection: it never goes out.
          if (stopped) a();
        },
        onHeaders(status, raw, go, text) {
          // undici hands over interim responses (103 Early Hints) like final ones; node:http kept them aside,
          // and so does regate: the agent gets one response, the final one.
          if (status < 200) return true;
          resume = go;
          upstream = new UpstreamResponse(status, text, rawHeaderStrings(raw), exchange);
          if (noBody(status)) {
            // Anything the upstream writes after it (a body it should not have sent, late) would be read as the
            // next request's answer on this connection: the connection is closed, the response is already whole.
            upstream.finish();
            stop();
          }
          deps.onResponse(ctx, upstream);
          return true;
        },
        onData(chunk) {
          return upstream!.chunk(chunk);
        },
        onComplete() {
          // Trailers are not relayed (node:http kept them aside too): nothing an agent reads comes from them.
          upstream!.finish();
        },
        onError(err: Error & { code?: string }) {
          if (upstream) {
            upstream.fail();
            return;
          }
          if (stopped || over()) {
            clearTimeout(ctx.timer);
            return;
          }
          if (err.code === "UND_ERR_INVALID_ARG") {
            // A path or header value undici will not send (characters the server's parser let through): the agent's fault.
            clearTimeout(ctx.timer);
            log.debug({ req_id: ctx.id, err: { code: err.code, message: err.message } }, "request not forwardable");
            const e = catalogError("PROTOCOL_VIOLATION", "bad_request", "the request cannot be forwarded as sent");
            fail(ctx, e.status, e.body);
            return;
          }
          // A kept-alive connection the upstream closed as idle while the request was on its way: no answer came.
          const closedIdle = CLOSED.has(err.code ?? "") && pool.wasReused(err, ticket);
          if (closedIdle && target.replayable && tries < MAX_TRIES) {
            log.debug({ req_id: ctx.id, route: route.name, err: { code: err.code } }, "reused upstream connection closed before answering; sent again");
            send(tries + 1);
            return;
          }
          clearTimeout(ctx.timer);
          // The message names host:port at most; never the credential, and the origin has no userinfo.
          log.warn({ req_id: ctx.id, route: route.name, err: { code: err.code, message: err.message } }, "upstream request failed");
          const e = closedIdle
            ? catalogError("UPSTREAM_UNAVAILABLE", "upstream_unavailable", "the upstream closed its connection before answering; it may have received the request, so regate did not send it again")
            : catalogError("UPSTREAM_UNAVAILABLE", "upstream_unavailable");
          fail(ctx, e.status, e.body);
        },
      },
    );
  };
  if (res.destroyed) {
    // The agent went away while the request was decided: nothing goes upstream.
    clearTimeout(ctx.timer);
    return;
  }
  send(1);
}

/** How long regate's own follow-up to an upstream (notify) may take: it holds a pooled connection meanwhile. */
const NOTIFY_TIMEOUT_MS = 10_000;

/**
 * POSTs of regate's own after an exchange (UpstreamRequest.notify): best effort, each answer read and dropped.
 * Made here, apart from the exchange's closures, so that one kept for later (exchange-cut.ts) holds only its
 * headers, not the request and its body.
 */
function notifier(dispatcher: Dispatcher, path: string, forwarded: OutgoingHttpHeaders): (body: string) => void {
  return (body) => notifyUpstream(dispatcher, path, forwarded, body);
}

/** Rare (an operator's cut): the forwarded headers are copied only then, not for every request. */
function notifyUpstream(dispatcher: Dispatcher, path: string, forwarded: OutgoingHttpHeaders, body: string): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(forwarded)) if (v !== undefined && typeof v !== "number" && k !== "content-length" && k !== "content-encoding" && k !== "expect") headers[k] = v;
  Object.assign(headers, { "content-type": "application/json", accept: "application/json, text/event-stream", "content-length": String(Buffer.byteLength(body)) });
  try {
    dispatcher.dispatch(
      { method: "POST", path, headers, body, headersTimeout: NOTIFY_TIMEOUT_MS, bodyTimeout: NOTIFY_TIMEOUT_MS },
      { onConnect: () => undefined, onHeaders: () => true, onData: () => true, onComplete: () => undefined, onError: () => undefined },
    );
  } catch {
    // A pool already closed (shutdown): there is no upstream left to tell.
  }
}
