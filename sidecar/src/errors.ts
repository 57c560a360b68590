// The one error catalog. Codes are stable: they appear in logs, metrics and client errors.
// docs/errors.md documents every code; errors.test.ts keeps the two in step.

export const ERROR_CODES = {
  CONFIG_INVALID: { sqlstate: "XX000", http: 500, message: "configuration is invalid" },
  BUNDLE_INVALID: { sqlstate: "XX000", http: 500, message: "policy bundle is invalid" },
  BUNDLE_BUILTIN_UNSUPPORTED: { sqlstate: "XX000", http: 500, message: "policy bundle needs a builtin the sidecar cannot provide" },
  BUNDLE_SIGNATURE_INVALID: { sqlstate: "XX000", http: 500, message: "policy bundle signature does not verify" },
  BUNDLE_UNSIGNED: { sqlstate: "XX000", http: 500, message: "policy bundle is unsigned and signing is required" },
  BUNDLE_ROLLBACK: { sqlstate: "XX000", http: 500, message: "policy bundle is older than the active one" },
  BUNDLE_DOWNLOAD_FAILED: { sqlstate: "XX000", http: 500, message: "policy bundle download failed" },
  POLICY_NOT_LOADED: { sqlstate: "42501", http: 503, message: "no policy bundle is loaded" },
  POLICY_EVAL_FAILED: { sqlstate: "42501", http: 403, message: "policy evaluation failed" },
  POLICY_EVAL_TIMEOUT: { sqlstate: "57014", http: 503, message: "policy evaluation ran past its time budget and was stopped" },
  POLICY_EVAL_RESTARTING: { sqlstate: "55000", http: 503, message: "the policy evaluator is restarting after a timeout" },
  POLICY_UNDEFINED: { sqlstate: "42501", http: 403, message: "policy returned no decision" },
  POLICY_RESULT_INVALID: { sqlstate: "42501", http: 403, message: "policy returned a malformed decision" },
  POLICY_DENIED: { sqlstate: "42501", http: 403, message: "denied by policy" },
  APPROVAL_REQUIRED: { sqlstate: "42501", http: 403, message: "approval required" },
  APPROVAL_REFUSED: { sqlstate: "42501", http: 403, message: "a reviewer refused the approval" },
  APPROVAL_EXPIRED: { sqlstate: "57014", http: 504, message: "no reviewer answered before the approval timed out" },
  APPROVAL_WITHDRAWN: { sqlstate: "57014", http: 499, message: "the client withdrew the approval request (cancel or hang-up)" },
  APPROVAL_MISMATCH: { sqlstate: "42501", http: 403, message: "the held statement no longer matches the approved one" },
  APPROVAL_LIMIT: { sqlstate: "54000", http: 429, message: "this agent has too many approvals pending" },
  APPROVAL_PENDING: { sqlstate: "42501", http: 403, message: "approval requested and still pending; re-run the same statement after a reviewer approves" },
  INPUT_TOO_LARGE: { sqlstate: "54000", http: 413, message: "request is larger than the configured cap" },
  MASK_LINEAGE_UNKNOWN: { sqlstate: "42501", http: 403, message: "masked data may reach the result through a path regate cannot follow" },
  PROTOCOL_VIOLATION: { sqlstate: "08P01", http: 400, message: "protocol violation" },
  FEATURE_UNSUPPORTED: { sqlstate: "0A000", http: 400, message: "feature not supported through regate" },
  AUTH_FAILED: { sqlstate: "28P01", http: 401, message: "authentication failed" },
  AUTH_REQUIRED_TLS: { sqlstate: "28000", http: 401, message: "this authentication method needs TLS or a loopback connection" },
  AUTH_THROTTLED: { sqlstate: "53300", http: 429, message: "too many failed logins; attempts are refused for a while" },
  UPSTREAM_UNAVAILABLE: { sqlstate: "08006", http: 502, message: "upstream is unavailable" },
  UPSTREAM_AUTH_FAILED: { sqlstate: "08006", http: 502, message: "upstream rejected regate's credentials" },
  UPSTREAM_TIMEOUT: { sqlstate: "57014", http: 504, message: "upstream timed out" },
  UPSTREAM_SETTING_REFUSED: { sqlstate: "08006", http: 502, message: "upstream session settings are unsafe for policy enforcement" },
  UPSTREAM_RESPONSE_REFUSED: { sqlstate: "08006", http: 502, message: "the upstream's response could not be checked for regate's credential" },
  DECISION_LOG_BACKPRESSURE: { sqlstate: "53400", http: 503, message: "the decision-log collector is not keeping up; refused until it does" },
  RECORDING_UNAVAILABLE: { sqlstate: "58030", http: 503, message: "the session recording cannot be written; refused until it can" },
  BUDGET_EXCEEDED: { sqlstate: "54000", http: 429, message: "the agent's budget is spent" },
  SESSION_ENDED: { sqlstate: "57P01", http: 403, message: "session ended by an operator" },
  LOCKED: { sqlstate: "42501", http: 403, message: "the agent is locked by an operator" },
  SHUTTING_DOWN: { sqlstate: "57P01", http: 503, message: "regate is shutting down" },
  CLUSTER_UNAVAILABLE: { sqlstate: "58000", http: 503, message: "a change other regate workers must know first could not reach them in time; retry" },
  CONNECTION_LIMIT: { sqlstate: "53300", http: 503, message: "regate holds as many connections as it is configured to" },
  INTERNAL: { sqlstate: "XX000", http: 500, message: "internal error" },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RegateError extends Error {
  readonly code: ErrorCode;
  /** Safe to show a client: built only from policy reasons and constant text, never from secrets. */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; detail?: string }) {
    super(message ?? ERROR_CODES[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RegateError";
    this.code = code;
    this.detail = options?.detail;
  }

  get sqlstate(): string {
    return ERROR_CODES[this.code].sqlstate;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }
}

/** opa-wasm and other libraries throw strings and plain objects: make them Errors. */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === "string") return new Error(thrown);
  if (thrown && typeof thrown === "object" && "message" in thrown && typeof thrown.message === "string") {
    return new Error(thrown.message);
  }
  return new Error(String(thrown));
}

/** A client hanging up mid-write is normal traffic, not an incident. */
export function isDisconnect(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "ECONNRESET" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END";
}
