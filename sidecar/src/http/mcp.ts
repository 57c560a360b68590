// MCP awareness: MCP's streamable HTTP transport POSTs JSON-RPC 2.0 messages. The input names the method
// and, for tools/call, the tool and its arguments, so a policy can allow or deny individual tools.

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

function message(v: unknown): McpMessage | undefined {
  if (!isObject(v) || v.jsonrpc !== "2.0") return undefined;
  const id = v.id;
  const hasId = "id" in v && (typeof id === "string" || typeof id === "number" || id === null);
  if (typeof v.method !== "string") {
    if ("result" in v || "error" in v) return hasId ? { type: "response", id: id as string | number | null } : { type: "response" };
    return undefined;
  }
  const m: McpMessage = { type: hasId ? "request" : "notification", method: v.method };
  if (hasId) m.id = id as string | number | null;
  const params = isObject(v.params) ? v.params : undefined;
  if (params) {
    if (v.method === "tools/call") {
      if (typeof params.name === "string") m.tool = params.name;
      if ("arguments" in params) m.arguments = params.arguments;
    } else if (v.method === "prompts/get") {
      if (typeof params.name === "string") m.prompt = params.name;
    } else if (v.method.startsWith("resources/") && typeof params.uri === "string") {
      m.uri = params.uri;
    }
  }
  return m;
}

/**
 * The JSON-RPC messages in a parsed body: one for a single message, one per element for a batch (array),
 * none when the body is not JSON-RPC 2.0. Batch elements that are not JSON-RPC are left out (the server
 * answers them with an error and executes nothing for them).
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
