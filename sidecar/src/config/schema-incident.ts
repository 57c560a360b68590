// The incident-response sections of the configuration: human approvals, session recordings and
// decision export (OPA decision-log upload, OCSF for a SIEM). Part of configSchema (schema.ts).
import { secretRef } from "./schema-common.js";

const person = (what: string) =>
  ({
    type: "object",
    additionalProperties: false,
    required: ["name", "token"],
    properties: {
      name: { type: "string", minLength: 1, description: `${what} identity recorded with every action they take.` },
      token: { ...secretRef, description: `Bearer token of this ${what.toLowerCase()} (a secret), at least 16 characters: anything on the host can reach the admin listener and guess a shorter one.` },
    },
  }) as const;

/** Slack interactivity for approvals (docs/approvals.md): buttons in the notification, answered on the admin listener. */
export const slackSchema = {
  type: "object",
  additionalProperties: false,
  required: ["signing_secret", "users"],
  description: "Approve or refuse from Slack buttons: POST /approvals/slack/interactions on the admin listener, signed by Slack.",
  properties: {
    signing_secret: { ...secretRef, description: "The Slack app's signing secret: every interaction's v0 signature is checked with it." },
    users: {
      type: "object",
      minProperties: 1,
      additionalProperties: { type: "string", minLength: 1 },
      description: "Slack user id (e.g. U024BE7LH) -> reviewer name recorded with the decision. Anyone else is refused.",
    },
    max_age_seconds: { type: "integer", minimum: 1, default: 300, description: "Oldest request timestamp accepted (replay window)." },
  },
} as const;

export const approvalsSchema = {
  type: "object",
  default: {},
  additionalProperties: false,
  description: "Human approval of statements the policy marks `approve` (docs/approvals.md). Off: such statements are refused.",
  if: { properties: { enabled: { const: true } }, required: ["enabled"] },
  then: { properties: { reviewers: { minItems: 1 } } },
  properties: {
    enabled: { type: "boolean", default: false, description: "Hold `approve` statements for a reviewer; the admin listener serves the approvals API and page." },
    timeout_seconds: { type: "number", exclusiveMinimum: 0, default: 300, description: "How long a held statement waits when the policy gives no approve.timeout_seconds. Silence is never consent: it then fails with 57014." },
    hold_max_seconds: { type: "number", minimum: 0, default: 45, description: "The longest a client is held waiting for a reviewer (the policy may lower it with approve.hold_max_seconds). Then it is answered APPROVAL_PENDING, the approval stays pending, and an identical re-run after approval runs once." },
    grant_seconds: { type: "number", exclusiveMinimum: 0, default: 600, description: "When the policy gives no approve.grant_seconds: how long an approval given while nobody was held lets one identical re-run through." },
    max_pending_per_agent: { type: "integer", minimum: 1, default: 20, description: "Approvals one agent (principal) may have pending at once; past it a statement or request that needs approval is refused with APPROVAL_LIMIT (54000 / 429) and no approval is created, so one agent cannot flood reviewers." },
    idle_margin_seconds: { type: "number", minimum: 0, default: 5, description: "Inside a transaction block the timeout is capped this far below the upstream's idle_in_transaction_session_timeout." },
    store: { enum: ["memory", "postgres"], default: "memory", description: "memory: approvals and grants of this process only. postgres: a table in the upstream database shared by every replica; a reviewer acting on one replica releases a statement held on another." },
    schema: { type: "string", pattern: "^[a-z_][a-z0-9_]*$", default: "regate", description: "Schema of the approval_requests table (store: postgres); created by regate. Agent statements naming it are refused." },
    resync_seconds: { type: "number", exclusiveMinimum: 0, default: 5, description: "Store postgres: re-read the approvals and end those expired or whose holding replica is gone (abandoned) at least this often, besides NOTIFY." },
    store_login: {
      type: "object",
      additionalProperties: false,
      required: ["user"],
      description: "Store postgres: the role regate uses for the approvals table, instead of postgres.upstream's user and password (same host, port, database and TLS).",
      properties: {
        user: { type: "string", minLength: 1, description: "Role owning (or allowed to write) the approvals table." },
        password: { ...secretRef, description: "That role's password (a secret)." },
      },
    },
    review_url: { type: "string", pattern: "^https?://", description: "Where reviewers act, named in the notice the agent gets and in chat messages (default: the admin listener's /approvals/ui on the port it is bound to, also when admin.listen.port is 0 with workers: 1; with more workers and port 0 it must be set)." },
    reviewers: {
      type: "array",
      default: [],
      description: "People who may approve or refuse, each with a bearer token for the approvals API. Reviewers are not agents.",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "token"],
        properties: {
          name: { type: "string", minLength: 1, description: "Reviewer identity recorded with every decision they make." },
          token: { ...secretRef, description: "Bearer token of this reviewer (a secret), at least 16 characters: anything on the host can reach the admin listener and guess a shorter one." },
          groups: { type: "array", default: [], items: { type: "string", minLength: 1 }, description: "Reviewer groups; when the policy's approve.approvers names groups, only their members may vote." },
        },
      },
    },
    webhook: {
      type: "object",
      additionalProperties: false,
      required: ["url"],
      description: "Slack-style incoming webhook: each new pending approval is POSTed as a JSON message.",
      properties: {
        url: { ...secretRef, description: "Incoming-webhook URL (a secret: it authorises posting)." },
        signing_secret: {
          ...secretRef,
          description:
            "Signs each notification (X-Regate-Timestamp, X-Regate-Signature: v1= HMAC-SHA256 of `v1:{timestamp}:{body}`) and turns on POST /approvals/webhook on the admin listener, where a tool holding the same secret approves or refuses for a named reviewer (docs/approvals.md).",
        },
        max_age_seconds: { type: "integer", minimum: 1, default: 300, description: "Replay window for signed webhook requests." },
      },
    },
    slack: slackSchema,
  },
} as const;

