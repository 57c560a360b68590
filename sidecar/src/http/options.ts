import type { FieldNameMatching } from "./field-names.js";
import type { Logger } from "pino";
import type { Decider } from "../decision/decider.js";
import type { HttpApprovals } from "./hold.js";
import type { McpSessionStore } from "./mcp-sessions.js";
import type { Outcome } from "../decision/types.js";
import type { AgentDirectory } from "../identity/index.js";

/** The credential regate injects for a route. Secrets arrive resolved; config loading is elsewhere. */
export interface RouteCredential {
  type: "bearer" | "basic" | "header";
  /** Header name for `type: "header"` (e.g. "x-api-key"). */
  header?: string;
  /** The secret: a token for bearer/header, "user:password" for basic. */
  value: string;
}

export interface RouteOptions {
  /** Route name: `session.target` and `http.route.name` in the input. */
  name: string;
  /** Path prefix the agent calls ("/crm"); stripped before forwarding. "/" matches every path. */
  prefix: string;
  /** When set, only requests for this host name (port ignored) use the route. */
  host?: string;
  /** Upstream base URL, http or https, without userinfo; its path is prepended to the forwarded path. */
  upstream: string;
  credential?: RouteCredential;
  /** PEM CA bundle to verify an https upstream with (replaces the default roots). */
  ca?: string;
  /**
   * Media types the upstream answers with. Lets regate refuse a request before the upstream acts when the
   * policy's field masks could not be applied to any of them; a response of another type is refused.
   */
  response_types?: string[];
  /** The upstream is an MCP server: `http.route.mcp` is set in every request's input. */
  mcp?: boolean;
}

export interface HttpLimits {
  /** Requests with a larger body are refused with 413. */
  max_body_bytes: number;
  /** Bodies up to this size are parsed into the input; larger ones are flagged `truncated_body`. */
  max_input_body_bytes: number;
  /** Time allowed until the upstream's response headers (and between body chunks of a masked response). */
  timeout_ms: number;
  /**
   * Largest (decoded) response body regate will buffer to mask; larger ones are refused. JSON that streams
   * (compressed, chunked, or over 64 KiB) is never held whole: there it caps a single string or number.
   * Default 32 MiB.
   */
  max_masked_body_bytes?: number;
  /**
   * Connections the listener holds at once (idle keep-alive and slow ones included). One over it is answered
   * 503 CONNECTION_LIMIT with Retry-After once its request arrives, then closed. Default 1024.
   */
  max_connections?: number;
}

/** Reported once per request, when its response has finished or the client went away. */
export interface RequestDoneInfo {
  request_id: string;
  route: string | undefined;
  method: string;
  status: number;
  outcome: Outcome | undefined;
  decision_id: string | undefined;
  masked: boolean;
  /** Error catalog code when regate (not the upstream) produced an error response. */
  error_code: string | undefined;
  duration_ms: number;
  /** Bytes written to the agent's connection for this response: status line, headers and body. */
  bytes: number;
  /**
   * The response did not reach its end: the agent went away, the upstream failed mid-body, or a lock cut
   * the stream. `status` is then what was sent before the cut (0 if nothing was), not an outcome.
   */
  aborted: boolean;
  /** The lock that refused or cut this exchange (exchange-cut.ts). */
  lock_id: string | undefined;
}

/** How regate reads requests whose meaning depends on the upstream's framework. */
export interface HttpRequestOptions {
  /** "decide" (default): the policy judges the overriding method. "strip": overrides are removed before deciding. */
  method_override?: "decide" | "strip";
  /** "refuse" (default): 400 for encoded "/" or "\\", "\\" and ";" in the path. "canonical": rewrite them. */
  ambiguous_paths?: "refuse" | "canonical";
}

export interface HttpGatewayOptions {
  routes: RouteOptions[];
  agents: AgentDirectory;
  decider: Decider;
  /** Approvals of `approve` decisions (hold.ts); without it an approve is refused APPROVAL_REQUIRED. */
  approvals?: HttpApprovals;
  logger: Logger;
  limits: HttpLimits;
  request?: HttpRequestOptions;
  /** Field rules match keys exactly (the older option: `mask_field_names: exact`; wins when true). */
  mask_case_sensitive?: boolean;
  /** How field rules match keys (field-names.ts); default `spelling`: case and word separators do not count. */
  mask_field_names?: FieldNameMatching;
  /** Key for the `hash` mask strategy. */
  mask_hash_key?: Buffer;
  /**
   * Secrets regate holds besides the routes' credentials (agent tokens, the upstream password, ...): scrubbed
   * from request lines. A function is read again as they change (agent token files).
   */
  log_secrets?: readonly string[] | (() => readonly string[]);
  onRequestDone?: (info: RequestDoneInfo) => void;
  /** Called for every connection refused over `limits.max_connections` (a metric). */
  onConnectionRefused?: () => void;
  /** Where MCP sessions are booked when not in this process alone (workers > 1: cluster/mcp-sessions.ts). */
  mcp_sessions?: McpSessionStore;
}
