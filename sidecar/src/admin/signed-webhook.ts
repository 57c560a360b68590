import { createHmac, timingSafeEqual } from "node:crypto";
import type { ActResult, Approval, ApprovalService, ReviewerIdentity } from "../approval/index.js";
import type { Logger } from "../log.js";
import { readBody, sendJson, type AdminHandler } from "./bearer.js";
import { notShownInSlack } from "./slack-message.js";

export const WEBHOOK_PATH = "/approvals/webhook";
/** Headers of a signed regate webhook, both ways. */
export const TIMESTAMP_HEADER = "x-regate-timestamp";
export const SIGNATURE_HEADER = "x-regate-signature";

/** `v1=` + hex HMAC-SHA256(secret, `v1:{timestamp}:{body}`): Slack's scheme, with regate's own version tag. */
export function webhookSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return `v1=${createHmac("sha256", secret).update(`v1:${timestamp}:`).update(body).digest("hex")}`;
}

/** Headers that sign an outgoing notification, for tools that check where it came from. */
export function signedHeaders(secret: string, body: string, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  const ts = String(nowSeconds);
  return { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: webhookSignature(secret, ts, body) };
}

/** Why a request is not signed with `secret` within `maxAge` seconds; undefined when it is. */
export function checkSignature(secret: string, ts: string, sig: string, raw: Buffer, nowSeconds: number, maxAge: number): string | undefined {
  if (!/^\d{1,12}$/.test(ts)) return `missing or malformed ${TIMESTAMP_HEADER}`;
  if (Math.abs(nowSeconds - Number(ts)) > maxAge) return `stale ${TIMESTAMP_HEADER} (replay window)`;
  const expected = Buffer.from(webhookSignature(secret, ts, raw));
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return `bad ${SIGNATURE_HEADER}`;
  return undefined;
}

const ACT_STATUS: Partial<Record<Extract<ActResult, { ok: false }>["error"], number>> = { not_found: 404, reason_required: 400, not_an_approver: 403, self_approval: 403 };

export interface SignedWebhookOptions {
  signingSecret: string;
  /** Configured reviewers by name: the tool names who acted, and that reviewer's groups apply. */
  reviewers: ReadonlyMap<string, ReviewerIdentity>;
  maxAgeSeconds: number;
  /** The notifications are Slack messages (approvals.slack): they cut a long statement, as well as leaving out values. */
  slackMessages?: boolean;
  now?: () => number;
}

/**
 * Why the notification a tool received cannot have shown everything an approval's digest covers, or undefined
 * when it shows it all. The JSON notification carries the statement whole but no parameter value and no HTTP
 * body (those stay on the admin listener); a Slack message also cuts a long statement. A tool that approves
 * with the digest it received would approve values nobody was shown: such an approval is approved in regate.
 */
export function notShownInNotification(a: Approval, slackMessages: boolean): string | undefined {
  if (slackMessages) return notShownInSlack(a);
  const n = a.statement.parameters?.length ?? 0;
  if (n > 0 && a.kind === "http") return "the request body is not sent in the notification";
  if (n > 0) return `the values of ${n} parameter${n > 1 ? "s" : ""} ($1${n > 1 ? `…$${n}` : ""}) are not sent in the notification`;
  return undefined;
}

/**
 * A generic signed JSON endpoint for tools other than Slack (an incident bot, a ticketing workflow):
 * `POST /approvals/webhook` with `{id, action: "approve" | "refuse", reviewer, sha256?, comment?}`,
 * signed as regate signs its notifications. The tool holds the secret and names the reviewer, who must
 * be configured; approving needs the digest the tool showed, and is refused (409) for an approval whose
 * notification could not show all the digest covers (notShownInNotification). Anything else changes nothing.
 */
export function signedWebhookHandler(service: ApprovalService, opts: SignedWebhookOptions, log: Logger): AdminHandler {
  const now = opts.now ?? (() => Date.now() / 1000);
  return (req, res, url) => {
    if (url !== WEBHOOK_PATH) return false;
    if (req.method !== "POST") return sendJson(res, 405, { error: "method not allowed" }), true;
    readBody(req, 64 * 1024).then(
      async (raw) => {
        const why = checkSignature(opts.signingSecret, String(req.headers[TIMESTAMP_HEADER] ?? ""), String(req.headers[SIGNATURE_HEADER] ?? ""), raw, now(), opts.maxAgeSeconds);
        if (why) {
          log.warn({ event: "approval_webhook_refused", why }, "approval webhook refused");
          return sendJson(res, 401, { error: why });
        }
        let body: { id?: unknown; action?: unknown; reviewer?: unknown; sha256?: unknown; comment?: unknown };
        try {
          body = JSON.parse(raw.toString("utf8")) as typeof body;
        } catch {
          return sendJson(res, 400, { error: "body is not JSON" });
        }
        const { id, action, reviewer: name } = body;
        const comment = typeof body.comment === "string" ? body.comment : undefined;
        if (typeof id !== "string" || (action !== "approve" && action !== "refuse") || typeof name !== "string") {
          return sendJson(res, 400, { error: 'expected {id, action: "approve" | "refuse", reviewer, sha256 (approve), comment (refuse)}' });
        }
        const reviewer = opts.reviewers.get(name);
        if (!reviewer) return sendJson(res, 403, { error: `${name} is not a regate reviewer (approvals.reviewers)` });
        if (action === "approve" && typeof body.sha256 !== "string") return sendJson(res, 400, { error: "approve needs the sha256 the reviewer saw" });
        if (action === "approve") {
          let a: Approval | undefined;
          try {
            a = await service.read(id);
          } catch {
            return sendJson(res, 503, { error: "store_unavailable" });
          }
          const missing = a && notShownInNotification(a, opts.slackMessages === true);
          if (missing) {
            log.warn({ event: "approval_webhook_refused", why: "not shown in the notification", reviewer: reviewer.name, approval_id: id }, "approval webhook refused");
            return sendJson(res, 409, { error: "not_shown_in_notification", next_step: `${missing}: read and approve it on regate's approvals page (/approvals/ui on the admin listener); refusing works here` });
          }
        }
        let result: ActResult;
        try {
          result = action === "approve" ? await service.approve(id, reviewer, body.sha256 as string, comment) : await service.refuse(id, reviewer, comment ?? "");
        } catch {
          return sendJson(res, 503, { error: "store_unavailable" });
        }
        log.info({ event: "approval_webhook", reviewer: reviewer.name, approval_id: id, action, ok: result.ok }, "approval webhook");
        if (result.ok) sendJson(res, 200, { id, status: result.approval.status, reviewer: reviewer.name });
        else sendJson(res, ACT_STATUS[result.error] ?? 409, { error: result.error });
      },
      () => sendJson(res, 413, { error: "body too large" }),
    );
    return true;
  };
}

/** Signs outgoing notifications when the webhook has a signing secret. */
export function webhookSigner(webhook: { signing_secret?: { reveal(): string } }): ((body: string) => Record<string, string>) | undefined {
  const secret = webhook.signing_secret?.reveal();
  return secret ? (body) => signedHeaders(secret, body) : undefined;
}

/** Configured reviewers by name, with their groups. */
export function reviewersByName(config: { approvals: { reviewers: readonly { name: string; groups: readonly string[] }[] } }): Map<string, ReviewerIdentity> {
  return new Map(config.approvals.reviewers.map((r) => [r.name, { name: r.name, groups: [...r.groups] }]));
}
