import type { IncomingMessage, ServerResponse } from "node:http";
import type { Decision, Principal } from "../decision/types.js";
import type { ErrorCode } from "../errors.js";
import type { ResponseMasker } from "./masker.js";
import type { LiveMasker } from "./mcp-live-events.js";
import type { McpSessionRole } from "./mcp-sessions.js";
import type { CompiledRoute } from "./routes.js";
import type { UpstreamRequest, UpstreamResponse } from "./upstream-message.js";

/** Everything known about one request, from arrival to the end of its response. */
export interface RequestContext {
  readonly id: string;
  readonly startedAt: number;
  /** The connection's bytes written before this response (keep-alive): the response's bytes are the difference. */
  readonly sentBefore: number;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  /** The client sent "Expect: 100-continue" and waits for regate's go-ahead before sending the body. */
  readonly expectsContinue: boolean;
  /** The request path with detected values redacted: the only form that is logged. */
  logPath: string;
  route?: CompiledRoute;
  principal?: Principal;
  authFailure?: string;
  decision?: Decision;
  masker?: ResponseMasker;
  /** An exchange of an MCP session: its event stream's masker as the session's rules are now. */
  liveMasker?: LiveMasker;
  /** The live stream also joins values cut across events with the exchange's own detectors (a sessionless GET's). */
  liveJoins?: boolean;
  /** An MCP initialize or session-ending DELETE: its answer updates the gateway's McpSessions. */
  mcpSession?: McpSessionRole;
  masked: boolean;
  /** Set when regate itself answered with an error. */
  errorCode?: ErrorCode;
  proxyReq?: UpstreamRequest;
  proxyRes?: UpstreamResponse;
  timer?: NodeJS.Timeout;
  timedOut: boolean;
  /** The response has closed (finished or the agent went away). */
  closed?: boolean;
  /** Waiting for a reviewer (hold.ts): a lock's withdrawal of the approval answers it. */
  held?: boolean;
  /** The body as read, to answer a JSON-RPC request in JSON-RPC when the exchange is ended early. */
  addressed?: { parsed: unknown; raw: Buffer };
  /** Ended by an operator (the lock's id, exchange-cut.ts): nothing more is sent on this exchange. */
  cutBy?: string;
}
