// The validated, secret-resolved, frozen configuration. Mirrors schema.ts.

/** A resolved secret. toJSON/inspect never reveal it, so it cannot reach a log line by accident. */
export class Secret {
  readonly #value: string;
  constructor(value: string, readonly source: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return `[secret from ${this.source}]`;
  }
  toString(): string {
    return this.toJSON();
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toJSON();
  }
}

export interface BudgetLimitsConfig {
  rows_per_statement: number;
  bytes_per_statement: number;
  rows_per_session: number;
  bytes_per_session: number;
  statements_per_minute: number;
  agent_rows_per_hour: number;
  agent_bytes_per_hour: number;
  agent_statements_per_minute: number;
  rows_changed_per_transaction: number;
}

export interface Listen {
  host: string;
  port: number;
}

export interface AgentToken {
  subject: string;
  groups: string[];
  claims: Record<string, unknown>;
  token: Secret;
}

export interface UpstreamConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: Secret;
  sslmode: "disable" | "require" | "verify-full";
  ca_file?: string;
  connect_timeout_ms: number;
}

/** recording.postgres: connection fields not given are postgres.upstream's (config/load.ts fills them in). */
export interface RecordingStoreConfig extends Partial<UpstreamConfig> {
  enabled: boolean;
  replica?: string;
  schema: string;
  queue_max_bytes: number;
  batch_max_records: number;
  on_backlog: "refuse" | "drop";
}

export interface HttpRoute {
  name: string;
  prefix: string;
  host?: string;
  upstream: string;
  ca_file?: string;
  response_types?: string[];
  mcp: boolean;
  credential?: { type: "bearer" | "basic" | "header"; header?: string; secret: Secret };
}

export interface Config {
  policy: {
    bundle: string;
    entrypoint: string;
    dry_run: boolean;
    watch_interval_ms: number;
    eval_timeout_ms: number;
    service?: {
      url: string;
      resource: string;
      token?: Secret;
      ca_file?: string;
      cert_file?: string;
      key_file?: string;
      min_delay_seconds: number;
      max_delay_seconds: number;
      long_polling_timeout_seconds: number;
      persist: boolean;
    };
    signing?: {
      required: boolean;
      keyid?: string;
      scope?: string;
      exclude_files: string[];
      allow_rollback: boolean;
      keys: Record<string, { algorithm: "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512" | "HS256" | "HS384" | "HS512"; key: Secret; scope?: string }>;
    };
  };
  decision_log: { enabled: boolean; bundle_name: string; labels: Record<string, string>; max_buffered_bytes: number };
  log: { level: string };
  agents: {
    tokens: AgentToken[];
    jwt?: {
      jwks_file?: string;
      jwks_url?: string;
      issuer?: string;
      audience?: string;
      subject_claim: string;
      groups_claim: string;
    };
    failed_logins: { per_source: number; overall: number; window_seconds: number };
  };
  postgres: {
    enabled: boolean;
    listen: Listen;
    target: string;
    tls?: { cert_file: string; key_file: string };
    upstream: UpstreamConfig;
    limits: { max_message_bytes: number; max_statement_bytes: number; upstream_silence_ms: number; upstream_probe_timeout_ms: number };
    budgets: BudgetLimitsConfig & { agents: Record<string, Partial<BudgetLimitsConfig>> };
    catalog: { max_staleness_ms: number };
  };
  http: {
    enabled: boolean;
    listen: Listen;
    routes: HttpRoute[];
    limits: { max_body_bytes: number; max_input_body_bytes: number; timeout_ms: number; max_connections: number };
    request: { method_override: "decide" | "strip"; ambiguous_paths: "refuse" | "canonical" };
    mask_case_sensitive: boolean;
    mask_field_names: "spelling" | "case" | "exact";
  };
  /** Worker processes (docs/workers.md); resolve "auto" with workerCount(). */
  workers: number | "auto";
  admin: { enabled: boolean; listen: Listen; drain_timeout_ms: number; allowed_hosts: string[] };
  approvals: {
    enabled: boolean;
    timeout_seconds: number;
    hold_max_seconds: number;
    grant_seconds: number;
    max_pending_per_agent: number;
    idle_margin_seconds: number;
    store: "memory" | "postgres";
    schema: string;
    resync_seconds: number;
    store_login?: { user: string; password?: Secret };
    review_url?: string;
    reviewers: { name: string; token: Secret; groups: string[] }[];
    webhook?: { url: Secret; signing_secret?: Secret; max_age_seconds: number };
    slack?: { signing_secret: Secret; users: Record<string, string>; max_age_seconds: number };
  };
  incident: {
    responders: { name: string; token: Secret }[];
    locks: { store: "memory" | "postgres"; schema: string; resync_seconds: number };
  };
  masking: { hash_key?: Secret };
  recording: {
    enabled: boolean;
    dir: string;
    max_age_seconds: number;
    max_total_bytes: number;
    retention_interval_seconds: number;
    checkpoint_records: number;
    checkpoint_seconds: number;
    http_idle_seconds: number;
    rows: number;
    signing_key?: Secret;
    postgres: RecordingStoreConfig;
  };
  export: {
    decision_logs: ExportBatch & { service_url?: string; path: string };
    ocsf: ExportBatch & {
      sink: "stdout" | "file" | "https" | "splunk_hec";
      file: string;
      endpoint?: string;
      splunk: { source: string; sourcetype: string; index?: string };
    };
  };
}

/** The settings every batching exporter shares (config.export.decision_logs, config.export.ocsf). */
interface ExportBatch {
  enabled: boolean;
  token?: Secret;
  min_delay_seconds: number;
  max_delay_seconds: number;
  upload_size_limit_bytes: number;
  buffer_size_limit_events: number;
  buffer_size_limit_bytes: number;
  buffer_policy: "drop_oldest" | "block";
  timeout_ms: number;
  tls?: { ca_file?: string; cert_file?: string; key_file?: string };
}
