// The HTTP data path: authenticate the agent, decide, forward with regate's credential, mask the response.

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isDisconnect, RegateError } from "../errors.js";
import { roomInSinks } from "../decision/index.js";
import type { RequestContext } from "./context.js";
import { decideAll, refusal } from "./enforce.js";
import { capConnections, type ConnectionCap } from "./connection-cap.js";
import { LiveExchanges, type EndedExchanges, type ExchangeCut, type ExchangeSelect } from "./exchange-cut.js";
import { forwardRequest } from "./forward.js";
import { answerUnparsed, framingRefusal } from "./framing.js";
import { agentCredential, collidingHeaders, dropNominated } from "./headers.js";
import { settleApproval } from "./hold.js";
import { checkedLimits } from "./limits.js";
import { Maskers } from "./maskers.js";
import { logPathMasker } from "./log-path.js";
import { mcpUnreadable } from "./mcp-readings.js";
import { McpSessions, type McpSessionStore } from "./mcp-sessions.js";
import type { HttpGatewayOptions } from "./options.js";
import { judgedInputs, unframeableOverride } from "./judged-method.js";
import { headerKey, replayable } from "./method.js";
import { parseRequestTarget } from "./path.js";
import { PipelineOrder } from "./pipeline.js";
import { readRequest } from "./read-request.js";
import { catalogError } from "./reply.js";
import { clusterUnavailable, fail, refuse } from "./refuse.js";
import { compileRoutes, hostName, matchRoute } from "./routes.js";
import { requestEnd, routeSecrets } from "./request-done.js";
import { HttpDecisionReuse } from "./reuse.js";
import { ShortMemo } from "./short-memo.js";
import { unmaskableRequest } from "./unmaskable-request.js";
import { relayResponse } from "./upstream-response.js";
import type { UpstreamResponse } from "./upstream-message.js";

export interface HttpGateway {
  /** Not listening yet: the caller picks the address (loopback by default). */
  server: Server;
  /**
   * Ends now the exchanges in flight of agents `select` picks (a lock): responses not started are refused,
   * streams are cut, upstream exchanges aborted, the agents' idle connections closed (exchange-cut.ts).
   */
  endExchanges(select: ExchangeSelect, why: ExchangeCut): EndedExchanges;
  /** Stops accepting, lets in-flight requests finish (up to limits.timeout_ms), then closes everything. */
  close(): Promise<void>;
}

/** How long a client may take to send a request's headers. */
export const HEADERS_TIMEOUT_MS = 10_000;