export const recordingSchema = {
  type: "object",
  default: {},
  additionalProperties: false,
  description: "Session recordings: hash-chained JSON lines, one file per session (docs/recording.md).",
  properties: {
    enabled: { type: "boolean", default: false, description: "Record every Postgres session and HTTP request; when a record cannot be written, new statements and requests are refused." },
    dir: { type: "string", minLength: 1, default: "regate-recordings", description: "Directory of the recording files; created when missing." },
    max_age_seconds: { type: "integer", minimum: 0, default: 0, description: "Delete recordings of ended sessions older than this (0: keep)." },
    max_total_bytes: { type: "integer", minimum: 0, default: 0, description: "Delete the oldest ended recordings while the directory holds more than this (0: no limit)." },
    retention_interval_seconds: { type: "integer", minimum: 1, default: 60, description: "How often retention runs." },
    signing_key: { ...secretRef, description: "PEM Ed25519 private key: signs each checkpoint, each closed session's last hash and each retention tombstone in the journal." },
    checkpoint_records: { type: "integer", minimum: 0, default: 100, description: "A checkpoint of a live session (its record count and last hash, signed with signing_key) in the journal every this many records (0: none)." },
    checkpoint_seconds: { type: "integer", minimum: 0, default: 30, description: "A checkpoint of each live session with new records at least this often (0: none)." },
    rows: { type: "integer", minimum: 0, maximum: 1000, default: 0, description: "Keep the first this many rows of each Postgres result in its result record, as the client got them after masking, with every detector applied (0: none)." },
    http_idle_seconds: { type: "integer", minimum: 1, default: 60, description: "An HTTP recording (an agent connection, or an MCP session) ends after this long without a request." },
    postgres: {
      type: "object",
      default: {},
      additionalProperties: false,
      description:
        "Fleet store: every record written to the local files is also copied, off the statement path, into a PostgreSQL table that every replica writes to; `regate recordings pull` fetches any replica's recordings from it (docs/recording.md). Connection fields left out are postgres.upstream's; a separate audit database is better (agents never reach it).",
      properties: {
        enabled: { type: "boolean", default: false, description: "Copy every recording record into the fleet store." },
        replica: { type: "string", pattern: "^(?!\\.{1,2}$)[A-Za-z0-9._-]{1,100}$", description: "This replica's name in the store (default: the host name, a pod's name in Kubernetes); not `.` or `..` (it names a directory when pulled). Two live replicas must not share one." },
        schema: { type: "string", pattern: "^[a-z_][a-z0-9_]*$", default: "regate", description: "Schema of the recording_records table; created by regate when missing." },
        host: { type: "string", description: "Host of the store's database (default: postgres.upstream's)." },
        port: { type: "integer", minimum: 1, maximum: 65535, description: "Its port (default: postgres.upstream's)." },
        database: { type: "string", description: "Its database (default: postgres.upstream's)." },
        user: { type: "string", description: "Role that writes the records (default: postgres.upstream's)." },
        password: { ...secretRef, description: "The store role's password (a secret)." },
        sslmode: { enum: ["disable", "require", "verify-full"], description: "libpq semantics (default: postgres.upstream's)." },
        ca_file: { type: "string", description: "CA bundle for verify-full (default: postgres.upstream's)." },
        queue_max_bytes: { type: "integer", minimum: 1024, default: 67108864, description: "Bytes of records waiting for the store at most (64 MiB: about 130,000 statement records); past it the on_backlog behaviour applies. In memory they take up to about twice this." },
        batch_max_records: { type: "integer", minimum: 1, maximum: 10000, default: 500, description: "Records per INSERT." },
        on_backlog: {
          enum: ["refuse", "drop"],
          default: "refuse",
          description:
            "When the store is down or slower than the traffic and queue_max_bytes of records are waiting. refuse: new statements and requests are refused (58030 RECORDING_UNAVAILABLE) until the queue drains; records of statements already running still join it (up to twice the bound), so none is dropped. drop: statements go on; records that find the queue full are left out of the store (the local files keep them), counted in regate_recording_store_dropped_total.",
        },
      },
    },
  },
} as const;

