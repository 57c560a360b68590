// Forwarding a decided request to its route's upstream: regate's headers and credential, the body in one
// write on the route's keep-alive pool, a timeout, and upstream failures answered with the error catalog.

import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Logger } from "../log.js";
import type { RequestContext } from "./context.js";
import { hasBody } from "./body.js";
import { forwardHeaders } from "./headers.js";
import { forwardPath } from "./path.js";
import { catalogError, type ErrorBody } from "./reply.js";
import type { CompiledRoute } from "./routes.js";

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
  onResponse(ctx: RequestContext, proxyRes: IncomingMessage): void;
}

export function forwardRequest(ctx: RequestContext, target: ForwardTarget, body: Buffer, deps: ForwardDeps): void {
  const { route, host, rest, query, trailingSlash } = target;
  const { log, fail } = deps;
  const { req, res } = ctx;
  const hadBody = hasBody(req);
  const headers = forwardHeaders(req.headers, route, { address: req.socket.remoteAddress ?? "", host }, ctx.masker !== undefined ? "mask" : route.secretForms.length > 0 ? "scrub" : "none");
  // The body was read whole: send it with its exact length (no chunking, no Expect: 100-continue).
  if (hadBody || body.length > 0) headers["content-length"] = String(body.length);
  headers.host = route.hostHeader;
  ctx.timer = setTimeout(() => {
    ctx.timedOut = true;
    ctx.proxyReq?.destroy();
    log.warn({ req_id: ctx.id, route: route.name, timeout_ms: deps.timeoutMs }, "upstream timed out");
    const e = catalogError("UPSTREAM_TIMEOUT", "upstream_timeout");
    fail(ctx, e.status, e.body);
  }, deps.timeoutMs);
  // One request on the route's keep-alive pool; the body was read whole and goes in one write.
  const send = (tries: number): void => {
    let proxyReq: ClientRequest;
    try {
      proxyReq = (route.https ? httpsRequest : httpRequest)({
        agent: route.agent,
        hostname: route.hostname,
        port: route.port,
        method: req.method,
        path: forwardPath(route.basePath, rest, query, trailingSlash),
        headers,
      });
    } catch (err) {
      // A path node:http will not send (it checks characters the parser let through): the agent's fault.
      clearTimeout(ctx.timer);
      log.debug({ req_id: ctx.id, err: { code: (err as NodeJS.ErrnoException).code } }, "request not forwardable");
      const e = catalogError("PROTOCOL_VIOLATION", "bad_request", "the request cannot be forwarded as sent");
      fail(ctx, e.status, e.body);
      return;
    }
    ctx.proxyReq = proxyReq;
    proxyReq.on("response", (proxyRes) => deps.onResponse(ctx, proxyRes));
    proxyReq.on("error", (err: NodeJS.ErrnoException) => {
      if (ctx.timedOut || res.headersSent || res.destroyed) {
        clearTimeout(ctx.timer);
        return;
      }
      // A kept-alive connection the upstream closed as idle while the request was on its way: no answer came.
      const closedIdle = proxyReq.reusedSocket && (err.code === "ECONNRESET" || err.code === "EPIPE");
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
    });
    if (res.destroyed) proxyReq.destroy();
    proxyReq.end(body.length > 0 ? body : undefined);
  };
  send(1);
}
