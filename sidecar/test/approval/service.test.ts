import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { ApprovalService, approvalHash, slackNotifier, type Approval } from "../../src/approval/index.js";
import type { Decision, SessionInput } from "../../src/decision/index.js";
import { createLogger } from "../../src/log.js";
import type { Statement } from "../../src/postgres/index.js";
import { Writable } from "node:stream";

const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const session = { id: "s1", principal: { subject: "agent", groups: [], claims: {}, auth_method: "token" }, client: { address: "127.0.0.1", port: 1 }, target: "db", started_at: "" } as SessionInput;
const statement = (sql: string, parameters?: unknown[]) => ({ seq: 1, message: "query", sql, ...(parameters ? { parameters } : {}), started_ns: 0n, result: { command_tags: [], rows: 0, bytes: 0, masked_values: 0, duration_ms: 0 }, completed: false }) as Statement;
const decision = (timeout: number): Decision => ({ decision_id: "d1", outcome: "approve", reasons: ["r"], mask: [], approve: { reason: "r", approvers: "dba", timeout_seconds: timeout }, dry_run: false, revision: "x" });

describe("approvalHash", () => {
  const base = ["agent", "db", "UPDATE t SET a = $1", [{ value: "1", format: "text", type_oid: 0 }]] as const;
  it.each([
    ["principal", ["other", base[1], base[2], base[3]]],
    ["target", [base[0], "db2", base[2], base[3]]],
    ["statement text", [base[0], base[1], "UPDATE t SET a = $1 ", base[3]]],
    ["parameter value", [base[0], base[1], base[2], [{ value: "2", format: "text", type_oid: 0 }]]],
    ["NULL instead of ''", [base[0], base[1], base[2], [{ value: null, format: "text", type_oid: 0 }]]],
    ["no parameters", [base[0], base[1], base[2], undefined]],
    ["text split differently", ["agen", "tdb", base[2], base[3]]],
  ] as const)("changes with the %s", (_name, args) => {
    expect(approvalHash(...(args as unknown as Parameters<typeof approvalHash>))).not.toBe(approvalHash(...(base as unknown as Parameters<typeof approvalHash>)));
  });
  it("is stable", () => {
    expect(approvalHash("a", "b", "c", undefined)).toBe(approvalHash("a", "b", "c", undefined));
  });
});

describe("hold and expiry", () => {
  const make = (idleMs: number) => new ApprovalService({ log, timeoutSeconds: 60, holdMaxSeconds: 45, idleMarginSeconds: 1, idleInTransactionMs: async () => idleMs, reviewUrl: "http://r" });
  /** [hold seconds named in the notice, approval lifetime in seconds] */
  const held = async (svc: ApprovalService, approve: Record<string, unknown>, inTx: boolean) => {
    const ac = new AbortController();
    let notice = "";
    const d = { ...decision(0), approve: { reason: "r", approvers: "", ...approve } } as Decision;
    const p = svc.hold(session, statement("UPDATE t SET a = 1"), d, { notify: (b) => (notice = b.toString("utf8")), signal: ac.signal, in_transaction: inTx });
    await new Promise((r) => setTimeout(r, 10));
    const a = svc.list("pending")[0]!;
    ac.abort();
    await p;
    return [Number(/held up to ([\d.]+)s/.exec(notice)![1]), (Date.parse(a.expires_at) - Date.parse(a.requested_at)) / 1000];
  };
  it.each([
    ["the policy's timeout, the config's hold maximum", { timeout_seconds: 120 }, false, 10_000, [45, 120]],
    ["config when the policy gives no timeout", {}, false, 10_000, [45, 60]],
    ["a timeout below the hold maximum ends the hold", { timeout_seconds: 10 }, false, 10_000, [10, 10]],
    ["the policy lowers the hold maximum", { timeout_seconds: 120, hold_max_seconds: 3 }, false, 10_000, [3, 120]],
    ["the policy cannot raise it", { timeout_seconds: 120, hold_max_seconds: 100 }, false, 10_000, [45, 120]],
    ["the hold capped below the idle timeout in a block", { timeout_seconds: 120 }, true, 10_000, [9, 120]],
    ["half the idle timeout when the margin is larger", { timeout_seconds: 120 }, true, 1_000, [0.5, 120]],
    ["not capped outside a block", { timeout_seconds: 120 }, false, 1_000, [45, 120]],
    ["not capped when the idle timeout is off", { timeout_seconds: 120 }, true, 0, [45, 120]],
  ] as const)("%s", async (_n, approve, inTx, idle, expected) => {
    expect(await held(make(idle), approve, inTx)).toEqual(expected);
  });
});

describe("withdrawal", () => {
  it("a signal already aborted never creates an approval", async () => {
    const svc = new ApprovalService({ log, timeoutSeconds: 60, idleMarginSeconds: 1, idleInTransactionMs: async () => 0, reviewUrl: "http://r" });
    const ac = new AbortController();
    ac.abort();
    const d = await svc.hold(session, statement("UPDATE t SET a = 1"), decision(10), { notify: () => {}, signal: ac.signal, in_transaction: false });
    expect(d).toMatchObject({ outcome: "deny", error_code: "APPROVAL_WITHDRAWN" });
    expect(svc.list()).toEqual([]);
  });
});

