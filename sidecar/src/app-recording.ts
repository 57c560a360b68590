import { createPublicKey } from "node:crypto";
import type { Registry } from "prom-client";
import { recordingsHandler, type AdminHandler } from "./admin/index.js";
import type { LifecycleListener } from "./audit/index.js";
import type { Config } from "./config/index.js";
import type { DecisionSink } from "./decision/index.js";
import { MaskedSubjects } from "./export/index.js";
import type { Logger } from "./log.js";
import { md5Secret, type StoreLogin } from "./postgres/index.js";
import { applyRetention, catchUp, HttpRecorder, lifecycleRecorder, Recorder, recordingStore, registerRecordingMetrics, signingKey } from "./recording/index.js";

// Session recordings wired from the config (docs/recording.md): the recorder (Postgres hooks, refusal while
// records cannot be written), the HTTP recorder (a sink that sees every HTTP decision with its logged input,
// plus the gateway's onRequestDone), a lifecycle listener, and retention.

export interface Recording {
  recorder: Recorder;
  http: HttpRecorder;
  sinks: DecisionSink[];
  lifecycle: LifecycleListener;
  /** The recordings API and page on the admin listener, for responders and reviewers. */
  adminHandler(log: Logger): AdminHandler;
  /** Starts retention; call once the app is up. */
  startRetention(): void;
  /** Closes the files; waits (bounded) for the fleet store to take what is queued. */
  close(): Promise<void>;
}

/**
 * The secrets regate holds, which neither a decision log, nor a recording, nor an exported event may carry.
 * All of them, not only those an agent is likely to know: an agent that learned one (a leaked collector
 * token, a bundle server's) must not be able to copy it into the audit trail by typing it into a statement.
 */
export function heldSecrets(config: Config): string[] {
  return [
    config.postgres.upstream.password?.reveal(),
    // The md5 hashes pg_authid keeps log in as well as the passwords do (postgres/upstream-secrets.ts).
    ...upstreamHash(config),
    ...config.agents.tokens.map((t) => t.token.reveal()),
    ...config.http.routes.flatMap((r) => credentialTexts(r.credential)),
    ...config.incident.responders.map((r) => r.token.reveal()),
    ...config.approvals.reviewers.map((r) => r.token.reveal()),
    config.recording.postgres.password?.reveal(),
    config.export.decision_logs.token?.reveal(),
    config.export.ocsf.token?.reveal(),
    config.policy.service?.token?.reveal(),
    // node:http sends a URL's userinfo as a basic credential; a query may carry a token (`?token=`, a signature).
    ...urlSecrets(config.policy.service?.url),
    ...urlSecrets(config.export.decision_logs.service_url),
    ...urlSecrets(config.export.ocsf.endpoint),
    // An incoming-webhook URL authorises posting; its path is the secret part (Slack's /services/T…/B…/…).
    ...webhookTexts(config.approvals.webhook?.url.reveal()),
    // An HMAC bundle-signing key is a shared secret (an RSA or EC one is public).
    ...Object.values(config.policy.signing?.keys ?? {}).map((k) => (k.algorithm.startsWith("HS") ? k.key.reveal() : undefined)),
    config.approvals.webhook?.signing_secret?.reveal(),
    config.approvals.slack?.signing_secret.reveal(),
    config.approvals.store_login?.password?.reveal(),
    config.masking.hash_key?.reveal(),
  ].filter((s): s is string => typeof s === "string" && s !== "");
}

/** The md5 hashes pg_authid keeps for the passwords regate logs in with. */
function upstreamHash(config: Config): string[] {
  const { user, password } = config.postgres.upstream;
  return [{ user, password: password?.reveal() }, ...storeLogins(config)].flatMap((r) => (r.password ? [md5Secret(r.user, r.password)] : []));
}

/** The roles regate logs in as besides postgres.upstream's: the approvals and recording stores' (postgres/upstream-secrets.ts). */
export function storeLogins(config: Config): StoreLogin[] {
  const out: StoreLogin[] = [];
  const a = config.approvals.store_login;
  if (a?.password) out.push({ user: a.user, password: a.password.reveal() });
  const r = config.recording.postgres;
  if (r.password) out.push({ user: r.user ?? config.postgres.upstream.user, password: r.password.reveal() });
  return out;
}

