// The mask an exchange of an MCP session is relayed with is not fixed when it starts. A stream stays open
// while later calls of the session run, and servers send what those calls cause on it: the SDKs put a
// sampling or elicitation request, or a log message, sent through the server rather than the call's own
// context (as their own examples and READMEs write them) on the session's GET stream, opened before the
// call. So each event is masked with the session's rules as they are when it arrives.
//
// A resumption (`Last-Event-ID`) replays whatever stream the server's event store files that id under, and
// servers keep one store for every session (the Python SDK's session manager hands its store to each;
// a store on Redis is shared by design), so the id of another session's event, or another agent's, replays
// that session's answers. It is masked with every rule any session was allowed under.

import type { MaskRule } from "../decision/types.js";
import { SessionRules, type McpSessionBook } from "./mcp-session-book.js";

/**
 * An admitted exchange booked under `id` (agent `subject`): `booked` are its rules now; `live` reads them later.
 * `replays`: it may carry any session's answers (a resumption, a task's state), so it has every rule.
 */
export function sessionAdmission(book: McpSessionBook, subject: string, id: string, replays: boolean, booked: MaskRule[]): { ok: true; mask: MaskRule[]; live: () => MaskRule[] } {
  const rules = new SessionRules();
  rules.add(booked);
  let seen: MaskRule[] | undefined;
  const live = (): MaskRule[] => {
    const now = replays ? book.everyRule : sessionRules(book, subject, id);
    // Only a session's rules that changed are added (SessionRules keeps one array while nothing is new): the
    // same rules give the same array, and the same masker (maskers.ts), event after event.
    if (now !== undefined && now !== seen) {
      seen = now;
      rules.add(now);
    }
    return rules.mask;
  };
  return { ok: true, mask: live(), live };
}

/** The session's rules, while the book holds it as this agent's (ended or forgotten: what the exchange had). */
function sessionRules(book: McpSessionBook, subject: string, id: string): MaskRule[] | undefined {
  const s = book.get(id);
  return s !== undefined && s.subject === subject ? s.rules.mask : undefined;
}