describe("withdraw(filter, by)", () => {
  it("ends only the matching pending approvals, refuses their statements and counts them", async () => {
    const svc = new ApprovalService({ log, timeoutSeconds: 60, idleMarginSeconds: 1, idleInTransactionMs: async () => 0, reviewUrl: "http://r" });
    const other = { ...session, principal: { ...session.principal, subject: "other" } } as SessionInput;
    const opts = () => ({ notify: () => {}, signal: new AbortController().signal, in_transaction: false });
    const mine = svc.hold(session, statement("UPDATE t SET a = 1"), decision(10), opts());
    const theirs = svc.hold(other, statement("UPDATE t SET a = 2"), decision(10), opts());
    await new Promise((r) => setTimeout(r, 10));
    expect(svc.withdraw((a) => a.principal === "agent", "lock")).toBe(1);
    expect(await mine).toMatchObject({ outcome: "deny", error_code: "APPROVAL_WITHDRAWN" });
    expect(svc.list("withdrawn")).toMatchObject([{ principal: "agent", comment: "lock" }]);
    expect(svc.list("pending")).toMatchObject([{ principal: "other" }]);
    expect(svc.withdraw((a) => a.principal === "agent", "lock")).toBe(0);
    expect(svc.withdraw(() => true, "lock")).toBe(1);
    expect(await theirs).toMatchObject({ outcome: "deny", error_code: "APPROVAL_WITHDRAWN" });
  });
});

describe("chat webhook", () => {
  it("POSTs the pending approval as a Slack-style message", async () => {
    const got: { body: any; type: string | undefined }[] = [];
    const server = createServer((req, res) => {
      let b = "";
      req.on("data", (c) => (b += c));
      req.on("end", () => {
        got.push({ body: JSON.parse(b), type: req.headers["content-type"] });
        res.end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const svc = new ApprovalService({ log, timeoutSeconds: 60, idleMarginSeconds: 1, idleInTransactionMs: async () => 0, reviewUrl: "http://review/ui", onRequested: slackNotifier(`http://127.0.0.1:${port}/hook`, "http://review/ui", log) });
      const ac = new AbortController();
      const p = svc.hold(session, statement("UPDATE payments SET a = $1", [{ value: "4111111111111111", format: "text", type_oid: 0 }]), decision(10), { notify: () => {}, signal: ac.signal, in_transaction: false });
      const deadline = Date.now() + 5000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const a = svc.list("pending")[0] as Approval;
      expect(got[0]!.type).toBe("application/json");
      expect(got[0]!.body.text).toContain(`asks approval ${a.id}`);
      expect(got[0]!.body.text).toContain("UPDATE payments SET a = $1");
      // Parameter values never leave for the chat service.
      expect(JSON.stringify(got[0]!.body)).not.toContain("4111111111111111");
      expect(got[0]!.body.text).toContain("http://review/ui");
      expect(got[0]!.body.approval.sha256).toBe(a.sha256);
      ac.abort();
      await p;
    } finally {
      server.close();
    }
  });
});

describe("grants", () => {
  const subject = (sql: string) => ({
    kind: "postgres" as const,
    session_id: "s1",
    principal: "agent",
    target: "db",
    statement: { message: "query", sql },
    sha256: approvalHash("agent", "db", sql, undefined),
    current: () => approvalHash("agent", "db", sql, undefined),
    in_transaction: false,
  });
  const deferred = (grant: number): Decision => ({ ...decision(60), approve: { reason: "r", approvers: "", timeout_seconds: 60, mode: "defer", grant_seconds: grant } });
  const ask = (svc: ApprovalService, sql: string, grant: number) => svc.request(subject(sql), deferred(grant), { signal: new AbortController().signal });
  const idOf = (d: Decision) => /apr_[0-9a-f]{16}/.exec(d.reasons[0]!)![0];
  const service = () => new ApprovalService({ log, timeoutSeconds: 60, idleMarginSeconds: 1, idleInTransactionMs: async () => 0, reviewUrl: "http://r" });

  it("one identical re-run within the window, then a new approval", async () => {
    const svc = service();
    const first = await ask(svc, "UPDATE t SET a = 1", 60);
    expect(first).toMatchObject({ outcome: "deny", error_code: "APPROVAL_PENDING" });
    const id = idOf(first);
    expect(await svc.approve(id, "alice", svc.get(id)!.sha256)).toMatchObject({ ok: true });
    expect((await ask(svc, "UPDATE t SET a = 2", 60)).error_code).toBe("APPROVAL_PENDING");
    expect((await ask(svc, "UPDATE t SET a = 1", 60)).outcome).toBe("allow");
    const again = await ask(svc, "UPDATE t SET a = 1", 60);
    expect(again.error_code).toBe("APPROVAL_PENDING");
    expect(idOf(again)).not.toBe(id);
    svc.close();
  });

  it("a grant not used within grant_seconds is gone", async () => {
    const svc = service();
    const id = idOf(await ask(svc, "UPDATE t SET a = 3", 1));
    await svc.approve(id, "alice", svc.get(id)!.sha256);
    await new Promise((r) => setTimeout(r, 1100));
    const late = await ask(svc, "UPDATE t SET a = 3", 1);
    expect(late.error_code).toBe("APPROVAL_PENDING");
    expect(idOf(late)).not.toBe(id);
    expect(svc.get(id)!.used_at).toBeUndefined();
    svc.close();
  });

  it("the requester never votes, even through a reviewer entry with its name", () => {
    const svc = new ApprovalService({ log, timeoutSeconds: 60, idleMarginSeconds: 1, idleInTransactionMs: async () => 0, reviewUrl: "http://r", agents: ["bot-2"] });
    return ask(svc, "UPDATE t SET a = 4", 60).then(async (d) => {
      const a = svc.get(idOf(d))!;
      expect(await svc.approve(a.id, "agent", a.sha256)).toEqual({ ok: false, error: "self_approval" });
      expect(await svc.approve(a.id, { name: "bot-2", groups: [] }, a.sha256)).toEqual({ ok: false, error: "self_approval" });
      expect(await svc.refuse(a.id, "agent", "no")).toEqual({ ok: false, error: "self_approval" });
      expect(svc.get(a.id)!.status).toBe("pending");
      svc.close();
    });
  });
});
