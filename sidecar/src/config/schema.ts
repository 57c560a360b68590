// The configuration schema: validated once at boot (every error at once, with the path of the bad key),
// defaults filled in, then frozen. docs/config.md is checked against this schema by a test.

import { listen, secretRef } from "./schema-common.js";
import { approvalsSchema, exportSchema, incidentSchema, recordingSchema } from "./schema-incident.js";
import { httpSchema } from "./schema-http.js";

const budgetLimit = (description: string) => ({ type: "integer", minimum: 0, default: 0, description }) as const;
const budgetLimits = {
  rows_per_statement: budgetLimit("Rows one statement may return; a result that crosses it is cut mid-stream, cancelled upstream and answered with SQLSTATE 54000."),
  bytes_per_statement: budgetLimit("DataRow bytes one statement may return (cut as above)."),
  rows_per_session: budgetLimit("Rows one connection may return in all (cut as above); counted per connection (agent_rows_per_hour spans an agent's connections)."),
  bytes_per_session: budgetLimit("DataRow and CopyData bytes one connection may return in all (cut as above); counted per connection (agent_bytes_per_hour spans an agent's connections)."),
  statements_per_minute: budgetLimit("Statements decided per sliding minute on one connection (every statement of a multi-statement Query counts); past it a Query or statement is refused whole with 54000 before it runs."),
  agent_rows_per_hour: budgetLimit("Rows one agent (its subject) may receive per sliding hour across all of its connections, concurrent and successive, on every worker; a result that crosses it is cut as above, and the message says when it refills."),
  agent_bytes_per_hour: budgetLimit("DataRow and CopyData bytes one agent may receive per sliding hour across all of its connections (cut as above)."),
  agent_statements_per_minute: budgetLimit("Statements one agent may have decided per sliding minute across all of its connections; past it a Query or statement is refused whole with 54000 before it runs."),
  rows_changed_per_transaction: budgetLimit("Rows one transaction may insert, update or delete in user tables, as PostgreSQL counts them (pg_stat_xact_user_tables: CTEs, functions, triggers and cascades included); past it an autocommit statement is rolled back, and a transaction block is aborted, with 54000. TRUNCATE is then refused."),
} as const;
const budgetLimitsNoDefaults = Object.fromEntries(Object.entries(budgetLimits).map(([k, v]) => [k, { type: v.type, minimum: v.minimum }]));

