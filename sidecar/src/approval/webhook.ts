import type { Logger } from "../log.js";
import { reviewUrlOf, type ReviewUrl } from "./review-url.js";
import type { Approval } from "./types.js";

/** The statement is cut past this many characters in the chat text (the whole of it is in `approval`). */
const SHOWN_CHARS = 2000;

/**
 * Posts each new pending approval to a Slack-style incoming webhook (fire and forget, failures logged).
 * Parameter values stay on the admin listener: a chat service gets the statement text and the digest only.
 */
export function slackNotifier(url: string, reviewUrl: ReviewUrl, log: Logger, sign?: (body: string) => Record<string, string>): (a: Approval) => void {
  return (a) => {
    const body = JSON.stringify({ text: chatText(a, reviewUrlOf(reviewUrl)), approval: { ...a, statement: { message: a.statement.message, sql: a.statement.sql, ...(a.statement.notes ? { notes: a.statement.notes } : {}) } } });
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...sign?.(body) }, body, signal: AbortSignal.timeout(5000) }).then(
      (res) => {
        if (!res.ok) log.warn({ approval_id: a.id, status: res.status }, "approval webhook refused the message");
      },
      (err: unknown) => log.warn({ error: webhookError(err, url), approval_id: a.id }, "approval webhook failed"),
    );
  };
}

/**
 * The chat text (Slack mrkdwn). What the agent or the policy wrote is escaped (`<!channel>`, `<url|label>`
 * and entities are Slack's syntax) and the statement cannot close its code block; what is not shown (the
 * tail of a long statement, parameter values, an HTTP body) is said in words, not left to an ellipsis.
 */
export function chatText(a: Approval, reviewUrl: string): string {
  const sql = a.statement.sql;
  const shown = sql.length > SHOWN_CHARS ? `${sql.slice(0, SHOWN_CHARS)}⟨cut: ${sql.length - SHOWN_CHARS} more characters, shown in regate⟩` : sql;
  const n = a.statement.parameters?.length ?? 0;
  const unseen = n === 0 ? [] : [a.kind === "http" ? "The request body is not sent to chat: read it in regate before approving." : `The values of ${n} parameter${n > 1 ? "s are" : " is"} not sent to chat: read them in regate before approving.`];
  const notes = [...(a.statement.notes ?? []), ...unseen].map((t) => `\n• ${mrkdwn(t)}`).join("");
  return `regate: ${mrkdwn(a.principal)} on ${mrkdwn(a.target)} asks approval ${a.id}: ${mrkdwn(a.reason)}${notes}\n\`\`\`\n${mrkdwn(shown).replace(/`/g, "`\u200b")}\n\`\`\`\nExpires ${a.expires_at}. Review: ${reviewUrl}`;
}

function mrkdwn(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * What a failed POST to the webhook says, without the URL: an incoming-webhook URL is a credential, and
 * fetch names it in its errors (an unparsable URL is quoted whole, in the message and in its cause).
 */
export function webhookError(err: unknown, url: string): { name: string; message: string; code?: string } {
  const hide = (text: string) => (url ? text.split(url).join("[webhook url]") : text);
  const e = err as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  const cause = e?.cause;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const causeText = typeof cause?.message === "string" ? `: ${hide(cause.message)}` : "";
  return { name: typeof e?.name === "string" ? e.name : "Error", message: hide(typeof e?.message === "string" ? e.message : String(err)) + causeText, ...(code ? { code } : {}) };
}
