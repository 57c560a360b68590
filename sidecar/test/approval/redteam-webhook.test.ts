// Red-team case: an incoming-webhook URL is a credential (whoever has it posts to the channel), so a failed
// notification must not write it into regate's log, however fetch words its error.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { slackInteractiveNotifier } from "../../src/admin/index.js";
import { ApprovalService, slackNotifier } from "../../src/approval/index.js";
import type { Decision, SessionInput } from "../../src/decision/index.js";
import { createLogger } from "../../src/log.js";
import type { Statement } from "../../src/postgres/index.js";
import { until } from "../support/wait.js";

const session = { id: "s1", principal: { subject: "agent", groups: [], claims: {}, auth_method: "token" }, client: { address: "127.0.0.1", port: 1 }, target: "db", started_at: "" } as SessionInput;
const statement = { seq: 1, message: "query", sql: "UPDATE payments SET amount = 1 WHERE id = 1", started_ns: 0n, result: { command_tags: [], rows: 0, bytes: 0, masked_values: 0, duration_ms: 0 }, completed: false } as Statement;
const decision: Decision = { decision_id: "d1", outcome: "approve", reasons: ["r"], mask: [], approve: { reason: "r", approvers: "", timeout_seconds: 60, mode: "defer" }, dry_run: false, revision: "x" };

// Without a scheme: fetch cannot parse it and quotes it whole. Unroutable: nothing is ever sent.
const SECRET = "XyZ9secretPathPart";
const URLS = [`hooks.slack.invalid/services/T000/B000/${SECRET}`, `http://127.0.0.1:1/services/T000/B000/${SECRET}`];

describe.each([
  ["plain webhook", slackNotifier],
  ["Slack buttons", slackInteractiveNotifier],
] as const)("a failed notification (%s)", (_name, notifier) => {
  it.each(URLS)("is logged without the webhook URL: %s", async (url) => {
    const lines: string[] = [];
    const log = createLogger({ level: "debug", destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString("utf8")), cb()) }) });
    const svc = new ApprovalService({ log, timeoutSeconds: 60, idleMarginSeconds: 1, idleInTransactionMs: async () => 0, reviewUrl: "http://review/ui", onRequested: notifier(url, "http://review/ui", log) });
    const d = await svc.hold(session, statement, decision, { notify: () => {}, signal: new AbortController().signal, in_transaction: false });
    expect(d.error_code).toBe("APPROVAL_PENDING");
    await until(() => lines.some((l) => /message failed|webhook failed/.test(l)), 8000);
    expect(lines.join("\n")).not.toContain(SECRET);
    await svc.close();
  });
});
