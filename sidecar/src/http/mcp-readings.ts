// JSON-RPC messages an MCP server may read otherwise than the policy does. The SDKs check `"jsonrpc": "2.0"`
// and take `method`, `params.name` and `params.uri` as exact strings; a hand-written server often does not:
// it skips the version check, dispatches with `handlers[msg.method]` and looks a tool up with
// `tools[params.name]` (a JavaScript property lookup turns ["delete_customer"] into "delete_customer"), or
// folds and trims a method before routing it. So a message is MCP by its method alone (mcp.ts), and one
// whose method, tool, prompt or resource only such a reading names is refused before the policy sees it.

import { mcpMember } from "./mcp.js";
import { canonicalMethod, holdsLoose, namesMcpMethod, namesMcpMethodBeforeNul } from "./mcp-methods.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The methods whose `params.name` or `params.uri` the policy is given (mcp.ts), by the member it reads. */
const NAMED = new Map([
  ["tools/call", "name"],
  ["prompts/get", "name"],
  ["resources/read", "uri"],
  ["resources/subscribe", "uri"],
  ["resources/unsubscribe", "uri"],
]);

/** Why an element of a body is a message some server reads otherwise than the policy; undefined: it is not. */
function unreadable(v: unknown): string | undefined {
  // A batch inside a batch: no policy input names its calls, and a server that flattens runs them.
  if (Array.isArray(v)) return v.some((el) => isObject(el) && mcpMember(el, "method") !== undefined) ? "a JSON-RPC batch inside a batch" : undefined;
  if (!isObject(v)) return undefined;
  const m = mcpMember(v, "method");
  if (m === undefined) return undefined;
  const versioned = mcpMember(v, "jsonrpc")?.value === "2.0";
  if (typeof m.value !== "string") {
    if (versioned || namesMcpMethod(m.value)) return "a JSON-RPC method that is not a string";
    return undefined;
  }
  const method = m.value;
  // Read up to a NUL (`tools/call\u0000x`), or with a space or control character dropped, it may be another MCP
  // method than its fold names. An API's own `method` member (`"wire transfer"`) names no MCP namespace and passes.
  if (holdsLoose(method) && (namesMcpMethod(method) || namesMcpMethodBeforeNul(method))) return `the JSON-RPC method ${JSON.stringify(method)} (it holds a space, control or format character, which a server may drop or stop at)`;
  const canonical = canonicalMethod(method);
  if (canonical !== undefined && canonical !== method) return `the JSON-RPC method ${JSON.stringify(method)} (a server that folds or trims it runs ${canonical})`;
  const key = NAMED.get(method);
  const p = mcpMember(v, "params");
  // Absent or null, the call names nothing: the server answers it with an error.
  if (key === undefined || p === undefined || p.value === null) return undefined;
  // By-position params ([name, arguments]) are JSON-RPC's other form, which the policy is not given.
  if (!isObject(p.value)) return `${method} with params that are not an object`;
  const named = mcpMember(p.value, key);
  if (named !== undefined && typeof named.value !== "string") return `${method} whose params.${key} is not a string`;
  return undefined;
}

/**
 * Why the body holds an MCP message a server may run otherwise than the policy judges it (refused whatever
 * the policy says); undefined when it holds none.
 */
export function mcpUnreadable(parsedBody: unknown): string | undefined {
  for (const el of Array.isArray(parsedBody) ? parsedBody : [parsedBody]) {
    const why = unreadable(el);
    if (why !== undefined) return `${why}: a server may run it otherwise than the policy would judge it; send MCP's exact method and string names`;
  }
  return undefined;
}
