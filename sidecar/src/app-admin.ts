import {
  approvalsHandler,
  createAdminServer,
  locksHandler,
  reviewersByName,
  bearerIdentity,
  sessionsHandler,
  signedWebhookHandler,
  slackInteractionsHandler,
  slackReviewers,
  uploaderPluginStates,
  type Metrics,
  type SessionDirectory,
} from "./admin/index.js";
import { heldSecrets, type Recording } from "./app-recording.js";
import type { ApprovalService } from "./approval/index.js";
import type { ClusterRole } from "./cluster/index.js";
import type { Config } from "./config/index.js";
import type { Exporters } from "./export/index.js";
import type { LockService } from "./locks/index.js";
import type { Logger } from "./log.js";
import type { PolicyStore } from "./policy/index.js";
import { simpleQuery } from "./postgres/simple-query.js";
import { connectUpstream } from "./postgres/upstream.js";

// The admin listener wired from the config (docs/admin.md): sessions and locks for responders, approvals for
// reviewers (and signed webhooks, Slack buttons), recordings, metrics, status and readiness.

export interface AdminParts {
  store: PolicyStore;
  locks: LockService;
  metrics: Metrics;
  exporters: Exporters;
  /** This process's sessions, or every worker's through the primary. */
  sessions: SessionDirectory;
  approvals?: ApprovalService;
  recording?: Recording;
  cluster?: ClusterRole;
}

export async function startAdmin(config: Config, log: Logger, parts: AdminParts): Promise<{ port: number; close(): Promise<void> }> {
  const { store, locks, metrics, exporters, approvals, recording, cluster } = parts;
  const responders = config.incident.responders.map((r) => ({ name: r.name, token: r.token.reveal() }));
  // Read per request: agent token files follow their files (docs/incident-response.md).
  const agentTokens = () => config.agents.tokens.map((t) => t.token.reveal());
  const slack = config.approvals.slack;
  const alog = log.child({ component: "approvals" });
  const admin = createAdminServer({
    handlers: [
      sessionsHandler(parts.sessions, responders, agentTokens, () => heldSecrets(config)),
      locksHandler(locks, responders, agentTokens),
      ...(approvals && config.approvals.webhook?.signing_secret
        ? [signedWebhookHandler(approvals, { signingSecret: config.approvals.webhook.signing_secret.reveal(), reviewers: reviewersByName(config), maxAgeSeconds: config.approvals.webhook.max_age_seconds, slackMessages: slack !== undefined }, alog)]
        : []),
      ...(approvals && slack ? [slackInteractionsHandler(approvals, { signingSecret: slack.signing_secret.reveal(), users: slackReviewers(config), maxAgeSeconds: slack.max_age_seconds }, alog)] : []),
      ...(recording ? [recording.adminHandler(log)] : []),
    ],
    listen: config.admin.listen,
    allowedHosts: config.admin.allowed_hosts,
    reader: bearerIdentity([...responders, ...config.approvals.reviewers.map((r) => ({ name: r.name, token: r.token.reveal() }))], agentTokens),
    metrics,
    ...(cluster ? { metricsText: () => cluster.metricsText() } : {}),
    status: { bundles: () => [store.status()], plugins: () => uploaderPluginStates(exporters.stats()) },
    ...(approvals ? { approvals: approvalsHandler(approvals, config.approvals.reviewers.map((r) => ({ name: r.name, token: r.token.reveal(), groups: r.groups })), agentTokens) } : {}),
    readiness: async () => {
      const problems: string[] = [];
      if (!store.active) problems.push("no policy bundle loaded");
      if (config.postgres.enabled && !(await upstreamAnswers(config))) problems.push("postgres upstream unreachable");
      return problems;
    },
  });
  const port = await admin.listen();
  log.info({ host: config.admin.listen.host, port }, "admin listener ready");
  return { port, close: () => new Promise<void>((r) => admin.server.close(() => r())) };
}

async function upstreamAnswers(config: Config): Promise<boolean> {
  try {
    const conn = await connectUpstream(config.postgres.upstream, { application_name: "regate-readyz" });
    await simpleQuery(conn.socket, "SELECT 1", conn.leftover);
    conn.socket.destroy();
    return true;
  } catch {
    return false;
  }
}
