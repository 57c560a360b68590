import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { McpSessions, type McpRequest } from "./mcp-sessions.js";

const EMAIL: MaskRule = { field: "email", strategy: "redact" };
const SSN: MaskRule = { detector: "ssn", strategy: "redact" };
const CARD: MaskRule = { detector: "card", strategy: "partial" };

const call = (subject: string, tool: string, headers: Record<string, string> = {}): McpRequest => ({
  subject,
  route: "crm",
  path: "/messages",
  requestMethod: "POST",
  method: "POST",
  bodyBytes: 60,
  headers,
  parsedBody: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: {} } },
});
const stream = (subject: string, method = "GET", headers: Record<string, string> = {}): McpRequest => ({ subject, route: "crm", path: "/sse", requestMethod: method, method, bodyBytes: 0, headers, parsedBody: undefined });

/** The rules an admitted exchange's event stream is masked with now. */
function live(s: McpSessions, r: McpRequest, mask: MaskRule[]): () => MaskRule[] {
  const a = s.admit(r, mask);
  if (!a.ok || !a.live) throw new Error("no live rules");
  return a.live;
}

describe("sessionless MCP (HTTP+SSE): an agent's GET event streams carry its calls' answers", () => {
  it("a stream opened before a call is masked with that call's rules from then on", () => {
    const s = new McpSessions();
    const rules = live(s, stream("a"), [EMAIL]);
    expect(rules()).toEqual([EMAIL]);
    expect(s.admit(call("a", "get_customer"), [EMAIL, SSN])).toEqual({ ok: true, mask: [EMAIL, SSN] });
    expect(rules()).toEqual([EMAIL, SSN]);
    // The same rules give the same array (one masker), until a call adds one.
    expect(rules()).toBe(rules());
    s.admit(call("a", "get_card"), [CARD]);
    expect(rules()).toEqual([EMAIL, SSN, CARD]);
  });

  it("a call's own answer keeps its own rules, and so does a GET that is no event stream", () => {
    const s = new McpSessions();
    s.admit(call("a", "get_customer"), [SSN]);
    expect(s.admit(call("a", "run_report"), [])).toEqual({ ok: true, mask: [] });
    const a = s.admit(stream("a"), [EMAIL]);
    expect(a).toMatchObject({ ok: true, mask: [EMAIL], joins: true });
    expect(a.ok && a.live?.()).toEqual([EMAIL, SSN]);
  });

  it("another agent's calls do not reach an agent's streams, and no resumption or task reading replays them", () => {
    const s = new McpSessions();
    const rules = live(s, stream("a"), []);
    s.admit(call("b", "get_customer"), [SSN]);
    expect(rules()).toEqual([]);
    const replay = s.admit({ ...call("a", "x"), parsedBody: { jsonrpc: "2.0", id: 2, method: "tasks/result", params: { taskId: "t" } } }, []);
    expect(replay).toMatchObject({ ok: true, mask: [] });
  });

  it("only a GET gets a live reading outside a session; a session's exchanges are booked as before", () => {
    const s = new McpSessions();
    s.admit(call("a", "get_customer"), [SSN]);
    expect(s.admit(stream("a", "POST"), [])).toEqual({ ok: true, mask: [] });
    expect(s.admit(stream("a", "GET", { "mcp-session-id": "s1" }), [EMAIL])).toMatchObject({ ok: true, mask: [EMAIL] });
  });
});
