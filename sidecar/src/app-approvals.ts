import { ApprovalService, approvalStore, slackNotifier } from "./approval/index.js";
import { slackInteractiveNotifier, webhookSigner } from "./admin/index.js";
import { approvalEvents, type LifecycleBus } from "./audit/index.js";
import { heldSecrets } from "./app-recording.js";
import type { Config } from "./config/index.js";
import type { Logger } from "./log.js";
import { simpleQuery } from "./postgres/simple-query.js";
import { connectUpstream } from "./postgres/upstream.js";

// Human approval of `approve` decisions wired from the config (docs/approvals.md): the store, the reviewers,
// the notifier (a Slack webhook, with buttons when Slack interactivity is configured) and the cap on holds
// inside a transaction block. The caller composes the hooks and mounts the API.

/**
 * `adminPort` is the port the admin listener is bound to once it listens (app.ts starts it after this): with
 * `admin.listen.port: 0` the configured port names no listener, so the default review URL is read when shown.
 */
export async function startApprovals(config: Config, log: Logger, lifecycle: LifecycleBus, adminPort: () => number | undefined = () => undefined): Promise<ApprovalService | undefined> {
  if (!config.approvals.enabled) return undefined;
  const a = config.approvals;
  const { host, port } = config.admin.listen;
  const reviewUrl = a.review_url ?? (() => `http://${host.includes(":") ? `[${host}]` : host}:${adminPort() ?? port}/approvals/ui`);
  const alog = log.child({ component: "approvals" });
  let idle: Promise<number> | undefined;
  // Read (store: postgres) before any listener opens: a replica that cannot read it does not start.
  const shared = await approvalStore(config, alog);
  return new ApprovalService(
    {
      log: alog,
      timeoutSeconds: a.timeout_seconds,
      holdMaxSeconds: a.hold_max_seconds,
      grantSeconds: a.grant_seconds,
      maxPendingPerAgent: a.max_pending_per_agent,
      // Agents never vote, even if a reviewer entry carries an agent's name.
      agents: config.agents.tokens.map((t) => t.subject),
      reviewers: a.reviewers.map((r) => ({ name: r.name, groups: r.groups })),
      idleMarginSeconds: a.idle_margin_seconds,
      reviewUrl,
      // Read once from the upstream (a role or database setting can change it: restart to re-read).
      idleInTransactionMs: () =>
        (idle ??= upstreamIdleInTransactionMs(config).catch((err: unknown) => {
          alog.warn({ err }, "cannot read idle_in_transaction_session_timeout from the upstream; approvals inside a transaction block are not capped");
          idle = undefined;
          return 0;
        })),
      onEvent: approvalEvents(lifecycle),
      secrets: () => heldSecrets(config),
      // With Slack interactivity configured the message carries Approve/Refuse buttons (admin/slack-message.ts).
      ...(a.webhook ? { onRequested: (a.slack ? slackInteractiveNotifier : slackNotifier)(a.webhook.url.reveal(), reviewUrl, alog, webhookSigner(a.webhook)) } : {}),
    },
    shared,
  );
}

/** The upstream's idle_in_transaction_session_timeout in ms, for the cap on approvals inside a block. */
async function upstreamIdleInTransactionMs(config: Config): Promise<number> {
  const conn = await connectUpstream(config.postgres.upstream, { application_name: "regate-approvals" });
  try {
    const [row] = await simpleQuery(conn.socket, "SELECT setting::bigint FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'", conn.leftover);
    return Number(row?.[0] ?? 0);
  } finally {
    conn.socket.destroy();
  }
}
