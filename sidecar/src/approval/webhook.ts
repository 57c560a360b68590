import type { Logger } from "../log.js";
import type { Approval } from "./types.js";

/**
 * Posts each new pending approval to a Slack-style incoming webhook (fire and forget, failures logged).
 * Parameter values stay on the admin listener: a chat service gets the statement text and the digest only.
 */
export function slackNotifier(url: string, reviewUrl: string, log: Logger, sign?: (body: string) => Record<string, string>): (a: Approval) => void {
  return (a) => {
    const text = `regate: ${a.principal} on ${a.target} asks approval ${a.id}: ${a.reason}\n\`\`\`${a.statement.sql.slice(0, 2000)}\`\`\`\nExpires ${a.expires_at}. Review: ${reviewUrl}`;
    const body = JSON.stringify({ text, approval: { ...a, statement: { message: a.statement.message, sql: a.statement.sql } } });
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...sign?.(body) }, body, signal: AbortSignal.timeout(5000) }).then(
      (res) => {
        if (!res.ok) log.warn({ approval_id: a.id, status: res.status }, "approval webhook refused the message");
      },
      (err: unknown) => log.warn({ error: webhookError(err, url), approval_id: a.id }, "approval webhook failed"),
    );
  };
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
