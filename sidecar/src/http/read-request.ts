import type { Socket } from "node:net";
import type { Principal } from "../decision/types.js";
import { hasBody, readBody, upstreamBody } from "./body.js";
import { parseRequestBody, type BodyFacts } from "./request-body-facts.js";
import type { RequestContext } from "./context.js";
import { BODY_MAY_OVERRIDE, judgedMethod } from "./judged-method.js";
import type { McpRequest, McpSessionStore } from "./mcp-sessions.js";
import type { EffectiveMethod } from "./method.js";
import type { HttpLimits } from "./options.js";
import type { RequestTarget } from "./path.js";
import { catalogError } from "./reply.js";
import { fail } from "./refuse.js";
import type { CompiledRoute } from "./routes.js";
import type { RequestFacts } from "./to-input.js";

/** A request read whole and understood as the upstream will execute it: what the policy is asked about. */
export interface ReadRequest {
  /** The body as the agent sent it. */
  raw: Buffer;
  body: BodyFacts;
  /** The body that goes upstream (inflated when the agent compressed it). */
  sent: { body: Buffer; inflated: boolean };
  method: EffectiveMethod;
  /** The query as forwarded (a stripped override is gone from it). */
  query: string;
  mcpRequest: McpRequest;
  facts: RequestFacts;
}

export interface ReadRequestOptions {
  limits: Readonly<Required<HttpLimits>>;
  methodOverride: "decide" | "strip";
  mcpSessions: McpSessionStore;
}

/**
 * Reads an authenticated, routed request's body and works out what the upstream will execute (the method
 * an override makes it, the body it will read). Undefined when the agent has been answered instead (a
 * body too large, unreadable, an override regate cannot judge) or a lock ended the exchange.
 */
export async function readRequest(ctx: RequestContext, target: RequestTarget, matched: { route: CompiledRoute; rest: string }, host: string, principal: Principal, o: ReadRequestOptions): Promise<ReadRequest | undefined> {
  const { req, res } = ctx;
  const { limits } = o;
  // The client waits for "100 Continue" before it sends the body: only now, with the agent authenticated,
  // the route found and the declared size within the cap (readBody refuses a larger one unread).
  if (ctx.expectsContinue && !(Number(req.headers["content-length"] ?? 0) > limits.max_body_bytes)) res.writeContinue();
  // A request without Content-Length or Transfer-Encoding has no body (RFC 9112 6.3): nothing to wait for.
  const read = hasBody(req) ? await readBody(req, limits.max_body_bytes) : NO_BODY;
  if (ctx.cutBy !== undefined) return;
  if (!read.ok) {
    if (read.reason === "aborted") {
      res.destroy();
      return;
    }
    const e = catalogError("INPUT_TOO_LARGE", "request_too_large");
    fail(ctx, e.status, e.body, { close: true });
    return;
  }

  const body = parseRequestBody(read.body, req.headers["content-type"], req.headers["content-encoding"], limits.max_input_body_bytes);
  ctx.addressed = { parsed: body.parsed_body, raw: read.body };
  // The body the policy judges is the one sent: a compressed one goes up inflated (body.ts upstreamBody).
  const sent = upstreamBody(read.body, req.headers["content-encoding"], limits.max_body_bytes);
  if (!sent.ok) {
    const e = sent.reason === "too_large" ? catalogError("INPUT_TOO_LARGE", "request_too_large") : catalogError("PROTOCOL_VIOLATION", "bad_request", BODY_MAY_OVERRIDE);
    fail(ctx, e.status, e.body);
    return;
  }
  const judged = judgedMethod(ctx.method, req.headers, target.query, body, sent.body, o.methodOverride);
  if (!judged.ok) {
    const e = catalogError("PROTOCOL_VIOLATION", "bad_request", judged.reason);
    fail(ctx, e.status, e.body);
    return;
  }
  const { method, query } = judged;
  const mcpRequest: McpRequest = {
    subject: principal.subject,
    route: matched.route.name,
    path: matched.rest,
    requestMethod: ctx.method,
    method: method.method,
    bodyBytes: read.body.length,
    headers: req.headers,
    parsedBody: body.parsed_body,
  };
  ctx.mcpSession = o.mcpSessions.roleOf(mcpRequest);
  const facts: RequestFacts = {
    requestId: ctx.id,
    principal,
    client: { address: req.socket.remoteAddress ?? "", port: req.socket.remotePort ?? 0 },
    route: matched.route,
    method,
    requestMethod: ctx.method,
    rawPath: target.raw_path,
    trailingSlash: target.trailing_slash,
    scheme: (req.socket as Socket & { encrypted?: boolean }).encrypted ? "https" : "http",
    host,
    rest: matched.rest,
    query,
    headers: req.headers,
    body,
    now: Date.now(),
    mcpSessionEnd: ctx.mcpSession?.end !== undefined,
  };
  return { raw: read.body, body, sent, method, query, mcpRequest, facts };
}

const NO_BODY = Object.freeze({ ok: true as const, body: Buffer.alloc(0) });
