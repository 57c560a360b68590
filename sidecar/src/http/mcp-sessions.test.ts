import { describe, expect, it } from "vitest";
import { McpSessions } from "./mcp-sessions.js";

describe("McpSessions", () => {
  it("knows an id only for the agent, route and path it was issued at, until it is ended", () => {
    const s = new McpSessions();
    s.issued("agent-a", "tools", "/mcp", "5f1c-9a");
    expect(s.has("agent-a", "tools", "/mcp", "5f1c-9a")).toBe(true);
    expect(s.has("agent-b", "tools", "/mcp", "5f1c-9a")).toBe(false);
    expect(s.has("agent-a", "other", "/mcp", "5f1c-9a")).toBe(false);
    expect(s.has("agent-a", "tools", "/customers/1", "5f1c-9a")).toBe(false);
    expect(s.has("agent-a", "tools", "/mcp", "5f1c-9b")).toBe(false);
    expect(s.has("agent-a", "tools", "/mcp", ["5f1c-9a"])).toBe(false);
    s.ended("agent-a", "tools", "/mcp", "5f1c-9a");
    expect(s.has("agent-a", "tools", "/mcp", "5f1c-9a")).toBe(false);
  });

  it("does not take what is not a session id", () => {
    const s = new McpSessions();
    for (const id of [undefined, "", "has space", "caf\u00e9", "x".repeat(257), ["a", "b"]]) s.issued("a", "r", "/mcp", id);
    expect(s.size).toBe(0);
  });

  it("does not let parts of the key run into each other", () => {
    const s = new McpSessions();
    s.issued("a", "r", "/mcp", "id");
    expect(s.has("a\",\"r", "", "/mcp", "id")).toBe(false);
  });

  it("forgets the oldest past its bound, and a re-issued id counts as new", () => {
    const s = new McpSessions(2);
    s.issued("a", "r", "/mcp", "one");
    s.issued("a", "r", "/mcp", "two");
    s.issued("a", "r", "/mcp", "one");
    s.issued("a", "r", "/mcp", "three");
    expect(s.has("a", "r", "/mcp", "two")).toBe(false);
    expect(s.has("a", "r", "/mcp", "one")).toBe(true);
    expect(s.has("a", "r", "/mcp", "three")).toBe(true);
  });
});

