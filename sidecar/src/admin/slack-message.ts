import { webhookError, type Approval } from "../approval/index.js";
import type { Logger } from "../log.js";

export const SLACK_APPROVE = "regate_approve";
export const SLACK_REFUSE = "regate_refuse";

/** What a button carries back: the approval and the digest of the statement the reviewer was shown. */
export interface SlackButtonValue {
  id: string;
  sha256: string;
}

/**
 * A Slack message (Block Kit) for a new pending approval, with Approve and Refuse buttons. The Approve
 * button carries the statement's SHA-256, so what is approved from Slack is exactly what Slack showed.
 * Parameter values stay on the admin listener, as with the plain webhook (approval/webhook.ts).
 */
export function slackApprovalMessage(a: Approval, reviewUrl: string): { text: string; blocks: unknown[] } {
  const sql = a.statement.sql.length > 2500 ? `${a.statement.sql.slice(0, 2500)}…` : a.statement.sql;
  const value = JSON.stringify({ id: a.id, sha256: a.sha256 } satisfies SlackButtonValue);
  const text = `regate: ${a.principal} on ${a.target} asks approval ${a.id}: ${a.reason}`;
  return {
    text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `*${escape(text)}*\nExpires ${a.expires_at}. sha256 \`${a.sha256}\`` } },
      { type: "section", text: { type: "mrkdwn", text: `\`\`\`${sql.replace(/```/g, "`\u200b``")}\`\`\`` } },
      {
        type: "actions",
        block_id: `regate_${a.id}`,
        elements: [
          { type: "button", action_id: SLACK_APPROVE, style: "primary", text: { type: "plain_text", text: "Approve" }, value },
          {
            type: "button",
            action_id: SLACK_REFUSE,
            style: "danger",
            text: { type: "plain_text", text: "Refuse" },
            value,
            confirm: { title: { type: "plain_text", text: "Refuse?" }, text: { type: "plain_text", text: "The agent is told a reviewer refused it." }, confirm: { type: "plain_text", text: "Refuse" }, deny: { type: "plain_text", text: "Back" } },
          },
          { type: "button", action_id: "regate_open", text: { type: "plain_text", text: "Open in regate" }, url: reviewUrl },
        ],
      },
    ],
  };
}

/** Posts slackApprovalMessage to an incoming webhook (fire and forget; failures logged). */
export function slackInteractiveNotifier(url: string, reviewUrl: string, log: Logger, sign?: (body: string) => Record<string, string>): (a: Approval) => void {
  return (a) => {
    const body = JSON.stringify(slackApprovalMessage(a, reviewUrl));
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...sign?.(body) }, body, signal: AbortSignal.timeout(5000) }).then(
      (res) => {
        if (!res.ok) log.warn({ approval_id: a.id, status: res.status }, "Slack refused the approval message");
      },
      (err: unknown) => log.warn({ error: webhookError(err, url), approval_id: a.id }, "Slack approval message failed"),
    );
  };
}

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
