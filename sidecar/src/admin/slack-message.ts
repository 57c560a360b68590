import { hasRightToLeft, reviewUrlOf, webhookError, type Approval, type ReviewUrl } from "../approval/index.js";
import type { Logger } from "../log.js";

export const SLACK_APPROVE = "regate_approve";
export const SLACK_REFUSE = "regate_refuse";

/** What a button carries back: the approval and the digest of the statement the reviewer was shown. */
export interface SlackButtonValue {
  id: string;
  sha256: string;
}

/** Slack shows at most 3,000 characters in a section; the statement gets this many, the rest is said to be cut. */
const SHOWN_CHARS = 2500;

/**
 * Why a Slack message cannot show everything the approval covers, or undefined when it shows it all.
 * Parameter values and HTTP bodies are never sent to Slack, a long statement is cut, and right-to-left letters
 * may reorder what Slack draws: approving from Slack would approve what the reviewer did not read, so such
 * an approval is approved in regate only.
 */
export function notShownInSlack(a: Approval): string | undefined {
  const n = a.statement.parameters?.length ?? 0;
  if (n > 0 && a.kind === "http") return "the request body is not sent to Slack";
  if (n > 0) return `the values of ${n} parameter${n > 1 ? "s" : ""} ($1${n > 1 ? `…$${n}` : ""}) are not sent to Slack`;
  if (a.statement.sql.length > SHOWN_CHARS) return `the statement is ${a.statement.sql.length} characters and Slack shows the first ${SHOWN_CHARS}`;
  // Slack lays text out by the bidi algorithm and regate cannot turn that off there: between two Hebrew or
  // Arabic letters, numbers and punctuation are drawn in reverse order, so what Slack shows is not what runs.
  if (hasRightToLeft(a.statement.sql)) return "the statement has right-to-left letters, and Slack may draw the text between them in reverse order";
  return undefined;
}

/**
 * A Slack message (Block Kit) for a new pending approval, with Approve and Refuse buttons. The Approve
 * button carries the statement's SHA-256, and is offered only when the message shows everything the digest
 * covers (notShownInSlack): what is approved from Slack is exactly what Slack showed. Everything the agent
 * or the policy wrote (statement, reason, names) is in plain_text objects, which Slack neither formats nor
 * turns into mentions or links; the statement is the review view (invisible characters marked) and its
 * notes come first.
 */
export function slackApprovalMessage(a: Approval, reviewUrl: string): { text: string; blocks: unknown[] } {
  const whole = a.statement.sql.length <= SHOWN_CHARS;
  const sql = whole ? a.statement.sql : `${a.statement.sql.slice(0, SHOWN_CHARS)}⟨cut: ${a.statement.sql.length - SHOWN_CHARS} more characters, shown in regate⟩`;
  const value = JSON.stringify({ id: a.id, sha256: a.sha256 } satisfies SlackButtonValue);
  const text = `regate: ${a.principal} on ${a.target} asks approval ${a.id}: ${a.reason}`;
  const missing = notShownInSlack(a);
  const plain = (t: string) => ({ type: "section", text: { type: "plain_text", text: t.slice(0, 3000), emoji: false } });
  const refuse = {
    type: "button",
    action_id: SLACK_REFUSE,
    style: "danger",
    text: { type: "plain_text", text: "Refuse" },
    value,
    confirm: { title: { type: "plain_text", text: "Refuse?" }, text: { type: "plain_text", text: "The agent is told a reviewer refused it." }, confirm: { type: "plain_text", text: "Refuse" }, deny: { type: "plain_text", text: "Back" } },
  };
  const approve = { type: "button", action_id: SLACK_APPROVE, style: "primary", text: { type: "plain_text", text: "Approve" }, value };
  return {
    text: escapeMrkdwn(text),
    blocks: [
      plain(text),
      { type: "context", elements: [{ type: "mrkdwn", text: `Expires ${a.expires_at}. sha256 \`${a.sha256}\`` }] },
      ...(a.statement.notes?.length ? [plain(`Read before approving:\n${a.statement.notes.map((n) => `• ${n}`).join("\n")}`)] : []),
      plain(`${a.kind === "http" ? "Request" : "Statement"} as it would run (⟨…⟩ marks are regate's):\n${sql}`),
      ...(missing ? [plain(`Not everything that would run is shown here: ${missing}. Read and approve it in regate; Refuse works here.`)] : []),
      {
        type: "actions",
        block_id: `regate_${a.id}`,
        elements: [...(missing ? [] : [approve]), refuse, { type: "button", action_id: "regate_open", text: { type: "plain_text", text: "Open in regate" }, url: reviewUrl }],
      },
    ],
  };
}

/** Posts slackApprovalMessage to an incoming webhook (fire and forget; failures logged). */
export function slackInteractiveNotifier(url: string, reviewUrl: ReviewUrl, log: Logger, sign?: (body: string) => Record<string, string>): (a: Approval) => void {
  return (a) => {
    const body = JSON.stringify(slackApprovalMessage(a, reviewUrlOf(reviewUrl)));
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...sign?.(body) }, body, signal: AbortSignal.timeout(5000) }).then(
      (res) => {
        if (!res.ok) log.warn({ approval_id: a.id, status: res.status }, "Slack refused the approval message");
      },
      (err: unknown) => log.warn({ error: webhookError(err, url), approval_id: a.id }, "Slack approval message failed"),
    );
  };
}

/** Slack reads `<…>` as a mention or a link and `&` as an entity, in mrkdwn text and in the notification text. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
