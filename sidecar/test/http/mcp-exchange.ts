// Raw MCP exchanges as an agent sends them beside (or instead of) the SDK's client: the headers of a session's
// request, a tools/call body, and what arrives of a response within a time (an event stream may stay open);
// and the CRM server the red-team suites put behind regate.

import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { EventStore } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { CUSTOMER } from "./fixtures.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The SDK's server with two tools, as its own examples build one: `get_customer` (a record whose fields the
 * policy masks, answered after 400 ms) and `run_report` (nothing to mask, 1.2 s). Each call's tool name is
 * pushed on `ran` as it starts.
 */
export function crmMcpServer(ran: string[]): McpServer {
  const server = new McpServer({ name: "crm-mcp", version: "1.0.0" });
  server.registerTool("get_customer", { inputSchema: { id: z.number() } }, async () => {
    ran.push("get_customer");
    await sleep(400);
    return { content: [{ type: "text", text: JSON.stringify(CUSTOMER) }] };
  });
  // A slow tool whose results the policy has no reason to mask (a report, a search, a job's status).
  server.registerTool("run_report", {}, async () => {
    ran.push("run_report");
    await sleep(1200);
    return { content: [{ type: "text", text: "report ready" }] };
  });
  return server;
}

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

/**
 * Events in the order stored, as a Redis stream keeps them, for every session (the SDK's example store sorts
 * by id, whose random tail puts two events of one millisecond in either order).
 */
export function orderedEvents(): EventStore {
  const events: { id: string; stream: string; message: JSONRPCMessage }[] = [];
  return {
    storeEvent: async (stream, message) => {
      const id = randomUUID();
      events.push({ id, stream, message });
      return id;
    },
    replayEventsAfter: async (lastEventId, { send }) => {
      const at = events.findIndex((e) => e.id === lastEventId);
      if (at < 0) return "";
      const stream = events[at]!.stream;
      for (const e of events.slice(at + 1)) if (e.stream === stream) await send(e.id, e.message);
      return stream;
    },
  };
}
