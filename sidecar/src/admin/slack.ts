import { createHmac, timingSafeEqual } from "node:crypto";
import type { ActResult, ApprovalService, ReviewerIdentity } from "../approval/index.js";
import type { Config } from "../config/index.js";
import type { Logger } from "../log.js";
import { readBody, sendJson, type AdminHandler } from "./bearer.js";
import { reviewersByName } from "./signed-webhook.js";
import { notShownInSlack, SLACK_APPROVE, SLACK_REFUSE, type SlackButtonValue } from "./slack-message.js";

export { slackApprovalMessage, slackInteractiveNotifier } from "./slack-message.js";

export const SLACK_PATH = "/approvals/slack/interactions";

export interface SlackOptions {
  signingSecret: string;
  /** Slack user id -> the reviewer (name and groups, as in approvals.reviewers) it acts as. */
  users: ReadonlyMap<string, ReviewerIdentity>;
  maxAgeSeconds: number;
  /** Clock in seconds (tests). */
  now?: () => number;
}

/**
 * Slack's interactivity endpoint for approval buttons. Slack signs each request: `v0=` + hex
 * HMAC-SHA256(signing secret, `v0:{X-Slack-Request-Timestamp}:{raw body}`). The signature is checked
 * over the exact bytes, in constant time, and the timestamp must be within max_age_seconds (replays).
 * The clicking user must be mapped to a reviewer; the action then goes through ApprovalService's
 * public API, the approve carrying the digest the message showed. Anything else changes nothing.
 */
export function slackInteractionsHandler(service: ApprovalService, opts: SlackOptions, log: Logger): AdminHandler {
  const now = opts.now ?? (() => Date.now() / 1000);
  return (req, res, url) => {
    if (url !== SLACK_PATH) return false;
    if (req.method !== "POST") return sendJson(res, 405, { error: "method not allowed" }), true;
    readBody(req, 64 * 1024).then(
      async (raw) => {
        const ts = String(req.headers["x-slack-request-timestamp"] ?? "");
        const sig = String(req.headers["x-slack-signature"] ?? "");
        const verdict = verify(opts.signingSecret, ts, sig, raw, now(), opts.maxAgeSeconds);
        if (verdict) {
          log.warn({ event: "slack_interaction_refused", why: verdict }, "Slack interaction refused");
          return sendJson(res, 401, { error: verdict });
        }
        let payload: SlackPayload;
        try {
          payload = JSON.parse(new URLSearchParams(raw.toString("utf8")).get("payload") ?? "") as SlackPayload;
        } catch {
          return sendJson(res, 400, { error: "no JSON payload field" });
        }
        const userId = payload?.user?.id ?? "";
        const reviewer = opts.users.get(userId);
        if (!reviewer) {
          log.warn({ event: "slack_interaction_refused", why: "unknown user", slack_user: userId }, "Slack interaction refused");
          return sendJson(res, 403, { error: `Slack user ${userId} is not a regate reviewer (approvals.slack.users)` });
        }
        const action = payload.actions?.[0];
        let value: SlackButtonValue;
        try {
          value = JSON.parse(action?.value ?? "") as SlackButtonValue;
          if (typeof value.id !== "string" || typeof value.sha256 !== "string") throw new Error("shape");
        } catch {
          return sendJson(res, 400, { error: "the action carries no approval" });
        }
        if (action?.action_id === SLACK_APPROVE) {
          // The message offered no Approve button for this approval; a click that names it anyway (an older
          // message, a crafted payload from a Slack app with the secret) approves nothing it did not show.
          const a = await service.read(value.id).catch(() => undefined);
          const missing = a && notShownInSlack(a);
          if (missing) {
            log.warn({ event: "slack_interaction_refused", why: "not shown in Slack", slack_user: userId, approval_id: value.id }, "Slack interaction refused");
            followUp(payload.response_url, `${value.id}: not approved: ${missing}; approve it in regate`, log);
            return sendJson(res, 409, { ok: false, error: "not_shown_in_slack", next_step: `${missing}; approve it in regate` });
          }
        }
        let pending: Promise<ActResult>;
        if (action?.action_id === SLACK_APPROVE) pending = service.approve(value.id, reviewer, value.sha256, "approved in Slack");
        else if (action?.action_id === SLACK_REFUSE) pending = service.refuse(value.id, reviewer, "refused in Slack");
        else return sendJson(res, 400, { error: "unknown action" });
        let result: ActResult;
        try {
          result = await pending;
        } catch {
          // A shared store (approvals.store: postgres) that cannot be reached: nothing changed; Slack may retry.
          return sendJson(res, 503, { ok: false, error: "store_unavailable" });
        }
        log.info({ event: "slack_interaction", slack_user: userId, reviewer: reviewer.name, approval_id: value.id, action: action.action_id, ok: result.ok }, "Slack interaction");
        const text = result.ok ? `${value.id} ${result.approval.status} by ${reviewer.name}` : `${value.id}: ${result.error.replace(/_/g, " ")}`;
        followUp(payload.response_url, text, log);
        if (result.ok) sendJson(res, 200, { ok: true, id: value.id, status: result.approval.status, reviewer: reviewer.name });
        else sendJson(res, result.error === "not_found" ? 404 : 409, { ok: false, error: result.error });
      },
      () => sendJson(res, 413, { error: "body too large" }),
    );
    return true;
  };
}

interface SlackPayload {
  type?: string;
  user?: { id?: string };
  actions?: { action_id?: string; value?: string }[];
  response_url?: string;
}

/** Why the request is not Slack's, or undefined when it is. */
export function verify(secret: string, ts: string, sig: string, raw: Buffer, nowSeconds: number, maxAge: number): string | undefined {
  if (!/^\d{1,12}$/.test(ts)) return "missing or malformed X-Slack-Request-Timestamp";
  if (Math.abs(nowSeconds - Number(ts)) > maxAge) return "stale X-Slack-Request-Timestamp (replay window)";
  const expected = Buffer.from(`v0=${createHmac("sha256", secret).update(`v0:${ts}:`).update(raw).digest("hex")}`);
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "bad X-Slack-Signature";
  return undefined;
}

/** Replaces the message's buttons with the outcome; only toward Slack's own hooks host. */
function followUp(responseUrl: string | undefined, text: string, log: Logger): void {
  if (!responseUrl?.startsWith("https://hooks.slack.com/")) return;
  fetch(responseUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ replace_original: true, text }), signal: AbortSignal.timeout(5000) }).catch((err: unknown) =>
    log.warn({ err }, "Slack response_url update failed"),
  );
}

/** Slack user id -> the configured reviewer it acts as (load.ts checks every name is a reviewer). */
export function slackReviewers(config: Config): Map<string, ReviewerIdentity> {
  const byName = reviewersByName(config);
  return new Map(Object.entries(config.approvals.slack?.users ?? {}).flatMap(([id, name]) => (byName.has(name) ? [[id, byName.get(name)!] as const] : [])));
}
