// MCP's HTTP+SSE transport (protocol 2024-11-05, still served by the TypeScript SDK's SSEServerTransport,
// FastMCP's `transport="sse"` and mcp-go's SSEServer) answers no call on the POST that carries it: the POST
// gets 202, and the result goes out on the GET event stream the agent opened first. That stream carries no
// Mcp-Session-Id (the session id is in the endpoint URL the stream itself announces), so it is masked with
// the GET's own rules, and a result whose call the policy masked (by detectors, as the example policy masks
// MCP answers written as prose) would reach the agent as the server wrote it. So a sessionless exchange that
// carries an MCP call or notification books its rules under its agent, and each event of that agent's
// sessionless GET event streams is masked with every rule those exchanges were allowed under when it arrives.

import type { MaskRule } from "../decision/types.js";
import { sessionAdmission } from "./mcp-live-rules.js";
import { SessionRules, sessionlessKey, type McpAdmission, type McpSessionBook } from "./mcp-session-book.js";
import type { BookedAs } from "./mcp-tasks.js";
import { mcpMessages } from "./mcp.js";

export { sessionlessKey };

/** The agent's entry for tasks made outside sessions (mcp-tasks.ts): a task's answer may come on the stream too. */
export const taskKey = (subject: string): string => `tasks ${subject}`;

/** A body carrying an MCP message the server acts on (a call or a notification, not a reply to the server). */
export function carriesMcpCall(parsedBody: unknown): boolean {
  return mcpMessages(parsedBody)?.some((m) => m.type !== "response") === true;
}

/**
 * A sessionless exchange's admission: its own `mask`, and (a GET, whose answer may be an HTTP+SSE stream)
 * a live reading that adds the agent's sessionless MCP rules as they are when each event arrives.
 */
export function sessionlessAdmission(book: McpSessionBook, subject: string, method: string, mask: MaskRule[]): McpAdmission {
  if (method !== "GET") return { ok: true, mask };
  const keys = [sessionlessKey(subject), taskKey(subject)];
  let rules: SessionRules | undefined;
  const seen: (MaskRule[] | undefined)[] = [undefined, undefined];
  const live = (): MaskRule[] => {
    for (let i = 0; i < keys.length; i++) {
      const s = book.get(keys[i]!);
      const now = s !== undefined && s.subject === subject ? s.rules.mask : undefined;
      // Only what changed is added: the same rules give the same array, and the same masker (maskers.ts).
      if (now === undefined || now === seen[i]) continue;
      seen[i] = now;
      if (rules === undefined) {
        rules = new SessionRules();
        rules.add(mask);
      }
      rules.add(now);
    }
    return rules?.mask ?? mask;
  };
  // Its events are joined as any stream masked with its own rules is (stream-joins.ts).
  return { ok: true, mask, live, joins: true };
}

/**
 * How an exchange the book took (bookingOf) is relayed, in either store (a single process's, a worker's copy):
 * a sessionless MCP call keeps its own `mask` and reaches its agent's streams through the book; an exchange of
 * a session (or a task) is masked with what the session is booked under now, `booked`.
 */
export function bookedAdmission(book: McpSessionBook, subject: string, method: string, at: BookedAs, mask: MaskRule[], booked: MaskRule[]): McpAdmission {
  return at.records ? sessionlessAdmission(book, subject, method, mask) : sessionAdmission(book, subject, at.id, at.replays, booked);
}
