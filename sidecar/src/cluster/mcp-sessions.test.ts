import pino from "pino";
import { describe, expect, it } from "vitest";
import type { McpRequest } from "../http/index.js";
import { ClusterMcpSessions, McpSessionsPrimary, type McpLink, type McpSessionChange } from "./mcp-sessions.js";
import type { PrimaryOp, WorkerOp } from "./messages.js";

const log = pino({ level: "silent" });
const EMAIL = { field: "email", strategy: "redact" } as const;
const SSN = { field: "ssn", strategy: "redact" } as const;

/** A primary and `n` workers in one process, the IPC channel replaced by calls; `calls` counts what went to the primary. */
function cluster(n: number, max?: number) {
  const handlers: ((c: McpSessionChange) => unknown)[] = [];
  const calls: PrimaryOp[] = [];
  let confirm = true;
  const primary = new McpSessionsPrimary(async (change) => {
    // Refusing: the change reaches no worker (each is hung, say) and none confirms it.
    if (!confirm) throw new Error("worker 1 did not confirm");
    await Promise.all(handlers.map((h) => h(change)));
  }, max);
  const linkOf = (): McpLink => ({
    handle: (op: WorkerOp, fn) => void (op === "mcp.changed" && handlers.push(fn)),
    request: async <T>(op: PrimaryOp, body: any): Promise<T> => {
      calls.push(op);
      const serve: Partial<Record<PrimaryOp, (b: any) => unknown>> = {
        "mcp.snapshot": () => primary.snapshot(),
        "mcp.admit": (b) => primary.admit(b),
        "mcp.issued": (b) => primary.issued(b),
        "mcp.ended": (b) => primary.ended(b),
        "mcp.touch": (b) => primary.touch(b),
      };
      return (await serve[op]!(body)) as T;
    },
  });
  const workers = Array.from({ length: n }, () => new ClusterMcpSessions(linkOf(), log, 3_000, max));
  return { primary, workers, calls, linkOf, refuse: (v: boolean) => void (confirm = !v) };
}

const req = (subject: string, headers: Record<string, string>, extra: Partial<McpRequest> = {}): McpRequest => ({
  subject,
  route: "r",
  path: "/mcp",
  requestMethod: "POST",
  method: "POST",
  bodyBytes: 0,
  headers,
  parsedBody: undefined,
  ...extra,
});
const initialize = { jsonrpc: "2.0", id: 0, method: "initialize", params: {} };

async function open(w: ClusterMcpSessions, subject: string, id: string): Promise<void> {
  const role = w.roleOf(req(subject, {}, { parsedBody: initialize }))!;
  await w.answered(role, 200, { "mcp-session-id": id });
}