/** A private CA, and a client certificate with its key (both or neither), read from files. */
const tlsFiles = (description: string) =>
  ({
    type: "object",
    additionalProperties: false,
    description,
    properties: {
      ca_file: { type: "string", description: "PEM CA bundle to verify the server with (default: the system's CAs)." },
      cert_file: { type: "string", description: "PEM client certificate (with key_file)." },
      key_file: { type: "string", description: "PEM private key of the client certificate." },
    },
    dependencies: { cert_file: ["key_file"], key_file: ["cert_file"] },
  }) as const;

export const exportSchema = {
  type: "object",
  default: {},
  additionalProperties: false,
  description: "Decision export beyond the stdout decision log: OPA decision-log upload and OCSF events (docs/export.md).",
  properties: {
    decision_logs: {
      type: "object",
      default: {},
      additionalProperties: false,
      if: { properties: { enabled: { const: true } }, required: ["enabled"] },
      then: { required: ["service_url"] },
      properties: {
        enabled: { type: "boolean", default: false, description: "Upload decision logs as OPA's decision_logs plugin does." },
        service_url: { type: "string", pattern: "^https?://", description: "Base URL of the collector; events are POSTed to it plus `path`." },
        path: { type: "string", pattern: "^/", default: "/logs", description: "Path under service_url events are POSTed to." },
        token: { ...secretRef, description: "Bearer token sent to the collector." },
        min_delay_seconds: { type: "number", exclusiveMinimum: 0, default: 1, description: "Least time between periodic uploads (jittered up to the max)." },
        max_delay_seconds: { type: "number", exclusiveMinimum: 0, default: 5, description: "Most time between periodic uploads; also the cap of the retry backoff." },
        upload_size_limit_bytes: { type: "integer", minimum: 1024, default: 32768, description: "Largest request body before gzip; the buffer is sent in chunks of at most this." },
        buffer_size_limit_events: { type: "integer", minimum: 1, default: 10000, description: "Events held while the collector is down or slow." },
        buffer_size_limit_bytes: {
          type: "integer",
          minimum: 1024,
          default: 67108864,
          description: "Bytes of serialised events held while the collector is down or slow; the buffer is full at whichever limit comes first.",
        },
        buffer_policy: { enum: ["drop_oldest", "block"], default: "drop_oldest", description: "When the buffer is full: drop the oldest event (counted), or refuse new statements (fail closed)." },
        timeout_ms: { type: "integer", minimum: 1, default: 10000, description: "Timeout of one upload request." },
        tls: tlsFiles("TLS towards the collector: a private CA, and a client certificate for mTLS."),
      },
    },
    ocsf: {
      type: "object",
      default: {},
      additionalProperties: false,
      if: { properties: { enabled: { const: true }, sink: { enum: ["https", "splunk_hec"] } }, required: ["enabled", "sink"] },
      then: { required: ["endpoint"] },
      properties: {
        enabled: { type: "boolean", default: false, description: "Emit every decision as an OCSF 1.5 event." },
        sink: { enum: ["stdout", "file", "https", "splunk_hec"], default: "stdout", description: "JSON lines to stdout or a file; batches to an HTTPS endpoint or Splunk's HTTP Event Collector." },
        file: { type: "string", default: "regate-ocsf.jsonl", description: "Path of the JSON-lines file (sink: file); appended to." },
        endpoint: { type: "string", pattern: "^https?://", description: "URL batches are POSTed to (sink: https, splunk_hec: e.g. https://splunk:8088/services/collector/event)." },
        token: { ...secretRef, description: "Bearer token (https) or HEC token (splunk_hec)." },
        splunk: {
          type: "object",
          default: {},
          additionalProperties: false,
          properties: {
            source: { type: "string", default: "regate", description: "HEC `source` of every event." },
            sourcetype: { type: "string", default: "ocsf:regate", description: "HEC `sourcetype` of every event." },
            index: { type: "string", description: "HEC `index`; unset: the token's default index." },
          },
        },
        min_delay_seconds: { type: "number", exclusiveMinimum: 0, default: 1, description: "Sinks https and splunk_hec: least time between batches (jittered up to the max)." },
        max_delay_seconds: { type: "number", exclusiveMinimum: 0, default: 5, description: "Most time between batches; also the cap of the retry backoff." },
        upload_size_limit_bytes: { type: "integer", minimum: 1024, default: 262144, description: "Largest batch body; events are sent in batches of at most this." },
        buffer_size_limit_events: { type: "integer", minimum: 1, default: 10000, description: "Events held while the endpoint is down or slow." },
        buffer_size_limit_bytes: { type: "integer", minimum: 1024, default: 67108864, description: "Bytes of serialised events held while the endpoint is down or slow; the buffer is full at whichever limit comes first." },
        buffer_policy: { enum: ["drop_oldest", "block"], default: "drop_oldest", description: "When the buffer is full: drop the oldest event (counted), or refuse new statements and requests (fail closed)." },
        timeout_ms: { type: "integer", minimum: 1, default: 10000, description: "Timeout of one batch request." },
        tls: tlsFiles("TLS towards the endpoint (https, splunk_hec): a private CA, and a client certificate for mTLS."),
      },
    },
  },
} as const;

/** Stopping an agent now: responders, sessions kill, locks (docs/incident-response.md). */
export const incidentSchema = {
  type: "object",
  default: {},
  additionalProperties: false,
  description: "Incident response on the admin listener: list and kill sessions, lock agents (docs/incident-response.md).",
  properties: {
    responders: {
      type: "array",
      default: [],
      description: "People who may kill sessions and lock agents, each with a bearer token. A separate list from approvals.reviewers: approving a statement and stopping an agent are different powers.",
      items: person("Responder"),
    },
    locks: {
      type: "object",
      default: {},
      additionalProperties: false,
      properties: {
        store: { enum: ["memory", "postgres"], default: "memory", description: "memory: this process only. postgres: a table in the upstream database shared by every replica, changes pushed by NOTIFY." },
        schema: { type: "string", pattern: "^[a-z_][a-z0-9_]*$", default: "regate", description: "Schema of the locks table (store: postgres); created by regate." },
        resync_seconds: { type: "number", exclusiveMinimum: 0, default: 30, description: "Store postgres: re-read every lock at least this often, besides NOTIFY." },
      },
    },
  },
} as const;
