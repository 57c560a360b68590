// The HTTP request as the policy's input document (testdata/schemas/http-input.schema.json is normative).

import type { IncomingHttpHeaders } from "node:http";
import { timeInput } from "../decision/time.js";
import type { PolicyInput, Principal } from "../decision/types.js";
import type { BodyFacts } from "./request-body-facts.js";
import { inputHeaders } from "./headers.js";
import type { EffectiveMethod, OverrideSource } from "./method.js";
import { mcpMessages, type McpMessage } from "./mcp.js";
import { parsedPath, parsedQuery } from "./path.js";
import type { CompiledRoute } from "./routes.js";

export interface HttpInput extends BodyFacts {
  /** The method the upstream will execute: a method override when the request carries one. */
  method: string;
  /** The method of the request line. */
  request_method: string;
  /** Present when an override (header or `_method` parameter) set `method`. */
  method_override?: { source: OverrideSource[]; value: string };
  scheme: "http" | "https";
  /** Host header (or absolute-form authority) as the agent sent it, lowercased. */
  host: string;
  /** Canonical path after the route prefix (no trailing slash): what the upstream sees below its base path. */
  path: string;
  /** Decoded segments of `path` ("/" gives []). */
  parsed_path: string[];
  /** The request path as the agent sent it, prefix included, before canonicalisation. */
  raw_path: string;
  /** The agent's path ended in "/"; it is forwarded with it. */
  trailing_slash: boolean;
  query: string;
  parsed_query: Record<string, string[]>;
  headers: Record<string, string>;
  route: { name: string; prefix: string; mcp?: true };
  /** The JSON-RPC message this decision is about (each element of a batch gets its own decision). */
  mcp?: McpMessage;
  /** Every message of a JSON-RPC batch, when the body is an array. */
  mcp_batch?: McpMessage[];
  /** A DELETE of an MCP session id this upstream issued to this agent at this path (mcp-sessions.ts). */
  mcp_session_end?: true;
}

export interface RequestFacts {
  requestId: string;
  principal: Principal;
  client: { address: string; port: number };
  route: CompiledRoute;
  method: EffectiveMethod;
  requestMethod: string;
  rawPath: string;
  trailingSlash: boolean;
  scheme: "http" | "https";
  host: string;
  rest: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: BodyFacts;
  now: number;
  mcpSessionEnd?: boolean;
}

/**
 * One input per decision: a single one, or one per JSON-RPC message of a batch so that a policy written
 * for single calls judges every call of the batch (the request is allowed only if all are).
 */
export function httpInputs(f: RequestFacts): PolicyInput[] {
  // Members are added in the order the input has always had (its JSON is the reuse key and the logged
  // input); assignments rather than spreads of conditional objects, which cost a copy each per request.
  const http = { method: f.method.method, request_method: f.requestMethod } as HttpInput;
  if (f.method.override) http.method_override = f.method.override;
  http.scheme = f.scheme;
  http.host = f.host;
  http.path = f.rest;
  http.parsed_path = parsedPath(f.rest);
  http.raw_path = f.rawPath;
  http.trailing_slash = f.trailingSlash;
  http.query = f.query;
  http.parsed_query = parsedQuery(f.query);
  http.headers = inputHeaders(f.headers, f.route);
  http.route = { name: f.route.name, prefix: f.route.prefix === "" ? "/" : f.route.prefix, ...(f.route.mcp ? { mcp: true as const } : {}) };
  Object.assign(http, f.body);
  if (f.mcpSessionEnd) http.mcp_session_end = true;
  const time = timeInput(f.now);
  const base: Omit<PolicyInput, "http"> = {
    version: 1,
    kind: "http",
    time,
    // Each HTTP request is its own session: it starts now.
    session: { id: f.requestId, principal: f.principal, client: f.client, target: f.route.name, started_at: time.rfc3339 },
  };
  const messages = f.body.parsed_body === undefined ? undefined : mcpMessages(f.body.parsed_body);
  if (!messages) return [{ version: 1, kind: "http", time, session: base.session, http }];
  if (!Array.isArray(f.body.parsed_body)) return [{ ...base, http: { ...http, mcp: messages[0]! } }];
  return messages.map((mcp) => ({ ...base, http: { ...http, mcp, mcp_batch: messages } }));
}