export function createHttpGateway(opts: HttpGatewayOptions): HttpGateway {
  const log = opts.logger;
  const routes = compileRoutes(opts.routes);
  const limits = checkedLimits(opts.limits);
  let closing = false;
  const methodOverride = opts.request?.method_override ?? "decide";
  const ambiguousPaths = opts.request?.ambiguous_paths ?? "refuse";

  // Read again where they may change (agent token files) by the request lines' scrubber.
  const held = opts.log_secrets ?? [];
  const secretsNow = () => [...(typeof held === "function" ? held() : held), ...opts.routes.flatMap(routeSecrets)];
  const secrets = secretsNow();
  const ended = requestEnd(log, opts.onRequestDone, typeof held === "function" ? secretsNow : secrets);
  // The same paths come again and again: each is parsed, and masked for the log, once (both are pure).
  const targets = new ShortMemo((url) => parseRequestTarget(url, ambiguousPaths));
  const logPaths = new ShortMemo(logPathMasker(secrets));
  // Decisions the policy declared reusable (its `cache` directive), for identical requests.
  const reuse = new HttpDecisionReuse();
  // MCP session ids upstreams issued, so that their DELETE can be told from an ordinary one.
  const mcpSessions: McpSessionStore = opts.mcp_sessions ?? new McpSessions();
  // The masker for a decision's rules is built once per set of rules, not per request (maskers.ts).
  const maskers = new Maskers(opts.mask_hash_key, opts.mask_case_sensitive === true ? "exact" : (opts.mask_field_names ?? "spelling"));
  // Pipelined requests wait for the answer before theirs (pipeline.ts).
  const pipeline = new PipelineOrder();
  // Authenticated exchanges in flight and the agents' connections: what a lock ends at once.
  const live = new LiveExchanges();

  /** The upstream's response headers arrived: relay them (masked, scrubbed) unless the exchange is over. */
  function onUpstreamResponse(ctx: RequestContext, proxyRes: UpstreamResponse): void {
    clearTimeout(ctx.timer);
    if (ctx.timedOut || ctx.cutBy !== undefined || ctx.res.headersSent || ctx.res.destroyed) {
      proxyRes.destroy();
      return;
    }
    ctx.proxyRes = proxyRes;
    // With workers, a session issued here reaches every worker before its answer does (cluster/mcp-sessions.ts).
    const shared = ctx.mcpSession && mcpSessions.answered(ctx.mcpSession, proxyRes.statusCode, proxyRes.headers);
    if (shared) {
      const role = ctx.mcpSession!;
      shared.then(
        () => (ctx.res.destroyed || ctx.cutBy !== undefined ? proxyRes.destroy() : relay(ctx, proxyRes)),
        (err: unknown) => {
          proxyRes.destroy();
          log.warn({ req_id: ctx.id, err }, "an MCP session the upstream issued could not be shared with every worker; its answer is refused");
          clusterUnavailable(ctx, role.request, undefined, ctx.decision?.decision_id);
        },
      );
      return;
    }
    relay(ctx, proxyRes);
  }

  function relay(ctx: RequestContext, proxyRes: UpstreamResponse): void {
    const onError = (err: unknown): void => internalError(ctx, err);
    try {
      relayResponse(ctx, proxyRes, limits, log, onError);
    } catch (err) {
      onError(err);
    }
  }

  function internalError(ctx: RequestContext, err: unknown): void {
    // What fails once a lock has ended the exchange (the aborted upstream) is the lock's doing.
    if (ctx.cutBy !== undefined) return;
    log.error({ req_id: ctx.id, err: { message: (err as Error)?.message, code: (err as RegateError)?.code } }, "internal error");
    const e = catalogError("INTERNAL", "internal_error");
    fail(ctx, e.status, e.body);
  }

  function start(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    const turn = pipeline.enter(req, res);
    const ctx: RequestContext = {
      expectsContinue,
      id: randomUUID(),
      startedAt: performance.now(),
      sentBefore: req.socket.bytesWritten,
      req,
      res,
      method: (req.method ?? "GET").toUpperCase(),
      logPath: "",
      masked: false,
      timedOut: false,
    };
    res.on("close", () => {
      ctx.closed = true;
      live.delete(ctx);
      ended.done(ctx);
    });
    res.on("error", (err) => {
      if (isDisconnect(err)) log.debug({ req_id: ctx.id }, "client went away");
      else log.warn({ req_id: ctx.id, err: { code: (err as NodeJS.ErrnoException).code } }, "response error");
    });
    if (turn === undefined) handle(ctx).catch((err: unknown) => internalError(ctx, err));
    else
      void turn.then((open) => {
        if (open) return void handle(ctx).catch((err: unknown) => internalError(ctx, err));
        log.debug({ req_id: ctx.id }, "pipelined request dropped: the answer before it closed the connection");
        res.destroy();
      });
  }

  async function handle(ctx: RequestContext): Promise<void> {
    const { req } = ctx;
    if (closing) {
      const e = catalogError("SHUTTING_DOWN", "shutting_down");
      return fail(ctx, e.status, e.body, { close: true });
    }
    if (cap.refused(req.socket)) {
      // Accepted over http.limits.max_connections: answered and closed, never authenticated or forwarded.
      const e = catalogError("CONNECTION_LIMIT", "too_many_connections", `regate has ${limits.max_connections} HTTP connections open, its limit; retry in a second, or reuse an open connection`);
      return fail(ctx, e.status, e.body, { close: true, headers: { "retry-after": "1" } });
    }
    const parsed = targets.get(req.url ?? "");
    if (!parsed.ok) {
      const e = catalogError("PROTOCOL_VIOLATION", "bad_request", `the request path is ambiguous or malformed: ${parsed.reason}`);
      return fail(ctx, e.status, e.body, { close: true });
    }
    const target = parsed.target;
    const framing = framingRefusal(req);
    if (framing) {
      const e = catalogError(framing.code, framing.error, framing.reason);
      return fail(ctx, e.status, e.body, { close: true });
    }
    // The policy judges the headers the upstream will receive: not those the agent named in Connection.
    dropNominated(req.headers);
    // An absolute-form target's authority replaces Host (RFC 9112 3.2.2): it names the route and goes upstream
    // as X-Forwarded-Host, so the policy must not read another host in its headers.
    if (target.authority !== undefined) req.headers.host = target.authority;
    const colliding = collidingHeaders(req.headers);
    if (colliding) {
      const e = catalogError("PROTOCOL_VIOLATION", "bad_request", `headers "${colliding[0]}" and "${colliding[1]}" are one header to upstreams that read "_" or "." as "-"; send one of them`);
      return fail(ctx, e.status, e.body, { close: !req.complete });
    }
    // Paths may embed identifiers (/customers/alice@example.com) and secrets, in any spelling: logged masked.
    ctx.logPath = logPaths.get(target.path);

    const credential = agentCredential(req.headers);
    // Failed logins are counted by client address (a bearer names nobody): identity/login-throttle.ts.
    const throttle = opts.agents.throttle;
    const throttled = throttle?.refused("address", req.socket.remoteAddress ?? "");
    if (throttled) {
      ctx.authFailure = "throttled";
      const e = catalogError("AUTH_THROTTLED", "too_many_failed_logins", throttled.reason);
      return fail(ctx, e.status, e.body, { close: !req.complete, headers: { "retry-after": String(throttled.retryAfterSeconds) } });
    }
    // A static token (the common case) is looked up synchronously: no promise and no turn of the microtask
    // queue per request. Anything else (a JWT, an unknown token) goes through authenticate, as before.
    const known = credential === undefined ? undefined : opts.agents.staticToken(credential);
    const auth = known ? { principal: known } : credential === undefined ? { failure: "missing" as const } : await opts.agents.authenticate(credential);
    if (!auth.principal) {
      ctx.authFailure = auth.failure;
      // Answered once counted: with workers, the next attempt meets the count on whichever worker it lands.
      if (auth.failure !== "missing" && auth.failure !== "jwks_unavailable") await throttle?.failed("address", req.socket.remoteAddress ?? "");
      const e = catalogError("AUTH_FAILED", "unauthorized", "missing or unknown agent credential");
      return fail(ctx, e.status, e.body, { close: !req.complete, headers: { "www-authenticate": 'Bearer realm="regate"' } });
    }
    ctx.principal = auth.principal;
    live.add(ctx, auth.principal);

    const host = (target.authority ?? req.headers.host ?? "").toLowerCase();
    const matched = matchRoute(routes, hostName(host), target.path);
    if (!matched) {
      // No catalog code fits "no route" yet; the slug says it.
      return fail(ctx, 404, { error: "no_route", reason: "no route matches this request" }, { close: !req.complete });
    }
    ctx.route = matched.route;

    const request = await readRequest(ctx, target, matched, host, auth.principal, { limits, methodOverride, mcpSessions });
    if (!request) return;
    const { raw, body, sent, method, query, mcpRequest, facts } = request;
    // An MCP call a server may run under another method, tool or resource than the policy would be shown.
    const unreadableMcp = mcpUnreadable(body.parsed_body);
    if (unreadableMcp) {
      const e = catalogError("PROTOCOL_VIOLATION", "bad_request", unreadableMcp);
      return refuse(ctx, e.status, e.body, body.parsed_body, raw);
    }
    const inputs = judgedInputs(facts);
    // A full decision sink (block mode, a stdout nobody reads): wait a bounded time for room, as Postgres does.
    if (opts.decider.congested?.()) await roomInSinks(opts.decider);
    if (ctx.cutBy !== undefined) return;
    let verdict = decideAll(opts.decider, inputs, ctx.id, reuse);
    ctx.decision = verdict.decision;
    // Judged first, so that a denial stays the policy's; a request it let through (or holds for a reviewer)
    // whose answer regate could not read goes no further.
    const unframeable = verdict.allowed || verdict.decision.outcome === "approve" ? unframeableOverride(ctx.method, method) : undefined;
    if (unframeable) {
      const e = catalogError("PROTOCOL_VIOLATION", "bad_request", unframeable);
      return fail(ctx, e.status, { ...e.body, decision_id: verdict.decision.decision_id });
    }
    // Let through by a reviewer (or a grant): sent once, never again on a dropped connection (forward.ts), as the
    // upstream may have run it before the connection dropped and one approval is one execution.
    let approved = false;
    if (opts.approvals && !verdict.allowed && verdict.decision.outcome === "approve") {
      // Held or deferred for a reviewer (hold.ts); undefined: the agent has been answered.
      ctx.held = true;
      const settled = await settleApproval(opts.approvals, ctx, inputs, verdict, raw, sent, body.parsed_body).finally(() => {
        ctx.held = false;
      });
      if (!settled || ctx.cutBy !== undefined) return;
      verdict = settled;
      approved = true;
    }
    if (!verdict.allowed) {
      const r = refusal(verdict.decision);
      return refuse(ctx, r.status, r.body, body.parsed_body, raw);
    }
    // An MCP server may put any answer of a session on any of its exchanges (mcp-sessions.ts).
    const booking = mcpSessions.admit(mcpRequest, verdict.mask);
    // A promise only with workers, when the exchange changes its session: every worker knows first.
    const admitted = booking instanceof Promise ? await booking : booking;
    if (ctx.cutBy !== undefined) return;
    if (!admitted.ok && admitted.unavailable) return clusterUnavailable(ctx, body.parsed_body, raw, verdict.decision.decision_id);
    if (!admitted.ok) {
      const e = catalogError("PROTOCOL_VIOLATION", "bad_request", admitted.reason);
      return refuse(ctx, e.status, { ...e.body, decision_id: verdict.decision.decision_id }, body.parsed_body, raw);
    }
    const masker = maskers.for(admitted.mask);
    // Known now, before the upstream acts: its answer could not be masked, so the request does not go.
    const unmaskable = masker && unmaskableRequest(masker, ctx.method, req.headers, matched.route.responseTypes);
    if (unmaskable) return fail(ctx, unmaskable.status, { ...unmaskable.body, decision_id: verdict.decision.decision_id });
    ctx.masker = masker;
    const sessionRules = admitted.live;
    if (sessionRules) ctx.liveMasker = () => maskers.for(sessionRules());
    if (admitted.joins) ctx.liveJoins = true;
    if (sent.inflated) for (const name of Object.keys(req.headers)) if (headerKey(name) === "content-encoding") delete req.headers[name];
    forwardRequest(ctx, { route: matched.route, host, rest: matched.rest, query, trailingSlash: target.trailing_slash, replayable: !approved && replayable(ctx.method, method) }, sent.body, { log, timeoutMs: limits.timeout_ms, fail, onResponse: onUpstreamResponse });
  }

  // Slow clients (slowloris) get 10 s to send their headers, checked every second (Node's defaults: 60 s,
  // checked every 30 s), so a trickle of bytes cannot hold a connection for minutes.
  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 }, (req, res) => start(req, res));
  // Node answers "Expect: 100-continue" itself unless this is handled: the client would upload a body that
  // a missing credential, an unknown route or the size cap then refuses.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => start(req, res, true));
  const cap: ConnectionCap = capConnections(server, limits.max_connections, () => {
    log.debug({ max_connections: limits.max_connections }, "connection over the cap refused");
    opts.onConnectionRefused?.();
  });

  // CONNECT and requests Node's parser refuses never reach the handler: answered there, not dropped.
  answerUnparsed(server, log);

  async function close(): Promise<void> {
    closing = true;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), limits.timeout_ms);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
    for (const r of routes) r.agent.destroy();
    ended.close();
  }

  return { server, close, endExchanges: (select, why) => live.end(select, why) };
}
