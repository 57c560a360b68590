// Maps one decision to an OCSF 1.5 event: Datastore Activity (6005) for Postgres, API Activity (6003) for HTTP.
// Pure: no I/O, no clock. docs/export.md lists every field and where it comes from.

import { loggedReasons, type DecisionEvent, type Outcome } from "../decision/index.js";
import { maskCredentialLiterals, maskCredentialQuery } from "../mask/index.js";

export const OCSF_VERSION = "1.5.0";
export const CATEGORY = { uid: 6, name: "Application Activity" } as const;
export const CLASSES = {
  datastore: { uid: 6005, name: "Datastore Activity" },
  api: { uid: 6003, name: "API Activity" },
} as const;

/** Datastore Activity activity_id, by the statement kind of input.postgres.statements[].kind. */
const DATASTORE_ACTIVITY = {
  select: [4, "Query"], show: [4, "Query"], explain: [4, "Query"], fetch: [4, "Query"], cursor: [4, "Query"],
  insert: [5, "Write"], copy: [5, "Write"], update: [2, "Update"], merge: [2, "Update"],
  delete: [7, "Delete"], truncate: [7, "Delete"], ddl: [6, "Create"],
} as const satisfies Record<string, readonly [number, string]>;
const API_ACTIVITY = { POST: [1, "Create"], GET: [2, "Read"], HEAD: [2, "Read"], PUT: [3, "Update"], PATCH: [3, "Update"], DELETE: [4, "Delete"] } as const;

/** Per outcome: status, security-control action and disposition, severity. */
const OUTCOME = {
  allow: { status_id: 1, status: "Success", action_id: 1, action: "Allowed", disposition_id: 1, disposition: "Allowed", severity_id: 1, severity: "Informational" },
  deny: { status_id: 2, status: "Failure", action_id: 2, action: "Denied", disposition_id: 2, disposition: "Blocked", severity_id: 3, severity: "Medium" },
  approve: { status_id: 99, status: "Held for approval", action_id: 2, action: "Denied", disposition_id: 99, disposition: "Held for approval", severity_id: 2, severity: "Low" },
} as const satisfies Record<Outcome, object>;

/** query_info.query_string is capped; `unmapped.regate.query_truncated` says when it was. */
export const MAX_QUERY_CHARS = 8192;

export interface OcsfOptions {
  product_version: string;
  /** Name of the policy bundle (decision_log.bundle_name). */
  bundle_name: string;
  /** With recordings on: where a session's recording stands (its last record's seq and SHA-256). */
  recordingLink?: (sessionId: string) => { file: string; seq: number; sha256: string } | undefined;
  /**
   * Replaces the secrets regate holds in a text before the event shortens it. The finished line is scrubbed
   * too, but a cap that falls inside a secret leaves a prefix no form of it matches, and an agent that moves
   * the cut one character per statement spells the whole secret into the SIEM.
   */
  scrubText?: (text: string) => string;
}

export type OcsfEvent = Record<string, unknown> & { class_uid: number; metadata: { uid: string } };

interface StatementLike { kind?: string; sql?: string }
interface HttpLike { method?: string; scheme?: string; host?: string; path?: string; query?: string; route?: { name?: string; prefix?: string } }

