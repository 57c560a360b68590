// MCP tasks (protocol 2025-11-25): a request with `params.task` is answered with a task id only, and its
// result is read later with `tasks/result` (`tasks/get` and `tasks/list` report its status, which may quote
// it): an exchange that names no tool, in a session or in none (a stateless server ties the two by the task
// id alone, and a task store need not be kept per session). So a call that creates a task books its rules
// even outside a session, where every worker learns them before it goes on, and a `tasks/` exchange is
// masked with every rule any exchange was booked with, as a resumption is (mcp-live-rules.ts).

import { mcpMember } from "./mcp.js";
import type { McpRequest, McpSessionHeader } from "./mcp-sessions.js";
import { carriesMcpCall, sessionlessKey, taskKey } from "./mcp-sse-streams.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether a body's JSON-RPC messages read tasks' state, or create a task (reading wins). */
function taskUse(parsedBody: unknown): "creates" | "reads" | undefined {
  let use: "creates" | undefined;
  for (const m of Array.isArray(parsedBody) ? parsedBody : [parsedBody]) {
    if (!isObject(m)) continue;
    const method = mcpMember(m, "method")?.value;
    if (typeof method !== "string") continue;
    if (method.startsWith("tasks/")) return "reads";
    const params = mcpMember(m, "params")?.value;
    if (isObject(params) && mcpMember(params, "task") !== undefined) use = "creates";
  }
  return use;
}

/** Where the book keeps what an exchange was allowed under; undefined: nowhere (no session, no task). */
export interface BookedAs {
  /** The session id, or the agent's entry for tasks made outside sessions (a space: never a session id). */
  id: string;
  /** A `Last-Event-ID` in a session: the book refuses one of a session it did not see this agent open. */
  resumes: boolean;
  /** Masked with every rule any exchange was booked with (a resumption, a task's state). */
  replays: boolean;
  /** Booked only for the agent's sessionless event streams (mcp-sse-streams.ts): the exchange keeps its own mask. */
  records?: true;
}

export function bookingOf(r: McpRequest, h: Exclude<McpSessionHeader, { refused: unknown }>): BookedAs | undefined {
  const task = taskUse(r.parsedBody);
  if (h.id === undefined && task === undefined) return carriesMcpCall(r.parsedBody) ? { id: sessionlessKey(r.subject), resumes: false, replays: false, records: true } : undefined;
  const resumes = h.id !== undefined && h.resumes;
  return { id: h.id ?? taskKey(r.subject), resumes, replays: resumes || task === "reads" };
}
