import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "node:http";
import { agentAuth } from "./agent-auth.js";
import { localSessions, Metrics } from "./admin/index.js";
import { startAdmin } from "./app-admin.js";
import { startApprovals } from "./app-approvals.js";
import { agentView, type ApprovalService } from "./approval/index.js";
import { budgetCutEvents, DecisionLog, LifecycleBus, sessionEndedEvent } from "./audit/index.js";
import type { ClusterRole } from "./cluster/index.js";
import type { Config } from "./config/index.js";
import { DecisionPipeline, StoreSchemaGuard, type DecisionSink, type ProtectedSchema } from "./decision/index.js";
import { createExporters, registerExportMetrics, type Exporters } from "./export/index.js";
import { createHttpGateway, mountAgentApprovals, type HttpGateway } from "./http/index.js";
import { LockGuard, LockService, lockStore, matches, registerIncidentMetrics, type Lock } from "./locks/index.js";
import type { Logger } from "./log.js";
import { packageRoot } from "./paths.js";
import { PolicyStore, startPolicySource, storeOptions } from "./policy/index.js";
import { composeHooks, type Recorder } from "./recording/index.js";
import { heldSecrets, startRecording, storeLogins } from "./app-recording.js";
import { Catalog, initSqlParser, PostgresServer, SessionRegistry, type SessionHooks } from "./postgres/index.js";

export interface App {
  store: PolicyStore;
  /** Every live Postgres session: list them, end one. */
  sessions: SessionRegistry;
  /** Locks: agents, groups, credentials or sessions stopped now (docs/incident-response.md). */
  locks: LockService;
  pipeline: DecisionPipeline;
  /** Decision export (OPA decision-log upload, OCSF): upload state for status and metrics. */
  exporters: Exporters;
  metrics: Metrics;
  /** Human approval of `approve` statements, when approvals.enabled. */
  approvals?: ApprovalService;
  /** Session recordings, when `recording.enabled`. */
  recorder?: Recorder;
  ports: { postgres?: number; http?: number; admin?: number };
  /** Stop accepting, let in-flight work finish within the drain timeout, close everything. */
  close(): Promise<void>;
}

export interface AppOptions {
  config: Config;
  log: Logger;
  /** Extra sinks (tests, recordings). */
  sinks?: DecisionSink[];
  /** Statement lifecycle hooks for the Postgres path (tests, recordings). */
  sessionHooks?: SessionHooks;
  /** One of N worker processes (docs/workers.md); absent: the single process. */
  cluster?: ClusterRole;
}

