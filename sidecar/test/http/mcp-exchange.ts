// Raw MCP exchanges as an agent sends them beside (or instead of) the SDK's client: the headers of a session's
// request, a tools/call body, and what arrives of a response within a time (an event stream may stay open).

/** Headers of a streamable-HTTP request in `session`, sent with `token`. */
export const mcpHeaders = (token: string, session: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`,
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-session-id": session,
  "mcp-protocol-version": "2025-11-25",
  ...extra,
});

/** A JSON-RPC tools/call request. */
export const toolCall = (id: number, name: string, args: Record<string, unknown> = {}) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });

/** What the agent reads of a response within `ms`. */
export async function readFor(res: { body: ReadableStream<Uint8Array> | null }, ms: number): Promise<string> {
  const reader = res.body!.getReader();
  let text = "";
  const stop = setTimeout(() => void reader.cancel().catch(() => {}), ms);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString("utf8");
    }
  } catch {
    // cancelled
  } finally {
    clearTimeout(stop);
  }
  return text;
}