/** A route credential as an agent might type it: whole, and a basic credential's password alone (request-done.ts). */
function credentialTexts(c: Config["http"]["routes"][number]["credential"]): string[] {
  if (!c) return [];
  const v = c.secret.reveal();
  return c.type === "basic" && v.includes(":") ? [v, v.slice(v.indexOf(":") + 1)] : [v];
}

/** Query values shorter than this are not taken for secrets: scrubbing `json` or `1` would garble every line. */
const MIN_QUERY_SECRET = 12;

/** The password in a URL's userinfo, decoded as it is sent, and its longer query values. */
function urlSecrets(u: string | undefined): string[] {
  if (!u || !URL.canParse(u)) return [];
  const url = new URL(u);
  const out = [...url.searchParams.values()].filter((v) => v.length >= MIN_QUERY_SECRET);
  if (url.password) {
    try {
      out.push(decodeURIComponent(url.password));
    } catch {
      out.push(url.password);
    }
  }
  return out;
}

function webhookTexts(u: string | undefined): string[] {
  if (!u) return [];
  const path = URL.canParse(u) ? new URL(u).pathname : "";
  return [u, ...(path.length >= MIN_QUERY_SECRET ? [path] : []), ...urlSecrets(u)];
}

export async function startRecording(config: Config, log: Logger, registry: Registry, version: string): Promise<Recording | undefined> {
  const c = config.recording;
  if (!c.enabled) return undefined;
  const storeLog = log.child({ component: "recording-store" });
  const store = await recordingStore(config, storeLog);
  const recorder = new Recorder({
    ...(store ? { store } : {}),
    dir: c.dir,
    log: log.child({ component: "recording" }),
    version,
    // A function: agent tokens and the upstream password follow their files, and a rotated-in one is a secret too.
    secrets: () => heldSecrets(config),
    checkpointRecords: c.checkpoint_records,
    checkpointSeconds: c.checkpoint_seconds,
    rows: c.rows,
    ...(config.masking.hash_key ? { maskKey: Buffer.from(config.masking.hash_key.reveal(), "utf8") } : {}),
    ...(c.signing_key ? { signingKey: signingKey(c.signing_key.reveal()) } : {}),
  });
  registerRecordingMetrics(registry, recorder);
  if (store) {
    const queued = await catchUp(store, c.dir);
    if (queued) storeLog.info({ records: queued, replica: store.opts.replica }, "recording store: copying records the local files hold and the store does not");
  }
  const http = new HttpRecorder(recorder, c.http_idle_seconds);
  // Which decisions had their text or reasons hidden by the log mask: the events that follow them are recorded
  // without them, as they are exported (export/masked-subjects.ts).
  const hidden = new MaskedSubjects();
  let retention: NodeJS.Timeout | undefined;
  return {
    recorder,
    http,
    sinks: [recorder, http, { record: (e) => hidden.note(e) }],
    lifecycle: lifecycleRecorder(recorder, http, hidden),
    adminHandler(adminLog) {
      // Responders investigate; reviewers judge a held statement better with the session that led to it.
      const readers = [...config.incident.responders, ...config.approvals.reviewers].map((p) => ({ name: p.name, token: p.token.reveal() }));
      const key = recorder.opts.signingKey ? createPublicKey(recorder.opts.signingKey) : undefined;
      // An agent's own token never reads recordings (read per request: agent token files follow their files).
      const agentTokens = () => config.agents.tokens.map((t) => t.token.reveal());
      return recordingsHandler(c.dir, readers, adminLog.child({ component: "recording" }), key, () => recorder.head(), agentTokens);
    },
    startRetention() {
      if (c.max_age_seconds <= 0 && c.max_total_bytes <= 0) return;
      const run = () => {
        try {
          const r = applyRetention(recorder, c);
          if (r.deleted.length) log.info({ deleted: r.deleted, kept_bytes: r.kept_bytes }, "recording retention deleted ended sessions' recordings");
          // The store mirrors the directory: the tombstones reach it first, then the files go.
          if (store && r.deleted.length) {
            void store
              .drained()
              .then(async () => {
                for (const d of r.deleted) await store.deleteFile(d.file);
              })
              .catch((err: unknown) => storeLog.error({ err }, "recording store: retention could not delete there"));
          }
        } catch (err) {
          log.error({ err, dir: recorder.dir }, "recording retention failed");
        }
      };
      run();
      retention = setInterval(run, c.retention_interval_seconds * 1000).unref();
    },
    async close() {
      if (retention) clearInterval(retention);
      http.close();
      recorder.close();
      await store?.close();
    },
  };
}