describe("ClusterMcpSessions", () => {
  it("a session opened on one worker is known on the other before its answer is relayed", async () => {
    const { workers: [a, b] } = cluster(2);
    await open(a!, "agent", "s1");
    expect(await b!.admit(req("agent", { "mcp-session-id": "s1", "last-event-id": "e1" }), [])).toMatchObject({ ok: true, mask: [] });
    expect(await b!.admit(req("other", { "mcp-session-id": "s1" }), [])).toMatchObject({ ok: false, reason: expect.stringMatching(/another agent/) });
    // Its DELETE is the session's end there too.
    expect(b!.roleOf(req("agent", { "mcp-session-id": "s1" }, { requestMethod: "DELETE", method: "DELETE" }))).toMatchObject({ end: "s1" });
  });

  it("rules one worker's exchange added mask every later exchange on the other, with no call for what is known", async () => {
    const { workers: [a, b], calls } = cluster(2);
    await open(a!, "agent", "s1");
    expect(await a!.admit(req("agent", { "mcp-session-id": "s1" }), [EMAIL])).toMatchObject({ ok: true, mask: [EMAIL] });
    calls.length = 0;
    const got = b!.admit(req("agent", { "mcp-session-id": "s1" }), []);
    expect(got).toMatchObject({ ok: true, mask: [EMAIL] }); // not a promise: answered from the copy
    expect(a!.admit(req("agent", { "mcp-session-id": "s1" }), [EMAIL])).toMatchObject({ ok: true, mask: [EMAIL] });
    expect(calls).toEqual([]);
    expect(await b!.admit(req("agent", { "mcp-session-id": "s1" }), [SSN])).toMatchObject({ ok: true, mask: [EMAIL, SSN] });
    expect(a!.admit(req("agent", { "mcp-session-id": "s1" }), [])).toMatchObject({ ok: true, mask: [EMAIL, SSN] });
  });

  it("a stream open on one worker masks its next events with rules booked on the other; tasks and resumptions have every worker's", async () => {
    const { workers: [a, b] } = cluster(2);
    await open(a!, "agent", "s1");
    await open(a!, "agent", "s2");
    const stream = await a!.admit(req("agent", { "mcp-session-id": "s1" }), []);
    if (!stream.ok) throw new Error("refused");
    expect(stream.live!()).toEqual([]);
    await b!.admit(req("agent", { "mcp-session-id": "s1" }), [EMAIL]);
    expect(stream.live!()).toEqual([EMAIL]);
    // A task made outside any session on one worker; its result read on the other.
    const task = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "export", task: {} } };
    await b!.admit(req("agent", {}, { parsedBody: task }), [SSN]);
    expect(await a!.admit(req("other", {}, { parsedBody: { jsonrpc: "2.0", id: 2, method: "tasks/result", params: { taskId: "t" } } }), [])).toMatchObject({ ok: true, mask: [EMAIL, SSN] });
    expect(await a!.admit(req("agent", { "mcp-session-id": "s2", "last-event-id": "e1" }), [])).toMatchObject({ ok: true, mask: [EMAIL, SSN] });
  });

  it("a session first seen in use on one worker is that agent's on every worker", async () => {
    const { workers: [a, b] } = cluster(2);
    expect(await a!.admit(req("agent", { "mcp-session-id": "s7" }), [])).toMatchObject({ ok: true, mask: [] });
    expect(await b!.admit(req("other", { "mcp-session-id": "s7" }), [])).toMatchObject({ ok: false });
    // Not issued through regate: its resumption is refused on either worker.
    expect(await b!.admit(req("agent", { "mcp-session-id": "s7", "last-event-id": "e1" }), [])).toMatchObject({ ok: false, reason: expect.stringMatching(/Last-Event-ID/) });
  });

  it("a worker that starts reads every session before it serves", async () => {
    const c = cluster(1);
    await open(c.workers[0]!, "agent", "s1");
    await c.workers[0]!.admit(req("agent", { "mcp-session-id": "s1" }), [EMAIL]);
    const late = await new ClusterMcpSessions(c.linkOf(), log).start();
    expect(late.admit(req("agent", { "mcp-session-id": "s1", "last-event-id": "e1" }), [])).toMatchObject({ ok: true, mask: [EMAIL] });
  });

  it("keeps the least-recently-used bound and the forgotten rules' floor across workers", async () => {
    const { workers: [a, b] } = cluster(2, 2);
    await open(a!, "agent", "real");
    await a!.admit(req("agent", { "mcp-session-id": "real" }), [EMAIL]);
    await b!.admit(req("agent", { "mcp-session-id": "made-up-1" }), []);
    await b!.admit(req("agent", { "mcp-session-id": "made-up-2" }), []);
    // Forgotten by the primary, and so by every copy.
    expect(a!.size).toBe(2);
    expect(a!.roleOf(req("agent", { "mcp-session-id": "real" }, { requestMethod: "DELETE", method: "DELETE" }))).toBeUndefined();
    expect(await a!.admit(req("agent", { "mcp-session-id": "real" }), [])).toMatchObject({ ok: true, mask: [EMAIL] });
    expect(await b!.admit(req("other", { "mcp-session-id": "fresh" }), [])).toMatchObject({ ok: true, mask: [] });
  });

  it("fails closed: a change not confirmed by every worker refuses the exchange, and is shared again by the next", async () => {
    const c = cluster(2);
    const [a, b] = c.workers;
    await open(a!, "agent", "s1");
    c.refuse(true);
    expect(await a!.admit(req("agent", { "mcp-session-id": "s1" }), [EMAIL])).toMatchObject({ ok: false, unavailable: true });
    await expect(open(a!, "agent", "s2")).rejects.toThrow(/did not confirm/);
    c.refuse(false);
    // The refused call was never forwarded; its retry finds the rules booked, and shares them before it goes.
    expect(await a!.admit(req("agent", { "mcp-session-id": "s1" }), [EMAIL])).toMatchObject({ ok: true, mask: [EMAIL] });
    c.calls.length = 0;
    expect(b!.admit(req("agent", { "mcp-session-id": "s1" }), [])).toMatchObject({ ok: true, mask: [EMAIL] });
    expect(c.calls).toEqual([]);
  });

  it("fails closed when the primary does not answer in time", async () => {
    const timed: McpLink = { handle: () => undefined, request: (_op, _b, ms) => new Promise((_r, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)) };
    const w = new ClusterMcpSessions(timed, log, 50);
    expect(await w.admit(req("agent", { "mcp-session-id": "s1" }), [EMAIL])).toMatchObject({ ok: false, unavailable: true });
    const role = w.roleOf(req("agent", {}, { parsedBody: initialize }))!;
    await expect(w.answered(role, 200, { "mcp-session-id": "s1" })).rejects.toThrow(/no answer/);
  });
});