export function toOcsf(e: DecisionEvent, opts: OcsfOptions): OcsfEvent {
  const d = e.decision;
  const input = e.input;
  // Dry run: the statement went through whatever the policy said. Status, action and disposition say what
  // happened (allowed); severity, message and actor.authorizations say what the policy decided.
  const o = d.dry_run ? { ...OUTCOME.allow, severity_id: OUTCOME[d.outcome].severity_id, severity: OUTCOME[d.outcome].severity } : OUTCOME[d.outcome];
  const principal = input.session?.principal;
  // As the decision log shows them: system.log.mask may have erased or rewritten them there.
  const reasons = loggedReasons(e);
  const time = Date.parse(e.timestamp);
  const policy = { uid: d.revision, name: opts.bundle_name, version: d.revision };
  const common: Record<string, unknown> & { metadata: { uid: string; [k: string]: unknown } } = {
    category_uid: CATEGORY.uid,
    category_name: CATEGORY.name,
    time,
    time_dt: e.timestamp,
    severity_id: o.severity_id,
    severity: o.severity,
    status_id: o.status_id,
    status: o.status,
    action_id: o.action_id,
    action: o.action,
    disposition_id: o.disposition_id,
    disposition: o.disposition,
    message: (d.dry_run ? "dry run, not enforced: " : "") + (reasons.length ? reasons.join("; ") : OUTCOME[d.outcome].action),
    metadata: {
      version: OCSF_VERSION,
      uid: d.decision_id,
      product: { name: "regate", vendor_name: "regate", version: opts.product_version },
      profiles: ["security_control"],
      log_name: "decision",
    },
    policy,
    actor: {
      user: { uid: principal?.subject ?? "", name: principal?.subject ?? "", groups: (principal?.groups ?? []).map((name) => ({ name })) },
      ...(input.session?.application_name ? { app_name: input.session.application_name } : {}),
      authorizations: [{ decision: d.outcome, policy }],
    },
    src_endpoint: { ip: input.session?.client.address, port: input.session?.client.port },
    duration: Math.round(e.metrics.timer_regate_decision_ns / 1e6),
    ...(d.error_code ? { status_code: d.error_code, status_detail: reasons.join("; ") } : {}),
  };
  const regate: Record<string, unknown> = { outcome: d.outcome, session_id: input.session?.id, target: input.session?.target };
  if (d.dry_run) regate["dry_run"] = true;
  if (e.masked.length) regate["masked"] = e.masked;
  if (e.erased.length) regate["erased"] = e.erased;
  if (d.mask.length) regate["mask_rules"] = d.mask.length;
  // The hash link: the session's chain head when the decision was exported. A statement that runs or is held
  // is recorded before its decision is logged, so that is its own record; a refused one's record follows it.
  const link = input.session?.id ? opts.recordingLink?.(input.session.id) : undefined;
  if (link) regate["recording"] = { file: link.file, seq: link.seq, sha256: link.sha256 };

  if (input.kind === "postgres") {
    const pg = (input.postgres ?? {}) as { message?: string; statements?: StatementLike[] };
    const statements = pg.statements ?? [];
    const main = statements.find((s) => s.kind !== "transaction") ?? statements[0];
    const [activity_id, activity_name] = (main?.kind && (DATASTORE_ACTIVITY as Record<string, readonly [number, string]>)[main.kind]) || [99, "Other"];
    // A password an agent set (ALTER ROLE … PASSWORD '…', a connection string) does not go to the SIEM.
    let query = statements.map((s) => maskCredentialLiterals(s.sql ?? "")).join("; ");
    if (query.length > MAX_QUERY_CHARS && opts.scrubText) query = opts.scrubText(query);
    if (query.length > MAX_QUERY_CHARS) {
      query = query.slice(0, MAX_QUERY_CHARS);
      regate["query_truncated"] = true;
    }
    if (pg.message) regate["message"] = pg.message;
    return {
      ...common,
      class_uid: CLASSES.datastore.uid,
      class_name: CLASSES.datastore.name,
      activity_id,
      activity_name,
      type_uid: CLASSES.datastore.uid * 100 + activity_id,
      type_name: `${CLASSES.datastore.name}: ${activity_name}`,
      type_id: 1,
      type: "Database",
      database: { name: input.session?.target ?? "", type_id: 1, type: "Relational" },
      query_info: { query_string: query, uid: d.decision_id },
      unmapped: { regate },
    } as OcsfEvent;
  }

  const http = (input.http ?? {}) as HttpLike;
  const method = http.method ?? "";
  const [activity_id, activity_name] = (API_ACTIVITY as Record<string, readonly [number, string]>)[method] ?? [99, "Other"];
  // The path the agent asked for: the route prefix and the canonical path after it.
  const prefix = (http.route?.prefix ?? "/").replace(/\/$/, "");
  const path = http.path === "/" && prefix ? prefix : prefix + (http.path ?? "");
  const { hostname, port } = splitHost(http.host ?? "");
  return {
    ...common,
    class_uid: CLASSES.api.uid,
    class_name: CLASSES.api.name,
    activity_id,
    activity_name,
    type_uid: CLASSES.api.uid * 100 + activity_id,
    type_name: `${CLASSES.api.name}: ${activity_name}`,
    api: { operation: `${method} ${path}`, service: { name: http.route?.name ?? input.session?.target ?? "" }, request: { uid: d.decision_id } },
    http_request: {
      http_method: method,
      // The agent's own credentials in the query (`?access_token=`, a presigned URL's signature) stay out.
      url: { scheme: http.scheme, hostname, ...(port ? { port } : {}), path, ...(http.query ? { query_string: maskCredentialQuery(http.query) } : {}) },
    },
    unmapped: { regate },
  } as OcsfEvent;
}

/**
 * "host:port" or "[v6]:port" (input.http.host keeps the port) into OCSF's url.hostname and url.port. The Host
 * header is the agent's: a port outside OCSF's port_t (0-65535) is left out rather than sent to a SIEM that
 * would refuse the event (and, with it, the batch).
 */
function splitHost(host: string): { hostname: string; port?: number } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host);
  if (!m) return { hostname: host };
  const port = m[2] ? Number(m[2]) : undefined;
  return port !== undefined && port <= 65535 ? { hostname: m[1]!, port } : { hostname: m[1]! };
}
