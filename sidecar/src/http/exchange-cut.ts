// Ending an agent's HTTP exchanges now (a lock, docs/incident-response.md): the exchanges in flight, the
// streams it is reading, and the keep-alive connections it left idle.

import type { Socket } from "node:net";
import type { Principal } from "../decision/types.js";
import { ERROR_CODES } from "../errors.js";
import { resetConnection } from "../socket-reset.js";
import type { RequestContext } from "./context.js";
import { cancellableIds, cancelNote } from "./mcp-cancel.js";
import { jsonRpcRefusal, sendJsonRpc } from "./mcp-refusal.js";
import { sendError, type ErrorBody } from "./reply.js";
import type { UpstreamRequest } from "./upstream-message.js";

/** Whether an exchange (its agent, its request id: an HTTP request is its own session) is to be ended. */
export type ExchangeSelect = (principal: Principal, requestId: string | undefined) => boolean;

/** Why: what the agent is answered when its response has not started, and the tag logged with it (a lock id). */
export interface ExchangeCut {
  answer: ErrorBody & { code: NonNullable<ErrorBody["code"]> };
  tag: string;
}

/** One exchange ended, as the audit line and the SIEM event name it. */
export interface EndedExchange {
  request_id: string;
  principal: Principal;
  route: string | undefined;
  client: { address: string; port: number };
  /** "METHOD /path", the path masked as in the request line. */
  subject: string;
  decision_id: string | undefined;
  /** Its response had started (a stream, a download): cut, the connection closed. Else answered 403. */
  streaming: boolean;
}

export interface EndedExchanges {
  exchanges: EndedExchange[];
  /** Idle keep-alive connections the picked agents last used, closed. */
  connections: number;
}

/**
 * The authenticated exchanges in flight of one listener, and each open connection with the agent that last
 * authenticated on it. A connection carries one agent's requests after another's only if its client sends
 * them so; an idle one is closed when the agent it last carried is picked.
 */
export class LiveExchanges {
  readonly #live = new Set<RequestContext>();
  readonly #sockets = new Map<Socket, Principal>();
  readonly #accepted = new AcceptedCalls();