/** The composition root: the one place where modules meet. */
export async function startApp({ config, log, sinks = [], sessionHooks, cluster }: AppOptions): Promise<App> {
  const metrics = new Metrics();
  const store = new PolicyStore(config.policy.bundle, storeOptions(config.policy, config.decision_log.bundle_name));
  store.on("loaded", (revision, previous, dropped) => {
    metrics.bundleLoaded(revision);
    log.info({ revision, previous }, previous ? "policy bundle reloaded" : "policy bundle loaded");
    // Legitimate (a policy may stop masking its log), but an operator should know: nothing refuses such a bundle.
    if (dropped.includes("system/log/mask")) log.warn({ revision, previous }, "the new policy bundle has no system/log/mask: decision-log lines are no longer masked by policy");
  });
  store.on("rejected", (err) => {
    metrics.errors.inc({ code: err.code });
    log.error({ err, code: err.code, bundle: config.policy.bundle }, "new policy bundle refused; the previous one keeps serving");
  });
  const policySource = await startPolicySource(store, config.policy, {
    onError: (err, where) => {
      metrics.errors.inc({ code: err.code });
      log.error({ err, code: err.code, source: where }, store.active ? "policy bundle refused or unreachable; the previous one keeps serving" : "no policy bundle yet; every decision is denied");
    },
  });
  await initSqlParser();

  const allSinks: DecisionSink[] = [metrics, ...sinks];
  let decisionLog: DecisionLog | undefined;
  if (config.decision_log.enabled) {
    // Decision inputs hold no secrets by construction (agents' credentials and upstream secrets never
    // enter an input), and wildcard redaction costs more than the policy evaluation itself; a secret an
    // agent typed into a statement is replaced by the sink itself.
    // Its own level: the decision log is the audit trail, written whatever log.level quiets (warn, error).
    const decisionLogger = log.child({}, { level: "info", redact: { paths: [] } });
    // Read again as they change on disk (agent token files): a token rotated in is scrubbed too.
    const secrets = () => heldSecrets(config);
    decisionLog = new DecisionLog(decisionLogger, { bundleName: config.decision_log.bundle_name, labels: { app: "regate", ...config.decision_log.labels }, secrets, maxBufferedBytes: config.decision_log.max_buffered_bytes });
    allSinks.unshift(decisionLog);
  }
  // Decision export (docs/export.md): OPA decision-log upload, OCSF events. Closed last, after the listeners drain.
  // Session recordings (docs/recording.md): Postgres hooks, HTTP decisions as a sink, lifecycle events.
  const recording = await startRecording(config, log, metrics.registry, productVersion());
  const recorder = recording?.recorder;
  const exporters = createExporters(config.export, {
    log,
    secrets: () => heldSecrets(config),
    bundle_name: config.decision_log.bundle_name,
    labels: { app: "regate", ...config.decision_log.labels },
    product_version: productVersion(),
    // Each SIEM event of a recorded session names where in the session's hash chain it falls.
    // A Postgres session is recorded under its own id; an HTTP request, in its group's recording.
    ...(recording ? { recordingLink: (id: string) => recording.recorder.link(recording.http.sessionOf(id) ?? id) } : {}),
  });
  // Recording before export: an HTTP request's record exists when its SIEM event links to it.
  if (recording) allSinks.push(...recording.sinks);
  allSinks.push(...exporters.sinks);
  registerExportMetrics(metrics.registry, exporters);
  const pipeline = new DecisionPipeline({
    policy: () => store.active,
    entrypoint: config.policy.entrypoint,
    dryRun: config.policy.dry_run,
    sinks: allSinks,
    // Without a decision log nothing writes the input anywhere: skip the mask evaluation.
    logMask: config.decision_log.enabled || sinks.length > 0 || exporters.sinks.length > 0 || recording !== undefined,
  });

  // Agent tokens given as {file} are re-read when the file changes (agent-auth.ts).
  const { directory, postgres: agents } = agentAuth(config, log.child({ component: "identity" }), cluster);
  const maskKey = config.masking.hash_key ? Buffer.from(config.masking.hash_key.reveal(), "utf8") : undefined;
  const ports: App["ports"] = {};
  const sessions = new SessionRegistry();
  // Lifecycle events (holds, cuts, kills, locks) go where decisions are exported (docs/export.md).
  const lifecycle = new LifecycleBus((err, e) => log.warn({ err, event: e.kind }, "lifecycle event listener failed"));
  lifecycle.listen((e) => exporters.lifecycle(e));
  if (recording) lifecycle.listen(recording.lifecycle);
  const closers: (() => Promise<void>)[] = [];
  // Locks sit in front of the pipeline for every adapter: a locked agent's statements and requests are refused.
  // Memory locks across workers live in the primary, a copy in each worker (cluster/lock-store.ts); a lock
  // stored in the postgres table reaches every worker before the API answers (cluster/shared-lock-store.ts).
  const lockBackend =
    cluster && config.incident.locks.store === "memory"
      ? await cluster.lockStore()
      : cluster
        ? cluster.sharedLockStore(await lockStore(config, log.child({ component: "locks" })))
        : await lockStore(config, log.child({ component: "locks" }));
  const locks = new LockService(lockBackend, log.child({ component: "locks" }));
  // With locks or approvals in the database, no agent statement may reach their tables.
  const stores: ProtectedSchema[] = [
    ...(config.approvals.enabled && config.approvals.store === "postgres" ? [{ schema: config.approvals.schema, holds: "regate's approvals" }] : []),
    ...(config.incident.locks.store === "postgres" ? [{ schema: config.incident.locks.schema, holds: "regate's locks" }] : []),
    // Refused even when the store is a separate database: a schema of that name here is no agent's business either.
    ...(config.recording.enabled && config.recording.postgres.enabled ? [{ schema: config.recording.postgres.schema, holds: "regate's session recordings" }] : []),
  ];
  const decider = new LockGuard(stores.length ? new StoreSchemaGuard(pipeline, stores) : pipeline, locks);
  const incidentMetrics = registerIncidentMetrics(metrics.registry, locks);
  locks.onEnded = ({ sessions: n, requests }) => {
    if (n) incidentMetrics.sessionEnded("lock", n);
    if (requests) incidentMetrics.requestsEnded("lock", requests);
  };

  // Approvals (docs/approvals.md): the hold hook composed with the caller's hooks; the API on the admin listener.
  let hooks: SessionHooks = composeHooks(budgetCutEvents(lifecycle), sessionHooks);
  const approvals = await startApprovals(config, log, lifecycle, () => ports.admin);
  if (approvals) {
    const { hold, ownApprovals } = approvals.hooks();
    hooks = { ...hooks, hold: hold!, ownApprovals: ownApprovals! };
    closers.push(() => approvals.close());
  }

  let catalog: Catalog | undefined;
  let pgServer: PostgresServer | undefined;
  if (config.postgres.enabled) {
    catalog = new Catalog(config.postgres.upstream, log.child({ component: "catalog" }), { maxStalenessMs: config.postgres.catalog.max_staleness_ms });
    const pg = new PostgresServer({
      registry: sessions,
      hooks: recorder ? composeHooks(recorder.hooks, hooks) : hooks,
      config: config.postgres,
      log: log.child({ component: "postgres" }),
      decider,
      catalog,
      agents,
      admit: (principal) => {
        const lock = locks.find(principal);
        return lock ? locks.refusal(lock) : undefined;
      },
      maskKey,
      storeLogins: () => storeLogins(config),
      onSessionCount: (n) => metrics.sessions.set({ protocol: "postgres" }, n),
      ...(cluster ? { cancelKeys: cluster.cancelKeys, agentBudgets: cluster.agentBudgets() } : {}),
    });
    pgServer = pg;
    ports.postgres = (await pg.listen()).port;
    log.info({ host: config.postgres.listen.host, port: ports.postgres }, "postgres listener ready");
    closers.push(() => pg.drain(config.admin.drain_timeout_ms));
  }

  let httpGateway: HttpGateway | undefined;
  if (config.http.enabled) {
    // MCP session records across workers live in the primary, a copy in each worker (cluster/mcp-sessions.ts).
    const mcpSessions = cluster ? await cluster.mcpSessions() : undefined;
    const gateway = createHttpGateway({
      routes: config.http.routes.map((r) => ({
        name: r.name,
        prefix: r.prefix,
        upstream: r.upstream,
        ...(r.host ? { host: r.host } : {}),
        ...(r.ca_file ? { ca: readFileSync(r.ca_file, "utf8") } : {}),
        ...(r.credential ? { credential: { type: r.credential.type, value: r.credential.secret.reveal(), ...(r.credential.header ? { header: r.credential.header } : {}) } } : {}),
        ...(r.response_types ? { response_types: r.response_types } : {}),
        ...(r.mcp ? { mcp: true } : {}),
      })),
      agents: directory,
      decider: recording ? recording.http.decider(decider) : decider,
      ...(approvals ? { approvals } : {}),
      logger: log.child({ component: "http" }),
      limits: config.http.limits,
      request: config.http.request,
      mask_case_sensitive: config.http.mask_case_sensitive,
      mask_field_names: config.http.mask_field_names,
      ...(maskKey ? { mask_hash_key: maskKey } : {}),
      log_secrets: () => heldSecrets(config),
      onRequestDone: (info) => {
        metrics.upstreamSeconds.observe({ route: info.route ?? "none" }, info.duration_ms / 1000);
        if (info.error_code) metrics.errors.inc({ code: info.error_code });
        recording?.http.done(info);
      },
      onConnectionRefused: () => metrics.httpConnectionsRefused.inc(),
      ...(mcpSessions ? { mcp_sessions: mcpSessions } : {}),
    });
    httpGateway = gateway;
    recording?.http.watch(gateway.server);
    const own = approvals;
    if (own) mountAgentApprovals(gateway.server, directory, (principal) => own.own(principal).map(agentView));
    ports.http = await listenHttp(gateway.server, config.http.listen);
    log.info({ host: config.http.listen.host, port: ports.http }, "http listener ready");
    closers.push(() => gateway.close());
  }

  const held = approvals;
  locks.attach({
    sessions: () => sessions.all().map((s) => ({ id: s.info.id, principal: s.info.principal })),
    endSession: (id, reason, lock) => {
      const s = sessions.get(id);
      if (s) sessionEndedEvent(lifecycle, s.info, { lock_id: lock.id, actor: lock.created_by, reason: lock.message, ...(s.current ? { statement: s.current.sql } : {}) });
      return sessions.end(id, reason);
    },
    ...(held ? { withdrawApprovals: (select: (a: { principal: string; session_id: string }) => boolean, by: string) => held.withdraw(select, by) } : {}),
    // Each process (each worker) ends its own exchanges when the lock reaches it.
    endExchanges: (lock) => {
      if (!httpGateway) return { requests: [], connections: 0 };
      const ended = httpGateway.endExchanges((p, requestId) => matches(lock, p, requestId), { answer: lockedAnswer(locks, lock), tag: lock.id });
      for (const x of ended.exchanges) {
        lifecycle.emit({
          kind: "session_locked",
          time: new Date().toISOString(),
          path: "http",
          ...(x.decision_id ? { decision_id: x.decision_id } : {}),
          lock_id: lock.id,
          session_id: x.request_id,
          principal: { subject: x.principal.subject, groups: x.principal.groups },
          ...(x.route ? { target: x.route } : {}),
          client: x.client,
          actor: lock.created_by,
          reason: lock.message,
          subject: x.subject,
        });
      }
      return { requests: ended.exchanges.map((x) => x.request_id), connections: ended.connections };
    },
  });
  closers.push(() => locks.close());

  // The sessions API acts where each session lives: here, or in every worker through the primary.
  const localDirectory = localSessions(sessions, log.child({ component: "incident" }), (session, by, reason, statement) => {
    incidentMetrics.sessionEnded("kill");
    sessionEndedEvent(lifecycle, session, { actor: by, reason, ...(statement ? { statement } : {}) });
  }, cluster?.slot, () => heldSecrets(config));
  cluster?.serve({
    sessions: localDirectory,
    metrics: () => metrics.registry.getMetricsAsJSON(),
    cancel: (pid, key) => pgServer?.cancelLocal(pid, key) ?? Promise.resolve(false),
  });

  // With workers, one of them (worker 0) holds the admin listener and answers for all.
  if (config.admin.enabled && (!cluster || cluster.admin)) {
    const admin = await startAdmin(config, log, { store, locks, metrics, exporters, sessions: cluster ? cluster.sessions : localDirectory, ...(approvals ? { approvals } : {}), ...(recording ? { recording } : {}), ...(cluster ? { cluster } : {}) });
    ports.admin = admin.port;
    closers.push(admin.close);
  }

  recording?.startRetention();

  return {
    store,
    sessions,
    locks,
    pipeline,
    exporters,
    metrics,
    ...(approvals ? { approvals } : {}),
    ...(recorder ? { recorder } : {}),
    ports,
    async close() {
      await Promise.allSettled(closers.map((c) => c()));
      await recording?.close();
      await exporters.close();
      policySource.close();
      catalog?.close();
      decisionLog?.close();
    },
  };
}

/** What an HTTP exchange a new lock ends is answered when its response has not started: the LOCKED refusal. */
function lockedAnswer(locks: LockService, lock: Lock): { error: string; code: "LOCKED"; reason: string; next_step: string } {
  const e = locks.refusal(lock);
  const next = e.detail ?? "";
  return { error: "denied", code: "LOCKED", reason: `regate refused this request: ${e.message.replace(/^regate: /, "")}. Next: ${next}.`, next_step: next };
}

function listenHttp(server: Server, listen: { host: string; port: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : listen.port);
    });
  });
}

function productVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version?: string }).version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}