describe("McpSessions.admit", () => {
  const EMAIL = { field: "email", strategy: "redact" } as const;
  const CARD = { detector: "card", strategy: "partial" } as const;
  const req = (subject: string, headers: Record<string, string | string[]>, path = "/mcp") => ({
    subject,
    route: "r",
    path,
    requestMethod: "POST",
    method: "POST",
    bodyBytes: 0,
    headers,
    parsedBody: undefined,
  });

  it("masks every exchange of a session, at any path, with every rule its exchanges had so far", () => {
    const s = new McpSessions();
    s.issued("a", "r", "/mcp", "s1");
    expect(s.admit(req("a", { "mcp-session-id": "s1" }), [EMAIL])).toMatchObject({ ok: true, mask: [EMAIL] });
    expect(s.admit(req("a", { "mcp-session-id": "s1" }, "/other"), [])).toMatchObject({ ok: true, mask: [EMAIL] });
    // Another route to the same server (one that masks less) shares the session's rules.
    expect(s.admit({ ...req("a", { "mcp-session-id": "s1" }), route: "r2" }, [])).toMatchObject({ ok: true, mask: [EMAIL] });
    expect(s.has("a", "r2", "/mcp", "s1")).toBe(false);
    expect(s.admit(req("a", { mcp_session_id: "s1", "last-event-id": "e1" }), [CARD, EMAIL])).toMatchObject({ ok: true, mask: [EMAIL, CARD] });
    // Another session, and requests without one, keep their own rules.
    s.issued("a", "r", "/mcp", "s2");
    expect(s.admit(req("a", { "mcp-session-id": "s2" }), [])).toMatchObject({ ok: true, mask: [] });
    expect(s.admit(req("a", {}), [])).toMatchObject({ ok: true, mask: [] });
  });

  it.each([
    ["another agent's session", req("b", { "mcp-session-id": "s1" }), /another agent/],
    ["another agent's resumption", req("b", { "mcp-session-id": "s1", "last-event-id": "e1" }), /another agent/],
    ["a resumption of a session not seen opened", req("a", { "mcp-session-id": "s9", "last-event-id": "e1" }), /Last-Event-ID/],
    ["two session ids", req("a", { "mcp-session-id": "s1, s2" }), /not one session id/],
    ["a session id as two headers", req("a", { "mcp-session-id": ["s1", "s2"] }), /not one session id/],
  ])("refuses %s", (_name, r, reason) => {
    const s = new McpSessions();
    s.issued("a", "r", "/mcp", "s1");
    s.issued("a", "r", "/mcp", "s2");
    const got = s.admit(r, []);
    expect(got.ok).toBe(false);
    expect(got.ok ? "" : got.reason).toMatch(reason);
  });

  it("an open exchange reads the rules later exchanges of its session add; a resumption has every session's", () => {
    const s = new McpSessions();
    s.issued("a", "r", "/mcp", "s1");
    s.issued("a", "r", "/mcp", "s2");
    s.issued("b", "r", "/mcp", "s3");
    const stream = s.admit(req("a", { "mcp-session-id": "s1" }), []);
    const other = s.admit(req("a", { "mcp-session-id": "s2" }), []);
    if (!stream.ok || !other.ok) throw new Error("refused");
    expect(stream.live!()).toEqual([]);
    s.admit(req("a", { "mcp-session-id": "s1" }), [EMAIL]);
    s.admit(req("b", { "mcp-session-id": "s3" }), [CARD]);
    expect(stream.live!()).toEqual([EMAIL]);
    expect(other.live!()).toEqual([]);
    // Ended, the session's rules stay with the stream that had them.
    s.ended("a", "r", "/mcp", "s1");
    expect(stream.live!()).toEqual([EMAIL]);
    // Another session's (or agent's) event id replays that session's answers.
    expect(s.admit(req("a", { "mcp-session-id": "s2", "last-event-id": "e1" }), [])).toMatchObject({ ok: true, mask: [EMAIL, CARD] });
  });

  it("a call that creates a task is booked outside sessions too, and reading any task has every rule", () => {
    const s = new McpSessions();
    const body = (method: string, params: Record<string, unknown>) => ({ ...req("a", {}), parsedBody: { jsonrpc: "2.0", id: 1, method, params } });
    expect(s.admit(body("tools/call", { name: "get_customer" }), [CARD])).toEqual({ ok: true, mask: [CARD] });
    expect(s.admit(body("tools/call", { name: "export", TASK: { ttl: 1 } }), [EMAIL])).toMatchObject({ ok: true, mask: [EMAIL] });
    expect(s.admit({ ...body("tasks/result", { taskId: "t1" }), subject: "b" }, [])).toMatchObject({ ok: true, mask: [EMAIL] });
    // Neither a task nor a session: as before, nothing is booked.
    expect(s.admit(body("tools/list", {}), [])).toEqual({ ok: true, mask: [] });
  });

  it("books a session first seen in use, without taking it for issued", () => {
    const s = new McpSessions();
    expect(s.admit(req("a", { "mcp-session-id": "s7" }), [EMAIL])).toMatchObject({ ok: true, mask: [EMAIL] });
    expect(s.admit(req("a", { "mcp-session-id": "s7" }), [])).toMatchObject({ ok: true, mask: [EMAIL] });
    expect(s.admit(req("b", { "mcp-session-id": "s7" }), []).ok).toBe(false);
    expect(s.has("a", "r", "/mcp", "s7")).toBe(false);
    expect(s.admit(req("a", { "mcp-session-id": "s7", "last-event-id": "e1" }), []).ok).toBe(false);
  });

  it("does not hand a session issued to one agent to another", () => {
    const s = new McpSessions();
    s.issued("a", "r", "/mcp", "s1");
    s.issued("b", "r", "/mcp", "s1");
    expect(s.has("b", "r", "/mcp", "s1")).toBe(false);
    expect(s.has("a", "r", "/mcp", "s1")).toBe(true);
  });
});

describe("McpSessions.admit when sessions are forgotten", () => {
  const EMAIL = { field: "email", strategy: "redact" } as const;
  const post = (subject: string, id: string) => ({ subject, route: "r", path: "/mcp", requestMethod: "POST", method: "POST", bodyBytes: 0, headers: { "mcp-session-id": id }, parsedBody: undefined });

  it("a session pushed out by made-up ids keeps its rules when used again, for its agent only", () => {
    const s = new McpSessions(2);
    s.issued("a", "r", "/mcp", "real");
    s.admit(post("a", "real"), [EMAIL]);
    s.admit(post("a", "made-up-1"), []);
    s.admit(post("a", "made-up-2"), []);
    expect(s.has("a", "r", "/mcp", "real")).toBe(false);
    expect(s.admit(post("a", "real"), [])).toMatchObject({ ok: true, mask: [EMAIL] });
    expect(s.admit(post("b", "fresh"), [])).toMatchObject({ ok: true, mask: [] });
    // A session the upstream issues anew has had no exchanges: it starts with no rules.
    s.issued("a", "r", "/mcp", "new");
    expect(s.admit(post("a", "new"), [])).toMatchObject({ ok: true, mask: [] });
  });
});
