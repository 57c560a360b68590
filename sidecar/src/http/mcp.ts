// MCP awareness: MCP's streamable HTTP transport POSTs JSON-RPC 2.0 messages. The input names the method
// and, for tools/call, the tool and its arguments, so a policy can allow or deny individual tools.

import { foldKey } from "./body.js";
import { namesMcpMethod } from "./mcp-methods.js";

export interface McpMessage {
  /** request (method + id), notification (method, no id) or response (result/error to a server request). */
  type: "request" | "notification" | "response";
  method?: string;
  id?: string | number | null;
  /** tools/call: params.name */
  tool?: string;
  /** tools/call: params.arguments */
  arguments?: unknown;
  /** resources/read, resources/subscribe: params.uri */
  uri?: string;
  /** prompts/get: params.name */
  prompt?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A member as case-insensitive decoders read it: Go's encoding/json (mcp-go) binds "Method" or "NAME" to
 * the field `method` or `name`. Bodies with two keys that fold to one never get here (request-body-facts.ts refuses them).
 */
function member(o: Record<string, unknown>, name: string): { value: unknown } | undefined {
  if (Object.prototype.hasOwnProperty.call(o, name)) return { value: o[name] };
  for (const k of Object.keys(o)) if (foldKey(k) === name) return { value: o[k] };
  return undefined;
}

export { member as mcpMember };

function message(v: unknown): McpMessage | undefined {
  if (!isObject(v)) return undefined;
  const method = member(v, "method")?.value;
  // Servers that skip the version check (many hand-written ones) run a call whatever `jsonrpc` says: a
  // message naming an MCP method is judged as one (mcp-readings.ts refuses the other loose readings).
  if (member(v, "jsonrpc")?.value !== "2.0" && !(typeof method === "string" && namesMcpMethod(method))) return undefined;
  const idMember = member(v, "id");
  const id = idMember?.value;
  const hasId = idMember !== undefined && (typeof id === "string" || typeof id === "number" || id === null);
  if (typeof method !== "string") {
    if (member(v, "result") || member(v, "error")) return hasId ? { type: "response", id: id as string | number | null } : { type: "response" };
    // A method that is not a string is refused before any decision (mcp-readings.ts); kept here so that the
    // refusal is addressed to the request's id.
    if (method === undefined) return undefined;
    return hasId ? { type: "request", id: id as string | number | null } : { type: "notification" };
  }
  const m: McpMessage = { type: hasId ? "request" : "notification", method };
  if (hasId) m.id = id as string | number | null;
  const p = member(v, "params")?.value;
  const params = isObject(p) ? p : undefined;
  if (params) {
    const name = member(params, "name")?.value;
    if (method === "tools/call") {
      if (typeof name === "string") m.tool = name;
      const args = member(params, "arguments");
      if (args) m.arguments = args.value;
    } else if (method === "prompts/get") {
      if (typeof name === "string") m.prompt = name;
    } else if (method.startsWith("resources/")) {
      const uri = member(params, "uri")?.value;
      if (typeof uri === "string") m.uri = uri;
    }
  }
  return m;
}

/**
 * The JSON-RPC messages in a parsed body: one for a single message, one per element for a batch (array),
 * none when the body is neither JSON-RPC 2.0 nor a message naming an MCP method. Batch elements that are
 * neither are left out (the server answers them with an error and executes nothing for them).
 */
export function mcpMessages(parsedBody: unknown): McpMessage[] | undefined {
  if (Array.isArray(parsedBody)) {
    const out: McpMessage[] = [];
    for (const el of parsedBody) {
      const m = message(el);
      if (m) out.push(m);
    }
    return out.length > 0 ? out : undefined;
  }
  const m = message(parsedBody);
  return m ? [m] : undefined;
}
