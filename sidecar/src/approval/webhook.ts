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
      (err: unknown) => log.warn({ err, approval_id: a.id }, "approval webhook failed"),
    );
  };
}