  /** Once the agent is known; `ctx.closed` exchanges are not added (the response closed while it authenticated). */
  add(ctx: RequestContext, principal: Principal): void {
    if (ctx.closed) return;
    this.#live.add(ctx);
    const s = ctx.req.socket;
    if (!this.#sockets.has(s)) s.once("close", () => this.#sockets.delete(s));
    this.#sockets.set(s, principal);
  }

  delete(ctx: RequestContext): void {
    this.#live.delete(ctx);
    this.#accepted.note(ctx);
  }

  /**
   * Ends every exchange of an agent `select` picks: a response not started is answered (403, or a JSON-RPC
   * error for an MCP request with an id) and its connection closed after it; a response already started is
   * cut, its connection destroyed, so no more of it reaches the agent. Either way the upstream exchange is
   * aborted. An exchange held for a reviewer is left to the approval's withdrawal, which answers it.
   */
  end(select: ExchangeSelect, why: ExchangeCut): EndedExchanges {
    const busy = new Set<Socket>();
    const exchanges: EndedExchange[] = [];
    for (const ctx of [...this.#live]) {
      // Fully written: the exchange is over, its connection idle for what follows.
      if (ctx.res.writableFinished) continue;
      busy.add(ctx.req.socket);
      if (ctx.held || ctx.cutBy !== undefined || !ctx.principal || !select(ctx.principal, ctx.id)) continue;
      exchanges.push(cut(ctx, why));
    }
    this.#accepted.cancel(select, why.tag);
    let connections = 0;
    for (const [socket, principal] of this.#sockets) {
      if (busy.has(socket) || !select(principal, undefined)) continue;
      socket.destroy();
      connections++;
    }
    return { exchanges, connections };
  }
}

function cut(ctx: RequestContext, why: ExchangeCut): EndedExchange {
  const { res } = ctx;
  const streaming = res.headersSent;
  const ended: EndedExchange = {
    request_id: ctx.id,
    principal: ctx.principal!,
    route: ctx.route?.name,
    client: { address: ctx.req.socket.remoteAddress ?? "", port: ctx.req.socket.remotePort ?? 0 },
    subject: `${ctx.method} ${ctx.logPath}`,
    decision_id: ctx.decision?.decision_id,
    streaming,
  };
  // From here on the gateway sends nothing more on this exchange (gateway.ts checks cutBy after each wait).
  ctx.cutBy = why.tag;
  ctx.errorCode = why.answer.code;
  clearTimeout(ctx.timer);
  if (streaming) {
    // Too late for a status: the connection goes, and with it whatever the stream still had to say. A reset,
    // not a close: an agent that reads slowly would otherwise still get the megabytes of the stream that sit
    // in regate's queue and the kernel's send buffer after the cut.
    resetConnection(ctx.req.socket);
    res.destroy();
  } else {
    // Answered before the upstream exchange is aborted: a body being read whole would otherwise be
    // answered first, as cut short by the upstream (response-refusals.ts), which is not what happened.
    res.setHeader("connection", "close");
    const rpc = ctx.addressed ? jsonRpcRefusal(ctx.addressed.parsed, why.answer, ctx.addressed.raw) : undefined;
    if (rpc === undefined) sendError(res, ERROR_CODES[why.answer.code].http, why.answer, { close: true });
    else sendJsonRpc(res, rpc);
  }
  ctx.proxyReq?.destroy();
  ctx.proxyRes?.destroy();
  // The aborted connection alone does not stop an MCP tool call the server is running.
  if (ctx.proxyReq) cancelUpstream(ctx.proxyReq.notify, cancellableIds(ctx), why.tag);
  return ended;
}

function cancelUpstream(notify: UpstreamRequest["notify"], ids: readonly (string | number)[], tag: string): void {
  for (const id of ids) notify(cancelNote(id, `regate: the agent's request was ended by an operator (${tag})`));
}

/** How long a call the upstream accepted (202) is taken to run on: a long tool call's time. */
const ACCEPTED_MS = 15 * 60_000;
/** Accepted calls remembered at most (the oldest goes first). */
const MAX_ACCEPTED = 1024;

/**
 * MCP calls of the HTTP+SSE transport: the POST is answered 202 and the call runs on, its result to come on the
 * agent's event stream. Its exchange is over, so LiveExchanges no longer holds it; a lock still has to tell the
 * server to stop it. Kept a while (a cancel for a call already done is ignored by the server, as MCP says).
 */
class AcceptedCalls {
  /** Only what a cancellation needs: never the exchange itself (its request, its body). */
  readonly #calls: { principal: Principal; requestId: string; until: number; ids: (string | number)[]; notify: UpstreamRequest["notify"] }[] = [];

  note(ctx: RequestContext): void {
    if (ctx.proxyRes?.statusCode !== 202 || !ctx.principal || !ctx.proxyReq || ctx.cutBy !== undefined) return;
    const ids = cancellableIds(ctx);
    if (ids.length === 0) return;
    this.#calls.push({ principal: ctx.principal, requestId: ctx.id, until: Date.now() + ACCEPTED_MS, ids, notify: ctx.proxyReq.notify });
    if (this.#calls.length > MAX_ACCEPTED) this.#calls.shift();
  }

  cancel(select: ExchangeSelect, tag: string): void {
    const now = Date.now();
    for (let i = this.#calls.length - 1; i >= 0; i--) {
      const c = this.#calls[i]!;
      if (c.until <= now) this.#calls.splice(i, 1);
      else if (select(c.principal, c.requestId)) {
        this.#calls.splice(i, 1);
        cancelUpstream(c.notify, c.ids, tag);
      }
    }
  }
}
