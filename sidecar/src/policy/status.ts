/**
 * Bundle status in the shape of OPA's status API (`bundles.<name>`): what `/status` serves and
 * `regate status` prints. Times are RFC 3339 strings; absent until the event first happened.
 */
export interface BundleStatus {
  name: string;
  active_revision?: string;
  /** Where the active bundle came from: the file, the bundle server, or the copy persisted from it. */
  source?: "file" | "service" | "persisted";
  last_successful_activation?: string;
  last_successful_download?: string;
  last_successful_request?: string;
  last_request?: string;
  /** Set while the last attempt failed: the catalog code and its message, as OPA's `code`/`message`. */
  code?: string;
  message?: string;
  errors?: string[];
  /** When the last error happened (OPA keeps only the current one; this says how old it is). */
  last_error_time?: string;
  signature?: { keyid: string; issued_at?: number };
  metrics?: { downloads: number; not_modified: number; activations: number; refused: number; download_errors: number };
}

export type PluginState = "NOT_READY" | "OK" | "ERROR" | "WARN";