export const configSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "regate configuration",
  type: "object",
  additionalProperties: false,
  properties: {
    policy: {
      type: "object",
      default: {},
      additionalProperties: false,
      properties: {
        bundle: { type: "string", default: "build/bundle.tar.gz", description: "Path of the bundle built by `opa build -t wasm` (make bundle)." },
        entrypoint: { type: "string", default: "regate/decision", description: "The decision entrypoint." },
        dry_run: { type: "boolean", default: false, description: "Log the real decision but allow everything." },
        watch_interval_ms: { type: "integer", minimum: 0, default: 1000, description: "Poll the bundle file for changes; 0 disables hot reload." },
        eval_timeout_ms: {
          type: "integer",
          minimum: 0,
          maximum: 600000,
          default: 1000,
          description:
            "Time budget of one policy decision (its evaluation and the log mask's). Above 0, evaluation runs on a worker thread the main thread waits for at most this long; past it the decision is a deny (POLICY_EVAL_TIMEOUT) and a spare worker takes over, so a looping policy holds other sessions for at most about this long. The worker costs two threads with a WASM instance each and about 30-40 us of CPU per evaluated decision on the 2-core build machine; a decision the policy lets be reused costs nothing. 0: evaluate on the main thread, unbudgeted. See docs/reliability.md.",
        },
        service: {
          type: "object",
          additionalProperties: false,
          required: ["url"],
          dependencies: { cert_file: ["key_file"], key_file: ["cert_file"] },
          description: "Download the bundle from an OPA bundle server instead of reading a file; `policy.bundle` is then where the last good bundle is persisted. See docs/bundles.md.",
          properties: {
            url: { type: "string", pattern: "^https?://", description: "Base URL of the bundle server." },
            resource: { type: "string", default: "bundles/bundle.tar.gz", description: "Path of the bundle under the URL (OPA's `resource`)." },
            token: { ...secretRef, description: "Bearer token sent to the bundle server (a secret)." },
            ca_file: { type: "string", description: "CA bundle to verify an https bundle server." },
            cert_file: { type: "string", description: "Client certificate (PEM) presented to the bundle server (mTLS); needs `key_file`." },
            key_file: { type: "string", description: "Private key (PEM) of `cert_file`." },
            min_delay_seconds: { type: "number", exclusiveMinimum: 0, default: 60, description: "Shortest wait between polls (the wait is random between min and max)." },
            max_delay_seconds: { type: "number", exclusiveMinimum: 0, default: 120, description: "Longest wait between polls." },
            long_polling_timeout_seconds: { type: "integer", minimum: 0, default: 0, description: "Ask the server to hold a poll until the bundle changes, up to this long; kept only if the server answers with OPA's bundle content type. 0: off." },
            persist: { type: "boolean", default: true, description: "Write each activated bundle to `policy.bundle`, and start from it when the server is down." },
          },
        },
        signing: {
          type: "object",
          additionalProperties: false,
          description: "Verify `.signatures.json` as OPA does. See docs/bundles.md.",
          properties: {
            required: { type: "boolean", default: true, description: "Refuse a bundle without `.signatures.json`, whatever `keyid` says." },
            keyid: { type: "string", minLength: 1, description: "Key to verify with; unset: the token's `kid` header names it." },
            scope: { type: "string", description: "Expected `scope` claim; unset: the key's scope." },
            exclude_files: { type: "array", items: { type: "string" }, default: [], description: "Bundle files the signature does not cover (never the module, `.manifest` or a `data.json`: such a bundle is refused)." },
            allow_rollback: { type: "boolean", default: false, description: "Accept a signed bundle older than the active one (earlier `iat`, or a revision that was active before)." },
            keys: {
              type: "object",
              default: {},
              description: "Verification keys by key id.",
              additionalProperties: {
                type: "object",
                additionalProperties: false,
                required: ["algorithm", "key"],
                properties: {
                  algorithm: { enum: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"] },
                  key: { ...secretRef, description: "PEM public key (RS/PS/ES) or shared secret (HS)." },
                  scope: { type: "string" },
                },
              },
            },
          },
        },
      },
    },
    decision_log: {
      type: "object",
      default: {},
      additionalProperties: false,
      properties: {
        enabled: { type: "boolean", default: true, description: "Write one line per decision to stdout in OPA's decision-log shape (input masked as the policy's log mask says, regate's secrets withheld)." },
        bundle_name: { type: "string", default: "regate", description: "Name under `bundles` in each event." },
        labels: { type: "object", additionalProperties: { type: "string" }, default: {}, description: "Extra labels on every event." },
        max_buffered_bytes: {
          type: "integer",
          minimum: 0,
          default: 67108864,
          description: "Log bytes that may wait for stdout (nobody reading it, a stuck log shipper) before new statements and requests are refused with DECISION_LOG_BACKPRESSURE until it drains; 0: no bound (memory grows instead).",
        },
      },
    },
    log: {
      type: "object",
      default: {},
      additionalProperties: false,
      properties: { level: { enum: ["fatal", "error", "warn", "info", "debug", "trace"], default: "info", description: "Level of regate's own log lines. The decision log (decision_log.enabled) is written whatever this level is." } },
    },
    agents: {
      type: "object",
      default: {},
      additionalProperties: false,
      description: "Who may use regate. Agents never hold upstream credentials; they hold these.",
      properties: {
        tokens: {
          type: "array",
          default: [],
          description: "Static bearer tokens, one per agent: sent as an HTTP Authorization: Bearer header, or as the password on the Postgres path (SCRAM).",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["subject", "token"],
            properties: {
              subject: { type: "string", pattern: "^[A-Za-z0-9_.@-]{1,63}$", description: "Agent identity; also its Postgres user name." },
              groups: { type: "array", items: { type: "string" }, default: [], description: "Groups of this agent, in input.principal.groups." },
              claims: { type: "object", default: {}, description: "Further facts about this agent for the policy, in input.principal.claims." },
              token: secretRef,
            },
          },
        },
        jwt: {
          type: "object",
          additionalProperties: false,
          description: "Accept JWT bearer tokens (e.g. OIDC-issued) verified against a JWKS.",
          properties: {
            jwks_file: { type: "string", description: "Path of a JWKS file with the keys tokens are signed with (exactly one of jwks_file and jwks_url)." },
            jwks_url: { type: "string", pattern: "^https?://", description: "URL of the issuer's JWKS, fetched and cached (exactly one of jwks_file and jwks_url)." },
            issuer: { type: "string", description: "Required `iss` of every token. Set it, and audience: without them any token the keys signed is accepted, including ones minted for other services." },
            audience: { type: "string", description: "Required `aud` of every token (this regate's own audience)." },
            subject_claim: { type: "string", default: "sub", description: "Claim that names the agent (input.principal.subject); a token without it is refused." },
            groups_claim: { type: "string", default: "groups", description: "Claim holding the agent's groups (input.principal.groups)." },
          },
        },
        failed_logins: {
          type: "object",
          default: {},
          additionalProperties: false,
          description:
            "Failed agent logins (a wrong token, SCRAM proof or JWT) on the Postgres and HTTP listeners, limited so that tokens cannot be guessed by asking fast; past a limit, attempts are refused before any credential is checked (AUTH_THROTTLED: SQLSTATE 53300, HTTP 429 with Retry-After) until it drains (docs/identity.md). With workers, the limits hold for all workers together (the cluster primary counts; docs/workers.md).",
          properties: {
            per_source: {
              type: "integer",
              minimum: 0,
              default: 10,
              description: "Failures per window of one source: a Postgres user name (a configured agent's name counts only against this), or a client address on HTTP, where a bearer names nobody. Past a limit, attempts are refused before any credential is checked (AUTH_THROTTLED: 53300, HTTP 429 with Retry-After), and let in again at the limit's rate (window / per_source: 6 s by default). With workers, the limit holds for all workers together. 0: no throttling (not for a listener other processes reach). See docs/identity.md.",
            },
            overall: { type: "integer", minimum: 1, default: 100, description: "Failures per window of all sources together, except Postgres logins as a configured agent: bounds an attacker who changes names or addresses." },
            window_seconds: { type: "integer", minimum: 1, maximum: 86400, default: 60, description: "The window the limits are counted over." },
          },
        },
      },
    },
    postgres: {
      type: "object",
      default: {},
      additionalProperties: false,
      properties: {
        enabled: { type: "boolean", default: true, description: "Run the PostgreSQL listener." },
        listen: listen(6432, "Where agents connect with the PostgreSQL protocol."),
        target: { type: "string", default: "postgres", description: "Name of this upstream in input.session.target." },
        tls: {
          type: "object",
          additionalProperties: false,
          required: ["cert_file", "key_file"],
          description: "TLS towards agents. Without it, SSLRequest is answered N.",
          properties: { cert_file: { type: "string", description: "PEM certificate chain regate presents to agents." }, key_file: { type: "string", description: "PEM private key of that certificate." } },
        },
        upstream: {
          type: "object",
          default: {},
          additionalProperties: false,
          description: "The real database. Its credentials live here, never with the agent.",
          properties: {
            url: { ...secretRef, description: "postgres:// URL (a secret, it may carry the password); overrides the fields below." },
            host: { type: "string", default: "127.0.0.1", description: "Host of the real database." },
            port: { type: "integer", minimum: 1, maximum: 65535, default: 5432, description: "Its port." },
            database: { type: "string", default: "postgres", description: "Database every session uses; the database an agent names at startup is ignored." },
            user: { type: "string", default: "postgres", description: "Role regate logs in as for every agent (give it only what agents may ever do)." },
            password: secretRef,
            sslmode: { enum: ["disable", "require", "verify-full"], default: "disable", description: "libpq semantics; never downgraded." },
            ca_file: { type: "string", description: "CA bundle for verify-full." },
            connect_timeout_ms: { type: "integer", minimum: 100, default: 10000, description: "How long each step of opening an upstream connection (TCP connect, SSLRequest, TLS handshake) may take; past it the agent's session is refused UPSTREAM_UNAVAILABLE." },
          },
        },
        limits: {
          type: "object",
          default: {},
          additionalProperties: false,
          properties: {
            max_message_bytes: { type: "integer", minimum: 1024, default: 67108864, description: "Largest client message accepted (08P01 beyond)." },
            max_statement_bytes: { type: "integer", minimum: 1024, default: 65536, description: "Largest SQL text analysed; longer is denied. Analysis runs on the main thread: at 1 MiB one statement can stall every session for a second (docs/reliability.md)." },
            upstream_silence_ms: {
              type: "integer",
              minimum: 0,
              default: 30000,
              description: "A statement whose upstream has sent nothing for this long is looked into: a fresh connection asks the server whether the session's backend is still there. No answer, or no such backend, ends the session with 08006; a long query goes on. 0: never.",
            },
            upstream_probe_timeout_ms: { type: "integer", minimum: 100, default: 5000, description: "How long that look may take before the server counts as not answering." },
          },
        },
        budgets: {
          type: "object",
          default: {},
          additionalProperties: false,
          description: "What one agent session, and (agent_*) one agent across all of its connections, may take; 0 = no limit. Current use is in input.budget, so a policy can refuse or ask approval before a limit.",
          properties: {
            ...budgetLimits,
            agents: {
              type: "object",
              default: {},
              description: "Per-agent overrides by subject; keys not given fall back to the limits above.",
              additionalProperties: { type: "object", additionalProperties: false, properties: budgetLimitsNoDefaults },
            },
          },
        },
        catalog: {
          type: "object",
          default: {},
          additionalProperties: false,
          properties: {
            max_staleness_ms: {
              type: "integer",
              minimum: 100,
              maximum: 3600000,
              default: 1000,
              description: "Longest a cached catalog fact (relation, view body, function volatility) is used without being checked against the database. Immediate with `regate catalog-hooks` installed.",
            },
          },
        },
      },
    },
    http: httpSchema,
    workers: {
      oneOf: [{ type: "integer", minimum: 1, maximum: 64 }, { const: "auto" }],
      default: 1,
      description:
        "Worker processes behind the one Postgres, HTTP and admin listener (node:cluster). 1: today's single process. \"auto\": one per core (os.availableParallelism()). Above 1, cancel keys, the sessions API, memory locks and MCP sessions work across workers; refused with approvals.store memory, recording enabled, export.ocsf sink file, and approvals without review_url when admin.listen.port is 0. See docs/workers.md.",
    },
    admin: {
      type: "object",
      default: {},
      additionalProperties: false,
      properties: {
        enabled: { type: "boolean", default: true, description: "Run the admin listener (health, metrics, sessions, locks, approvals API and pages)." },
        listen: listen(9187, "Health, readiness and Prometheus metrics; keep it off the data plane."),
        drain_timeout_ms: { type: "integer", minimum: 0, default: 10000, description: "On SIGTERM, how long in-flight statements may finish." },
        allowed_hosts: {
          type: "array",
          default: [],
          items: { type: "string", pattern: "^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$" },
          description:
            "Host names, besides listen.host, localhost and any IP address, that the admin listener answers to (the name in the Host header, without port). Any other name is refused 421, so a web page whose name is rebound to this address (DNS rebinding) cannot read or act through a browser. Add the names a proxy, Slack or Prometheus reach it by.",
        },
      },
    },
    approvals: approvalsSchema,
    export: exportSchema,
    recording: recordingSchema,
    incident: incidentSchema,
    masking: {
      type: "object",
      default: {},
      additionalProperties: false,
      properties: {
        hash_key: { ...secretRef, description: "Key of the `hash` strategy; stable across restarts and replicas when set." },
      },
    },
  },
} as const;
